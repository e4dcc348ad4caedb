import Foundation
import PromptRepo

/// A split's score, the one definition every place uses (the merge message, the verdict
/// trailers, `log`, `eval`, the notes and the experiment table): the mean of the examples'
/// scores, which is accuracy for label metrics and the mean grade for judge and command
/// metrics (not the fraction that passed their threshold). 0 for no examples.
public func meanScore(_ outcomes: [ExampleOutcome]) -> Double {
    outcomes.isEmpty ? 0 : outcomes.map(\.score.value).reduce(0, +) / Double(outcomes.count)
}

/// Summary statistics of one split's outcomes; the label statistics are filled for label tasks.
public struct SplitStatistics: Sendable, Codable, Equatable {
    public struct ClassStatistics: Sendable, Codable, Equatable {
        public let label: String
        public let support: Int
        public let predicted: Int
        public let recall: Double
        public let precision: Double
    }

    public let total: Int
    public let correct: Int
    /// The split's score (`meanScore`).
    public let score: Double
    public let classes: [ClassStatistics]
    public let balancedAccuracy: Double?
    /// confusion[expected][predicted] = count; `(none)` for outputs with no label.
    public let confusion: [String: [String: Int]]
    /// The accuracy of always answering the most common label of the split.
    public let majorityBaseline: Double?
    public let majorityLabel: String?

    /// - Parameter caseSensitive: compare answers and targets with labels as the scorer does.
    public init(outcomes: [ExampleOutcome], labels: [String], caseSensitive: Bool = false) {
        total = outcomes.count
        correct = outcomes.filter(\.correct).count
        score = meanScore(outcomes)
        guard !labels.isEmpty, !outcomes.isEmpty else {
            classes = []
            balancedAccuracy = nil
            confusion = [:]
            majorityBaseline = nil
            majorityLabel = nil
            return
        }
        let labelSet = LabelSet(labels, caseSensitive: caseSensitive)
        let targets = outcomes.map { labelSet.canonical($0.example.target) ?? $0.example.target }
        let predictions = outcomes.map { labelSet.canonical($0.score.extracted) ?? $0.score.extracted }
        var confusion: [String: [String: Int]] = [:]
        for (target, predicted) in zip(targets, predictions) {
            confusion[target, default: [:]][predicted.isEmpty ? "(none)" : predicted, default: 0] += 1
        }
        self.confusion = confusion
        let classLabels = labels + Set(targets).subtracting(labels).sorted()
        classes = classLabels.map { label in
            let support = targets.filter { $0 == label }.count
            let predicted = predictions.filter { $0 == label }.count
            let hits = zip(targets, predictions).filter { $0 == label && $1 == label }.count
            return ClassStatistics(
                label: label, support: support, predicted: predicted,
                recall: support == 0 ? 0 : Double(hits) / Double(support),
                precision: predicted == 0 ? 0 : Double(hits) / Double(predicted))
        }
        let present = classes.filter { $0.support > 0 }
        balancedAccuracy = present.isEmpty ? nil : present.map(\.recall).reduce(0, +) / Double(present.count)
        let majority = present.max { $0.support < $1.support }
        majorityLabel = majority?.label
        majorityBaseline = majority.map { Double($0.support) / Double(outcomes.count) }
    }
}

/// A set of class labels and how text is matched to them: as the scorers compare (trimmed,
/// spaces collapsed, case folded unless the metric is case-sensitive).
public struct LabelSet: Sendable, Equatable {
    public let labels: [String]
    public let caseSensitive: Bool
    /// Labels by their text with spaces collapsed (and case folded): "A+" and "A" stay apart.
    private let byKey: [String: String]
    /// Labels by their scorer-normalised text (punctuation trimmed), only where that is unambiguous.
    private let byNormalized: [String: String]

    public init(_ labels: [String], caseSensitive: Bool = false) {
        self.labels = labels
        self.caseSensitive = caseSensitive
        byKey = Dictionary(labels.map { (Self.key($0, caseSensitive: caseSensitive), $0) }, uniquingKeysWith: { first, _ in first })
        var normalized: [String: [String]] = [:]
        for label in labels { normalized[Normalize.text(label, caseSensitive: caseSensitive), default: []].append(label) }
        byNormalized = normalized.compactMapValues { $0.count == 1 ? $0[0] : nil }
    }

    static func key(_ text: String, caseSensitive: Bool) -> String {
        let folded = caseSensitive ? text : text.lowercased()
        return folded.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The label `text` names, or nil: the same text up to spaces and case, else the one label
    /// it equals once trimmed of punctuation as the scorers trim (`safety.` is `safety`).
    public func canonical(_ text: String) -> String? {
        byKey[Self.key(text, caseSensitive: caseSensitive)] ?? byNormalized[Normalize.text(text, caseSensitive: caseSensitive)]
    }

    /// The targets as a label set when they form one: 2 to 12 distinct values, each seen at
    /// least twice on average (so per-class statistics mean something); nil otherwise.
    public static func fromTargets(_ targets: [String], caseSensitive: Bool = false) -> [String]? {
        var seen: [String: String] = [:]
        var order: [String] = []
        for target in targets {
            let key = Normalize.text(target, caseSensitive: caseSensitive)
            guard !key.isEmpty else { return nil }
            if seen[key] == nil {
                seen[key] = target.trimmingCharacters(in: .whitespacesAndNewlines)
                order.append(key)
            }
        }
        guard (2...12).contains(order.count), targets.count >= 2 * order.count else { return nil }
        return order.map { seen[$0]! }
    }
}

extension MetricSettings {
    /// The classes per-class statistics and the prevalence audit look at: the label set of a
    /// `choice` metric; for `exact`, `contains` and `regex` the targets when they form a small
    /// label set (`LabelSet.fromTargets`); none for the graded and numeric metrics.
    public func classLabels(targets: [String]) -> [String] {
        switch kind {
        case .choice: return labels
        case .exact, .contains, .regex: return labels.isEmpty ? LabelSet.fromTargets(targets, caseSensitive: caseSensitive) ?? [] : labels
        case .number, .judge, .command, .evaluators: return []
        }
    }

    /// Per-class statistics of outcomes as this metric sees classes.
    public func statistics(_ outcomes: [ExampleOutcome]) -> SplitStatistics {
        SplitStatistics(outcomes: outcomes, labels: classLabels(targets: outcomes.map(\.example.target)), caseSensitive: caseSensitive)
    }
}
