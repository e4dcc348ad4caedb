import Foundation
import LLM
import PromptRepo

/// A scored output: the answer as the metric read it, whether it counts as correct, and a score
/// in 0...1.
public struct Score: Sendable, Equatable {
    public var extracted: String
    public var correct: Bool
    public var value: Double

    public init(extracted: String, correct: Bool, value: Double) {
        self.extracted = extracted
        self.correct = correct
        self.value = value
    }
}

/// Turns a model output into a score against the example's target.
public protocol Scorer: Sendable {
    func score(output: String, example: Example) async throws -> Score
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

/// An LLM critic with a rubric, binary or 0–100 as in the "Flawed Metaphor" paper.
public struct JudgeScorer: Scorer {
    public let client: LLMClient
    public let rubric: String
    public let scale: MetricSettings.JudgeScale
    public let passThreshold: Double
    public let temperature: Double

    public init(client: LLMClient, rubric: String, scale: MetricSettings.JudgeScale, passThreshold: Double, temperature: Double = 0) {
        self.client = client
        self.rubric = rubric
        self.scale = scale
        self.passThreshold = passThreshold
        self.temperature = temperature
    }

    public func score(output: String, example: Example) async throws -> Score {
        let instruction = scale == .binary
            ? "Reply with one line: `Score: 1` if the response meets the rubric, `Score: 0` if it does not."
            : "Reply with one line: `Score: N` where N is an integer from 0 (fails the rubric) to 100 (fully meets it)."
        let inputs = example.fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "\n")
        let prompt = """
            You are grading a response against a rubric.

            Rubric:
            \(rubric)

            Input:
            \(inputs)

            Reference answer:
            \(example.target)

            Response:
            \(output)

            \(instruction)
            """
        let response = try await client.complete(ChatRequest(messages: [ChatMessage(.user, prompt)], temperature: temperature, maxTokens: 200))
        let value = Self.parse(response.text, scale: scale)
        return Score(extracted: response.text.trimmingCharacters(in: .whitespacesAndNewlines), correct: value >= passThreshold, value: value)
    }

    /// The critic's score in 0...1, read from an explicit score only: `Score: N` (also `N/100`
    /// on the 0-100 scale); on the binary scale, failing that, a verdict word (`pass`, `meets`,
    /// `yes` against `fail`, `does not pass`, `no`), with negation read as such. Counts such as
    /// "fails 2 of 3 criteria" are never taken for a score. An unreadable answer counts as 0.
    static func parse(_ text: String, scale: MetricSettings.JudgeScale) -> Double {
        let lower = text.lowercased()
        let explicit = try! NSRegularExpression(pattern: #"(?:\bscore|<score>)\s*(?:is|of)?\s*[:=]?\s*\**\s*(\d+(?:\.\d+)?)\s*(/\s*(\d+))?"#)
        let range = NSRange(lower.startIndex..., in: lower)
        if let match = explicit.matches(in: lower, range: range).last, let found = Range(match.range(at: 1), in: lower),
           let number = Double(lower[found]) {
            var value = number
            if let outOf = Range(match.range(at: 3), in: lower), let denominator = Double(lower[outOf]), denominator > 0 {
                value = number / denominator
                return scale == .binary ? (value >= 0.5 ? 1 : 0) : min(max(value, 0), 1)
            }
            return scale == .binary ? (value >= 1 ? 1 : 0) : min(max(value / 100, 0), 1)
        }
        // A reply that is only a number ("1", "85", "0.8") is an explicit score too.
        if let bare = lower.firstMatch(of: /^\W*(\d+(?:\.\d+)?)\W*$/), let number = Double(bare.1) {
            return scale == .binary ? (number >= 0.5 ? 1 : 0) : min(max(number / 100, 0), 1)
        }
        if scale == .percent {
            let outOfHundred = try! NSRegularExpression(pattern: #"(\d+(?:\.\d+)?)\s*(?:/|out of)\s*100\b"#)
            if let match = outOfHundred.matches(in: lower, range: range).last, let found = Range(match.range(at: 1), in: lower),
               let number = Double(lower[found]) {
                return min(max(number / 100, 0), 1)
            }
            return 0
        }
        return verdictWord(lower) ?? 0
    }

    /// 1 for a positive verdict, 0 for a negative one, nil when the text gives none. The first
    /// verdict word decides ("Pass. No criterion failed." passes); a negation before a positive
    /// word ("does not pass", "doesn't meet", "not acceptable") reads negative.
    static func verdictWord(_ lower: String) -> Double? {
        let negated = #"(?:\bnot|n't|\bnever|\bno longer|\bfails? to)\s+(?:\w+\s+){0,2}?(?:pass(?:es)?|meets?|satisf(?:y|ies)|acceptable|correct)\b"#
        let negative = #"^\W*no\b|\b(?:fail(?:s|ed)?|incorrect|unacceptable|reject(?:ed)?)\b"#
        let positive = #"^\W*yes\b|\b(?:pass(?:es|ed)?|meets?|correct|acceptable|satisf(?:y|ies))\b"#
        let first = [(negated, 0.0), (negative, 0.0), (positive, 1.0)]
            .compactMap { pattern, value in lower.range(of: pattern, options: .regularExpression).map { ($0.lowerBound, value) } }
            .min { $0.0 < $1.0 }
        return first?.1
    }
}

/// An external scorer program: one JSON line in per row (`id`, `output`, `expected`, `fields`),
/// one line out per row, in order, with a score in 0...1 (a number, or JSON with `score`,
/// optionally `correct`, and optionally the row's `id`, which is then checked). One process serves every row of the scorer (`MetricCommand`); a
/// program that answers one row and exits is started again for the next.
public struct CommandScorer: Scorer {
    public let command: [String]
    public let workingDirectory: URL
    public let passThreshold: Double
    private let session: MetricCommand

    /// - Parameter probeSeconds: how long a fresh process may take over its first row before its
    ///   stdin is closed (a program that reads to the end of its input).
    public init(command: [String], workingDirectory: URL, passThreshold: Double, probeSeconds: Double = 10) {
        self.command = command
        self.workingDirectory = workingDirectory
        self.passThreshold = passThreshold
        session = MetricCommand(command: command, workingDirectory: workingDirectory, probeSeconds: probeSeconds)
    }

    public func score(output: String, example: Example) async throws -> Score {
        struct Line: Encodable { let id: String; let output: String; let expected: String; let fields: [String: String] }
        let input = try JSONEncoder().encode(Line(id: example.id, output: output, expected: example.target, fields: example.fields))
        let answer = try await session.answer(id: example.id, line: input).trimmingCharacters(in: .whitespacesAndNewlines)
        if let value = Double(answer) {
            return Score(extracted: output, correct: value >= passThreshold, value: value)
        }
        struct Answer: Decodable { let score: Double; let correct: Bool?; let id: String? }
        guard let parsed = try? JSONDecoder().decode(Answer.self, from: Data(answer.utf8)) else {
            throw EvaluationError.scorer(
                "metric command printed '\(answer.prefix(80))' for row \(example.id); expected a number or {\"score\": x} on one line per row "
                    + "(write logs to stderr)")
        }
        // An answer that names its row must name this one: a stray stdout line would otherwise
        // shift every later score onto the wrong row.
        if let id = parsed.id, id != example.id {
            throw EvaluationError.scorer("metric command answered row \(id) where row \(example.id) was expected; print one line per row, in order")
        }
        return Score(extracted: output, correct: parsed.correct ?? (parsed.score >= passThreshold), value: parsed.score)
    }
}
