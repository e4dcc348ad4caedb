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

/// The output contains the target.
public struct ContainsScorer: Scorer {
    public let caseSensitive: Bool
    public init(caseSensitive: Bool) { self.caseSensitive = caseSensitive }

    public func score(output: String, example: Example) async throws -> Score {
        let found = caseSensitive ? output.contains(example.target) : output.lowercased().contains(example.target.lowercased())
        return Score(extracted: found ? example.target : "", correct: found, value: found ? 1 : 0)
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

    /// The critic's score in 0...1; an unreadable answer counts as 0.
    static func parse(_ text: String, scale: MetricSettings.JudgeScale) -> Double {
        let pattern = try! NSRegularExpression(pattern: #"(?:score|<score>)\s*[:=]?\s*(\d+(?:\.\d+)?)"#, options: [.caseInsensitive])
        let range = NSRange(text.startIndex..., in: text)
        var number: Double?
        if let match = pattern.matches(in: text, range: range).last, let found = Range(match.range(at: 1), in: text) {
            number = Double(text[found])
        } else {
            number = NumberScorer.lastNumber(text)
        }
        guard let number else {
            let lower = text.lowercased()
            if scale == .binary, lower.contains("yes") || lower.contains("pass") { return 1 }
            return 0
        }
        return scale == .binary ? (number >= 1 ? 1 : 0) : min(max(number / 100, 0), 1)
    }
}

/// An external scorer program: one JSON line in (`id`, `output`, `expected`, `fields`), one line
/// out with a score in 0...1 (a number, or JSON with `score` and optionally `correct`).
public struct CommandScorer: Scorer {
    public let command: [String]
    public let workingDirectory: URL
    public let passThreshold: Double

    public init(command: [String], workingDirectory: URL, passThreshold: Double) {
        self.command = command
        self.workingDirectory = workingDirectory
        self.passThreshold = passThreshold
    }

    public func score(output: String, example: Example) async throws -> Score {
        struct Line: Encodable { let id: String; let output: String; let expected: String; let fields: [String: String] }
        let input = try JSONEncoder().encode(Line(id: example.id, output: output, expected: example.target, fields: example.fields))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.currentDirectoryURL = workingDirectory
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        do { try process.run() } catch {
            throw EvaluationError.scorer("metric command \(command.joined(separator: " ")) could not start: \(error)")
        }
        stdin.fileHandleForWriting.write(input + Data("\n".utf8))
        try? stdin.fileHandleForWriting.close()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let raw = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            // The last line of a traceback says what went wrong; keep the error to one line.
            let message = raw.split(whereSeparator: \.isNewline).last.map { String($0.prefix(200)) } ?? ""
            throw EvaluationError.scorer("metric command \(command.joined(separator: " ")) exited \(process.terminationStatus): \(message)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let lastLine = text.split(separator: "\n").last.map(String.init) ?? ""
        if let value = Double(lastLine) {
            return Score(extracted: output, correct: value >= passThreshold, value: value)
        }
        struct Answer: Decodable { let score: Double; let correct: Bool? }
        guard let answer = try? JSONDecoder().decode(Answer.self, from: Data(lastLine.utf8)) else {
            throw EvaluationError.scorer("metric command printed '\(lastLine.prefix(80))'; expected a number or {\"score\": x}")
        }
        return Score(extracted: output, correct: answer.correct ?? (answer.score >= passThreshold), value: answer.score)
    }
}
