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

    public init(outcomes: [ExampleOutcome], labels: [String]) {
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
        var confusion: [String: [String: Int]] = [:]
        for outcome in outcomes {
            let predicted = outcome.score.extracted.isEmpty ? "(none)" : outcome.score.extracted
            confusion[outcome.example.target, default: [:]][predicted, default: 0] += 1
        }
        self.confusion = confusion
        let classLabels = labels + Set(outcomes.map(\.example.target)).subtracting(labels).sorted()
        classes = classLabels.map { label in
            let support = outcomes.filter { $0.example.target == label }.count
            let predicted = outcomes.filter { $0.score.extracted == label }.count
            let hits = outcomes.filter { $0.example.target == label && $0.score.extracted == label }.count
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
