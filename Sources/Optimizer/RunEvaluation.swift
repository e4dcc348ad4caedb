import Evaluation
import Foundation
import LLM
import PromptRepo

/// The run's reads and model work outside the step's stages: whole splits of a commit's prompt
/// evaluated with progress and noted, the gradient, the operators' tools.
extension OptimizerRun {
    /// The prompt file's text at `commit`.
    func promptText(at commit: ObjectID) async throws -> String {
        let path = config.task.prompt
        return try await store.reading { try $0.repository.promptText(path, at: commit) }
    }

    /// Records a split's outcomes in `commit`'s evaluation note.
    func recordSplit(
        _ outcomes: [ExampleOutcome], split: String, total: Int, complete: Bool = true, verdict: String? = nil, of commit: ObjectID
    ) async throws {
        try await store.recordSplit(
            .init(outcomes, split: split, total: total, complete: complete), verdict: verdict, of: commit, promptPath: config.task.prompt,
            model: config.noteModel, metric: config.metric.kind.rawValue, task: config.taskName)
    }

    /// The step's textual gradient from the minibatch's selected outcomes.
    func writeGradient(
        _ step: Int, current: String, batch: Minibatch, shownTargets: [String], context: RunContext
    ) async throws -> TextualGradient {
        let writer = GradientWriter(
            client: runtime.optimizerClient, metaPrompts: metaPrompts, mode: context.search.gradient,
            settings: context.optimizerSettings, labelSet: config.metric.labels, inputFields: config.task.inputFields)
        emit(.phase(name: "gradient (step \(step))", total: 1))
        // The optimizer model reads the prompt's messages: a `.prompt.yml` file's testData holds
        // holdout and test rows with their answers, which it must never see.
        let shown = (try? PromptFile.read(current, path: config.task.prompt))?.promptText ?? current
        let gradient = try await writer.gradient(prompt: shown, outcomes: batch.selected, shownTargets: shownTargets, step: step)
        emit(.gradient(step: step, errors: batch.errors, batch: batch.outcomes.count, text: gradient.text))
        return gradient
    }

    /// What the operators of a step may use.
    func tools(_ context: RunContext) -> OperatorTools {
        OperatorTools(
            client: runtime.optimizerClient, metaPrompts: metaPrompts, settings: context.optimizerSettings, store: store,
            run: context.runID, trunk: trunk)
    }

    /// Evaluates a whole split of a commit's prompt, reusing the commit's note when it already
    /// holds complete results for the same prompt and model; writes the note otherwise.
    func evaluateSplit(_ split: String, examples: [Example], commit: ObjectID, evaluator: Evaluator, prompt: PromptPair) async throws -> [ExampleOutcome] {
        let path = config.task.prompt
        let task = config.taskName
        let (blob, note) = try await store.reading { ledger in
            (try ledger.repository.promptBlob(path, at: commit)?.hex ?? "", try ledger.repository.evaluationNote(commit, task: task))
        }
        if let note, note.promptBlob == blob, note.model == EvaluationNote.ModelInfo(config.model),
           let existing = note.split(split), existing.complete, existing.examples.count == examples.count
        {
            let byID = Dictionary(existing.examples.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            // The note keeps the raw answer; the label in it is extracted again, so per-class recall
            // and the prevalence audit see the same labels as for a fresh evaluation.
            let outcomes = examples.compactMap { example in
                byID[example.id].map { result in
                    ExampleOutcome(
                        example: example, output: result.output,
                        score: Score(extracted: evaluator.scorer.label(of: result.output), correct: result.correct, value: result.score),
                        cached: true)
                }
            }
            if outcomes.count == examples.count { return outcomes }
        }
        let outcomes = try await evaluateWithProgress("\(split) \(commit.short)", evaluator: evaluator, prompt: prompt, examples: examples)
        try await recordSplit(outcomes, split: split, total: examples.count, of: commit)
        return outcomes
    }

    func evaluateWithProgress(_ name: String, evaluator: Evaluator, prompt: PromptPair, examples: [Example]) async throws -> [ExampleOutcome] {
        emit(.phase(name: name, total: examples.count))
        return try await evaluator.evaluate(prompt: prompt, examples: examples, progress: progressReporter(name, total: examples.count))
    }

    func progressReporter(_ name: String, total: Int) -> @Sendable (ExampleOutcome) -> Void {
        let counter = ProgressCounter()
        let accounting = runtime.accounting
        let emit = self.emit
        return { outcome in
            let (done, hits) = counter.add(cached: outcome.cached)
            Task {
                let tokens = await accounting.totals.tokens
                emit(.progress(name: name, done: done, total: total, cacheHits: hits, tokens: tokens))
            }
        }
    }

    func score(_ outcomes: [ExampleOutcome]) -> Double { meanScore(outcomes) }

    func estimateCost(calls: Int) -> Double? {
        guard let task = config.prices[config.model.name], let optimizer = config.prices[config.optimizerModel.name] else { return nil }
        // A rough per-call size: 400 prompt tokens and 50 completion tokens for the task, more for the optimizer.
        let perCall = (400 * task.inputPerMillion + 50 * task.outputPerMillion) / 1_000_000
        let optimizerShare = (1500 * optimizer.inputPerMillion + 500 * optimizer.outputPerMillion) / 1_000_000
        return Double(calls) * perCall + Double(config.search.steps * (config.search.variants + 1)) * optimizerShare
    }
}

/// Counts finished examples from concurrent callbacks.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private var hits = 0

    func add(cached: Bool) -> (Int, Int) {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        if cached { hits += 1 }
        return (done, hits)
    }
}
