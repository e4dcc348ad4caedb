import Evaluation
import Foundation
import LLM
import PromptRepo

/// Which evaluated examples feed the gradient. `errors` keeps only wrong outputs
/// (error-driven refinement), `all` keeps the whole batch (as TextGrad does), `none` keeps none
/// (a prompt-only rewrite).
public struct FeedbackSelector: Sendable {
    public let mode: SearchSettings.Feedback
    public init(mode: SearchSettings.Feedback) { self.mode = mode }

    public func select(_ outcomes: [ExampleOutcome]) -> [ExampleOutcome] {
        switch mode {
        case .errors: return outcomes.filter { !$0.correct }
        case .all: return outcomes
        case .none: return []
        }
    }
}

/// The textual gradient of a step: the feedback text and how many calls it took.
public struct TextualGradient: Sendable, Equatable {
    public var text: String
    /// Two-step feedback: the per-example critiques it was built from.
    public var critiques: [String]
}

/// Asks the optimizer model for feedback on the prompt from the selected examples, in
/// one step (examples -> feedback) or two (examples -> critique of each -> feedback).
public struct GradientWriter: Sendable {
    public let client: LLMClient
    public let metaPrompts: MetaPrompts
    public let mode: SearchSettings.Gradient
    public let settings: ModelSettings
    public let labelSet: [String]
    public let inputFields: [String]

    public init(client: LLMClient, metaPrompts: MetaPrompts, mode: SearchSettings.Gradient, settings: ModelSettings, labelSet: [String], inputFields: [String]) {
        self.client = client
        self.metaPrompts = metaPrompts
        self.mode = mode
        self.settings = settings
        self.labelSet = labelSet
        self.inputFields = inputFields
    }

    static func describeInput(_ example: Example, inputFields: [String]) -> String {
        inputFields.map { "\($0): \(example.fields[$0] ?? "")" }.joined(separator: "\n")
    }

    /// The examples as the optimizer model sees them: input, the model's answer, the answer shown
    /// as correct. Every operator that shows errors to a model shows them this way.
    public static func describe(outcomes: [ExampleOutcome], shownTargets: [String], inputFields: [String]) -> String {
        zip(outcomes, shownTargets).enumerated().map { index, pair -> String in
            let (outcome, target) = pair
            let answer = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
            return "Example \(index + 1)\n\(describeInput(outcome.example, inputFields: inputFields))\nModel answer: \(answer)\nCorrect answer: \(target)"
        }.joined(separator: "\n\n")
    }

    var labelLine: String {
        labelSet.isEmpty ? "" : "The allowed answers are: \(labelSet.joined(separator: ", ")).\n\n"
    }

    /// - Parameters:
    ///   - shownTargets: the expected answer to show for each outcome (shuffled in the ablation).
    public func gradient(prompt: String, outcomes: [ExampleOutcome], shownTargets: [String], step: Int) async throws -> TextualGradient {
        precondition(outcomes.count == shownTargets.count)
        switch mode {
        case .oneStep:
            let examples = Self.describe(outcomes: outcomes, shownTargets: shownTargets, inputFields: inputFields)
            let request = MetaPrompts.fill(metaPrompts.gradient, ["prompt": prompt, "examples": examples, "labels": labelLine])
            let response = try await client.complete(ChatRequest(
                messages: [ChatMessage(.user, request)], temperature: settings.temperature, maxTokens: settings.maxTokens,
                seed: settings.seed, sampleIndex: step))
            return TextualGradient(text: response.text.trimmingCharacters(in: .whitespacesAndNewlines), critiques: [])
        case .twoStep:
            let critiques = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for (index, pair) in zip(outcomes, shownTargets).enumerated() {
                    let (outcome, target) = pair
                    let request = MetaPrompts.fill(metaPrompts.critique, [
                        "input": Self.describeInput(outcome.example, inputFields: inputFields), "output": outcome.output.trimmingCharacters(in: .whitespacesAndNewlines),
                        "expected": target,
                    ])
                    group.addTask {
                        let response = try await client.complete(ChatRequest(
                            messages: [ChatMessage(.user, request)], temperature: settings.temperature, maxTokens: min(settings.maxTokens, 200),
                            seed: settings.seed, sampleIndex: step))
                        return (index, response.text.trimmingCharacters(in: .whitespacesAndNewlines))
                    }
                }
                var results: [(Int, String)] = []
                for try await result in group { results.append(result) }
                return results.sorted { $0.0 < $1.0 }.map(\.1)
            }
            let joined: String = critiques.enumerated().map { "\($0 + 1). \($1)" }.joined(separator: "\n")
            let request = MetaPrompts.fill(metaPrompts.gradientFromCritiques, ["prompt": prompt, "critiques": joined, "labels": labelLine])
            let response = try await client.complete(ChatRequest(
                messages: [ChatMessage(.user, request)], temperature: settings.temperature, maxTokens: settings.maxTokens,
                seed: settings.seed, sampleIndex: step))
            return TextualGradient(text: response.text.trimmingCharacters(in: .whitespacesAndNewlines), critiques: critiques)
        }
    }
}
