import Foundation
import LLM
import PromptRepo

/// A scored output: the answer as the metric read it, whether it counts as correct, and a score
/// in 0...1.
public struct Score: Sendable, Equatable {
    public var extracted: String
    public var correct: Bool
    public var value: Double
    /// For a `.prompt.yml` file's evaluators: each one's result (empty for other metrics).
    public var evaluatorResults: [EvaluatorResult]

    public init(extracted: String, correct: Bool, value: Double, evaluatorResults: [EvaluatorResult] = []) {
        self.extracted = extracted
        self.correct = correct
        self.value = value
        self.evaluatorResults = evaluatorResults
    }
}

/// Turns a model output into a score against the example's target.
public protocol Scorer: Sendable {
    func score(output: String, example: Example) async throws -> Score
    /// The label an answer gives, for per-class statistics and the audit when results are read
    /// back from a note (which keeps the raw answer); the answer itself unless the metric extracts.
    func label(of output: String) -> String
}

extension Scorer {
    public func label(of output: String) -> String { output }
}

/// Text normalisation shared by the metrics: case folding, trimmed punctuation and collapsed spaces.
enum Normalize {
    static func text(_ value: String, caseSensitive: Bool = false) -> String {
        let folded = caseSensitive ? value : value.lowercased()
        let trimmed = folded.trimmingCharacters(in: .whitespacesAndNewlines.union(.punctuationCharacters).union(.symbols))
        return trimmed.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

public struct ExactScorer: Scorer {
    public let caseSensitive: Bool
    public init(caseSensitive: Bool = false) { self.caseSensitive = caseSensitive }

    public func score(output: String, example: Example) async throws -> Score {
        let answer = Normalize.text(output, caseSensitive: caseSensitive)
        let correct = answer == Normalize.text(example.target, caseSensitive: caseSensitive)
        return Score(extracted: answer, correct: correct, value: correct ? 1 : 0)
    }
}

/// A label from a fixed set, read robustly from free text: an explicit `Answer: X` (or
/// `Label:`, `Category:`, `Queue:`, `Final answer:`) wins; otherwise the label mentioned last.
public struct ChoiceScorer: Scorer {
    public let labels: [String]
    public let caseSensitive: Bool
    /// Compiled once: building the two expressions for every answer was 80% of `eval`'s CPU.
    private let explicitAnswer: NSRegularExpression?
    private let anyLabel: NSRegularExpression?

    public init(labels: [String], caseSensitive: Bool = false) {
        self.labels = labels
        self.caseSensitive = caseSensitive
        let options: NSRegularExpression.Options = caseSensitive ? [] : [.caseInsensitive]
        let alternatives = labels.sorted { $0.count > $1.count }.map(NSRegularExpression.escapedPattern(for:)).joined(separator: "|")
        let boundary = #"(?<![\p{L}\p{N}_])(\#(alternatives))(?![\p{L}\p{N}_])"#
        let explicit = #"(?:final answer|answer|label|category|class|queue)\s*(?:is)?\s*[:=\-–]?\s*[*"'`\[(]*"#
        explicitAnswer = labels.isEmpty ? nil : try? NSRegularExpression(pattern: explicit + boundary, options: options)
        anyLabel = labels.isEmpty ? nil : try? NSRegularExpression(pattern: boundary, options: options)
    }

    public func label(of output: String) -> String { extract(output) ?? "" }

    public func extract(_ output: String) -> String? {
        let text = caseSensitive ? output : output.lowercased()
        let range = NSRange(text.startIndex..., in: text)
        for regex in [explicitAnswer, anyLabel].compactMap({ $0 }) {
            if let last = regex.matches(in: text, range: range).last, let found = Range(last.range(at: 1), in: text) {
                return canonical(String(text[found]))
            }
        }
        return nil
    }

    /// Every label the output names anywhere (as whole words), once each, in the order first named.
    public func mentionedLabels(_ output: String) -> [String] {
        guard let anyLabel else { return [] }
        let text = caseSensitive ? output : output.lowercased()
        var named: [String] = []
        for match in anyLabel.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let found = Range(match.range(at: 1), in: text) else { continue }
            let label = canonical(String(text[found]))
            if !named.contains(label) { named.append(label) }
        }
        return named
    }

    private func canonical(_ found: String) -> String {
        labels.first { caseSensitive ? $0 == found : $0.lowercased() == found.lowercased() } ?? found
    }

    public func score(output: String, example: Example) async throws -> Score {
        let answer = extract(output) ?? ""
        let correct = caseSensitive ? answer == example.target : answer.lowercased() == example.target.lowercased()
        return Score(extracted: answer, correct: correct, value: correct ? 1 : 0)
    }
}

/// The last number in the output, compared with the target within a tolerance.
public struct NumberScorer: Scorer {
    public let tolerance: Double
    public init(tolerance: Double) { self.tolerance = tolerance }

    static let number = try! NSRegularExpression(pattern: #"-?\d[\d,]*(?:\.\d+)?|-?\.\d+"#)

    public static func lastNumber(_ text: String) -> Double? {
        let range = NSRange(text.startIndex..., in: text)
        guard let match = number.matches(in: text, range: range).last, let found = Range(match.range, in: text) else { return nil }
        return Double(text[found].replacingOccurrences(of: ",", with: ""))
    }

    public func score(output: String, example: Example) async throws -> Score {
        guard let expected = Self.lastNumber(example.target) else {
            throw EvaluationError.scorer("\(example.source): target '\(example.target)' is not a number; metric 'number' needs numeric targets")
        }
        guard let value = Self.lastNumber(output) else { return Score(extracted: "", correct: false, value: 0) }
        let correct = abs(value - expected) <= tolerance
        return Score(extracted: String(value), correct: correct, value: correct ? 1 : 0)
    }
}

/// The output matches a pattern in which `{{target}}` stands for the escaped target.
public struct RegexScorer: Scorer {
    public let pattern: String
    public let caseSensitive: Bool
    public init(pattern: String, caseSensitive: Bool) {
        self.pattern = pattern
        self.caseSensitive = caseSensitive
    }

    public func score(output: String, example: Example) async throws -> Score {
        let filled = pattern.replacingOccurrences(of: "{{target}}", with: NSRegularExpression.escapedPattern(for: example.target))
        guard let regex = try? NSRegularExpression(pattern: filled, options: caseSensitive ? [] : [.caseInsensitive]) else {
            throw EvaluationError.scorer("metric pattern '\(filled)' is not a valid regular expression")
        }
        let range = NSRange(output.startIndex..., in: output)
        let match = regex.firstMatch(in: output, range: range)
        let extracted = match.flatMap { Range($0.range, in: output) }.map { String(output[$0]) } ?? ""
        return Score(extracted: extracted, correct: match != nil, value: match != nil ? 1 : 0)
    }
}

/// The output contains the target. With a label set (grad.toml `labels`), an answer that also
/// names another label is not right: listing every label would otherwise always score. Labels are
/// found as whole words by the choice scorer's expression, compiled once.
public struct ContainsScorer: Scorer {
    public let caseSensitive: Bool
    public let labels: [String]
    private let labelFinder: ChoiceScorer?

    public init(caseSensitive: Bool, labels: [String] = []) {
        self.caseSensitive = caseSensitive
        self.labels = labels
        labelFinder = labels.isEmpty ? nil : ChoiceScorer(labels: labels, caseSensitive: caseSensitive)
    }

    public func score(output: String, example: Example) async throws -> Score {
        guard let labelFinder else {
            let found = caseSensitive ? output.contains(example.target) : output.lowercased().contains(example.target.lowercased())
            return Score(extracted: found ? example.target : "", correct: found, value: found ? 1 : 0)
        }
        let isTarget = { (label: String) in caseSensitive ? label == example.target : label.lowercased() == example.target.lowercased() }
        let named = labelFinder.mentionedLabels(output)
        // A target outside the label set is looked for on its own, as a whole word.
        let found = labels.contains(where: isTarget)
            ? named.contains(where: isTarget)
            : ChoiceScorer(labels: [example.target], caseSensitive: caseSensitive).extract(output) != nil
        let correct = found && named.allSatisfy(isTarget)
        // The one label the answer names is its prediction, for per-class statistics.
        let extracted = named.count == 1 ? named[0] : (found && named.isEmpty ? example.target : "")
        return Score(extracted: extracted, correct: correct, value: correct ? 1 : 0)
    }
}
