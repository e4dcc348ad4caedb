import Foundation
import PromptRepo

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
