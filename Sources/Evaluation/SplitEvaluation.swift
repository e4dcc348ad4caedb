import Foundation
import PromptRepo

extension EvaluationNote.SplitResult {
    /// A split's outcomes as a note records them; the score in a note has one definition (`meanScore`).
    public init(_ outcomes: [ExampleOutcome], split: String, total: Int, complete: Bool = true) {
        self.init(
            split: split, score: meanScore(outcomes), correct: outcomes.filter(\.correct).count, total: total, complete: complete,
            examples: outcomes.map(\.noteResult))
    }
}

extension GradConfig {
    /// The model line of the notes this configuration's evaluations write.
    public var noteModel: EvaluationNote.ModelInfo { .init(model) }
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
    ) async throws -> (statistics: SplitStatistics, evaluators: [EvaluatorPassRate]) {
        let evaluator = runtime.evaluator(for: config, root: repository.root)
        let outcomes = try await evaluator.evaluate(prompt: version.prompt, examples: examples, progress: progress)
        try repository.recordSplit(
            .init(outcomes, split: split.rawValue, total: examples.count), of: commit, promptPath: config.task.prompt,
            model: config.noteModel, metric: config.metric.kind.rawValue, task: config.taskName)
        return (config.metric.statistics(outcomes), EvaluatorPassRate.of(outcomes))
    }
}
