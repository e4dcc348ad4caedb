import Foundation
import LLM
import PromptRepo

/// One example's outcome.
public struct ExampleOutcome: Sendable, Equatable {
    public let example: Example
    public let output: String
    public let score: Score
    public let cached: Bool

    public var correct: Bool { score.correct }

    public init(example: Example, output: String, score: Score, cached: Bool) {
        self.example = example
        self.output = output
        self.score = score
        self.cached = cached
    }

    public var noteResult: EvaluationNote.ExampleResult {
        .init(id: example.id, output: output, expected: example.target, correct: score.correct, score: score.value)
    }
}

/// Runs a prompt over examples through the task model, concurrently, and scores each output.
public struct Evaluator: Sendable {
    public let client: LLMClient
    public let scorer: any Scorer
    public let settings: ModelSettings

    public init(client: LLMClient, scorer: any Scorer, settings: ModelSettings) {
        self.client = client
        self.scorer = scorer
        self.settings = settings
    }

    /// The request for one example: the same prompt, example and settings always give the same
    /// request, so the cache never pays twice for it.
    public func request(prompt: PromptPair, example: Example) throws -> ChatRequest {
        ChatRequest(
            messages: try prompt.messages(for: example), temperature: settings.temperature, maxTokens: settings.maxTokens,
            seed: settings.seed)
    }

    public func evaluate(prompt: PromptPair, example: Example) async throws -> ExampleOutcome {
        let response = try await client.complete(try request(prompt: prompt, example: example))
        let score = try await scorer.score(output: response.text, example: example)
        return ExampleOutcome(example: example, output: response.text, score: score, cached: response.cached)
    }

    /// Evaluates `examples` with up to `window` in flight, reporting each outcome in dataset order
    /// to `progress`. After each outcome `shouldContinue` sees all outcomes so far (in order); when
    /// it answers false the remaining examples are not evaluated (their calls are saved).
    ///
    /// Example i is launched only once the first i - window outcomes are in, and a stop lets the
    /// calls already made finish: so a stop at example s has asked for exactly the first
    /// s + window examples whatever the timing, their answers are all cached, and a repeated run
    /// stops at the same example without a new call.
    public func evaluate(
        prompt: PromptPair, examples: [Example], window: Int? = nil,
        progress: (@Sendable (ExampleOutcome) -> Void)? = nil,
        shouldContinue: (@Sendable ([ExampleOutcome]) -> Bool)? = nil
    ) async throws -> [ExampleOutcome] {
        // Render everything first so a template error stops before any call.
        for example in examples { _ = try prompt.messages(for: example) }
        let window = max(1, window ?? client.limiter.limit * 2)
        return try await withThrowingTaskGroup(of: (Int, ExampleOutcome).self) { group in
            var next = 0
            var pending: [Int: ExampleOutcome] = [:]
            var ordered: [ExampleOutcome] = []
            func fill() {
                while next < min(examples.count, ordered.count + window) {
                    let index = next, example = examples[index]
                    next += 1
                    group.addTask { (index, try await self.evaluate(prompt: prompt, example: example)) }
                }
            }
            fill()
            while let (index, outcome) = try await group.next() {
                pending[index] = outcome
                while let ready = pending.removeValue(forKey: ordered.count) {
                    ordered.append(ready)
                    progress?(ready)
                    if let shouldContinue, !shouldContinue(ordered) {
                        while true {
                            do {
                                guard try await group.next() != nil else { break }
                            } catch {
                                continue  // a call past the stop that failed changes nothing
                            }
                        }
                        return ordered
                    }
                    fill()
                }
            }
            return ordered
        }
    }
}
