import Evaluation
import Foundation
import LLM
import PromptRepo

/// Evaluating a whole split of a commit's prompt, with progress and the evaluation note.
extension OptimizerRun {
    /// Evaluates a whole split of a commit's prompt, reusing the commit's note when it already
    /// holds complete results for the same prompt and model; writes the note otherwise.
    func evaluateSplit(_ split: String, examples: [Example], commit: ObjectID, evaluator: Evaluator, prompt: PromptPair) async throws -> [ExampleOutcome] {
        let blob = try await recorder.promptBlob(config.task.prompt, at: commit)
        if let note = try await recorder.note(commit), note.promptBlob == blob, note.model == EvaluationNote.ModelInfo(config.model),
           let existing = note.split(split), existing.complete, existing.examples.count == examples.count
        {
            let byID = Dictionary(existing.examples.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            // The note keeps the raw answer; the label in it is extracted again, so per-class recall
            // and the prevalence audit see the same labels as for a fresh evaluation.
            let choice = evaluator.scorer as? ChoiceScorer
            let outcomes = examples.compactMap { example in
                byID[example.id].map { result in
                    let extracted = choice.map { scorer in scorer.extract(result.output) ?? "" } ?? result.output
                    return ExampleOutcome(
                        example: example, output: result.output, score: Score(extracted: extracted, correct: result.correct, value: result.score),
                        cached: true)
                }
            }
            if outcomes.count == examples.count { return outcomes }
        }
        let outcomes = try await evaluateWithProgress("\(split) \(commit.short)", evaluator: evaluator, prompt: prompt, examples: examples)
        try await recorder.recordEvaluation(outcomes, split: split, total: examples.count, of: commit, config: config)
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

    func format(_ value: Double) -> String { String(format: "%.3f", value) }

    func estimateCost(calls: Int) -> Double? {
        guard let task = config.prices[config.model.name], let optimizer = config.prices[config.optimizerModel.name] else { return nil }
        // A rough per-call size: 400 prompt tokens and 50 completion tokens for the task, more for the optimizer.
        let perCall = (400 * task.inputPerMillion + 50 * task.outputPerMillion) / 1_000_000
        let optimizerShare = (1500 * optimizer.inputPerMillion + 500 * optimizer.outputPerMillion) / 1_000_000
        return Double(calls) * perCall + Double(config.search.steps * (config.search.variants + 1)) * optimizerShare
    }
}
