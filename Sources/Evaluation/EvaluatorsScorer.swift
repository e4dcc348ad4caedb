import Foundation
import LLM
import PromptRepo

/// A `.prompt.yml` file's evaluators as one metric, scored as `gh models eval` scores them: each
/// evaluator passes or fails an answer, and the answer is correct when all of them pass. The
/// score is the share that passed; each evaluator's result stays on the score, so `eval --json`
/// can report every evaluator's pass rate under its name.
///
/// An llm evaluator asks git-grad's judge model (grad.toml's `[judge]`, else the optimizer
/// model): the file's `modelId` names a hosted model the embedded setup cannot reach.
public struct EvaluatorsScorer: Scorer {
    public let evaluators: [PromptEvaluator]
    public let judge: LLMClient
    public let temperature: Double

    public init(evaluators: [PromptEvaluator], judge: LLMClient, temperature: Double = 0) {
        self.evaluators = evaluators
        self.judge = judge
        self.temperature = temperature
    }

    public func score(output: String, example: Example) async throws -> Score {
        // gh models trims the model's answer before its evaluators see it.
        let answer = output.trimmingCharacters(in: .whitespacesAndNewlines)
        var results: [EvaluatorResult] = []
        for evaluator in evaluators {
            results.append(try await run(evaluator, answer: answer, example: example))
        }
        let passed = results.filter(\.passed).count
        let value = evaluators.isEmpty ? 0 : Double(passed) / Double(evaluators.count)
        return Score(extracted: answer, correct: !results.isEmpty && passed == results.count, value: value, evaluatorResults: results)
    }

    func run(_ evaluator: PromptEvaluator, answer: String, example: Example) async throws -> EvaluatorResult {
        let fields = example.fields
        let passed: Bool
        switch evaluator.check {
        case .equals(let value): passed = answer == Self.fill(value, fields)
        case .contains(let value): passed = answer.lowercased().contains(Self.fill(value, fields).lowercased())
        case .startsWith(let value): passed = answer.lowercased().hasPrefix(Self.fill(value, fields).lowercased())
        case .endsWith(let value): passed = answer.lowercased().hasSuffix(Self.fill(value, fields).lowercased())
        case .llm(let llm):
            var messages: [ChatMessage] = []
            if let system = llm.systemPrompt { messages.append(ChatMessage(.system, system)) }
            messages.append(ChatMessage(.user, Self.fill(llm.prompt, fields.merging(["completion": answer]) { _, new in new })))
            let reply = try await judge.complete(ChatRequest(messages: messages, temperature: temperature, maxTokens: 200))
            let text = reply.text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            // The first choice the reply contains, in the file's order, as gh models matches them.
            let score = llm.choices.first { text.contains($0.choice.lowercased()) }?.score ?? 0
            return EvaluatorResult(name: evaluator.name, passed: score > 0, score: score)
        }
        return EvaluatorResult(name: evaluator.name, passed: passed, score: passed ? 1 : 0)
    }

    /// `{{name}}` replaced by the row's field of that name; unknown names stay as written.
    static func fill(_ template: String, _ fields: [String: String]) -> String { PromptTemplate.substitute(template, fields) }
}

/// One evaluator's result on one answer.
public struct EvaluatorResult: Sendable, Equatable, Codable {
    public var name: String
    public var passed: Bool
    public var score: Double

    public init(name: String, passed: Bool, score: Double) {
        self.name = name
        self.passed = passed
        self.score = score
    }
}

/// How often one evaluator passed over a split, named as the `.prompt.yml` file names it (as
/// `gh models eval --json` reports it).
public struct EvaluatorPassRate: Sendable, Equatable, Encodable {
    public var name: String
    public var passed: Int
    public var total: Int
    public var passRate: Double

    /// Each evaluator's pass rate over `outcomes`, in the file's order.
    public static func of(_ outcomes: [ExampleOutcome]) -> [EvaluatorPassRate] {
        var order: [String] = []
        var counts: [String: (passed: Int, total: Int)] = [:]
        for result in outcomes.flatMap(\.score.evaluatorResults) {
            if counts[result.name] == nil { order.append(result.name) }
            counts[result.name, default: (0, 0)].total += 1
            if result.passed { counts[result.name, default: (0, 0)].passed += 1 }
        }
        return order.map { name in
            let count = counts[name]!
            return EvaluatorPassRate(name: name, passed: count.passed, total: count.total, passRate: Double(count.passed) / Double(max(count.total, 1)))
        }
    }
}
