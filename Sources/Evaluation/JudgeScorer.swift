import Foundation
import LLM
import PromptRepo

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
