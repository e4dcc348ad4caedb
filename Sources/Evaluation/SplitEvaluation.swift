import Foundation
import PromptRepo

extension PromptRepository {
    /// Records a split's outcomes in the commit's evaluation note, keeping the other splits when
    /// the note was made with the same prompt and model. `git grad eval` and the optimizer both
    /// write notes through this, so the score in a note has one definition (`meanScore`).
    @discardableResult
    public func recordEvaluation(
        _ outcomes: [ExampleOutcome], split: String, total: Int, complete: Bool = true, verdict: String? = nil,
        of commit: ObjectID, config: GradConfig
    ) throws -> EvaluationNote {
        var note = EvaluationNote.recording(
            .init(split: split, score: meanScore(outcomes), correct: outcomes.filter(\.correct).count, total: total, complete: complete,
                  examples: outcomes.map(\.noteResult)),
            in: try evaluationNote(commit), promptBlob: try promptBlob(config.task.prompt, at: commit)?.hex ?? "",
            model: .init(config.model), metric: config.metric.kind.rawValue)
        if let verdict { note.verdict = verdict }
        try writeEvaluationNote(note, on: commit)
        return note
    }
}

/// `git grad eval`'s work: a prompt version evaluated on a split, scored, and recorded in the
/// version's note.
public struct SplitEvaluation {
    public let commit: ObjectID
    public let split: Split
    public let config: GradConfig
    public let version: PromptVersion
    public let examples: [Example]

    /// Reads and checks the prompt and the split's data before any model starts, so bad input
    /// fails here with its one line.
    public init(_ repository: PromptRepository, at commit: ObjectID, config: GradConfig, split: Split) throws {
        self.commit = commit
        self.split = split
        self.config = config
        version = try PromptVersion(repository, at: commit, config: config)
        examples = try version.examples(split, in: repository)
    }

    /// Evaluates every example, records the outcomes in the commit's note (`recordEvaluation`)
    /// and returns the statistics eval prints.
    public func run(
        in repository: PromptRepository, runtime: ModelRuntime, progress: @escaping @Sendable (ExampleOutcome) -> Void = { _ in }
    ) async throws -> SplitStatistics {
        let evaluator = runtime.evaluator(for: config, root: repository.root)
        let outcomes = try await evaluator.evaluate(prompt: version.prompt, examples: examples, progress: progress)
        try repository.recordEvaluation(outcomes, split: split.rawValue, total: examples.count, of: commit, config: config)
        return config.metric.statistics(outcomes)
    }
}
