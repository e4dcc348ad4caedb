import Evaluation
import Foundation
import LLM
import PromptRepo

/// `rewrite`: the optimizer model rewrites the whole prompt from the step's textual gradient (or,
/// with no feedback, from the prompt alone). For capable optimizer models; small ones mostly copy
/// the prompt back, and verification rejects that.
public struct RewriteOperator: CandidateOperator {
    public let name = SearchSettings.Operator.rewrite
    public let proposer: CandidateProposer
    public var needsGradient: Bool { true }

    public init(client: LLMClient, metaPrompts: MetaPrompts, settings: ModelSettings) {
        proposer = CandidateProposer(client: client, metaPrompts: metaPrompts, settings: settings)
    }

    public func propose(_ input: OperatorInput) async throws -> ProposedCandidate? {
        let examples = GradientWriter.describe(outcomes: input.selected, shownTargets: input.shownTargets, inputFields: input.inputFields)
        guard let candidate = try await proposer.propose(
            prompt: input.current, gradient: input.gradient, examples: examples, variant: input.variant, step: input.step)
        else { return nil }
        var feedback = input.gradient?.text ?? "(no feedback: prompt-only rewrite)"
        if !candidate.restoredPlaceholders.isEmpty {
            feedback += "\n\n(git-grad restored placeholders the model dropped: \(candidate.restoredPlaceholders.map { "{{\($0)}}" }.joined(separator: ", ")))"
        }
        return ProposedCandidate(
            variant: input.variant, operatorName: name, summary: candidate.summary, text: candidate.text.withoutControlCharacters,
            feedback: feedback, trailers: [])
    }
}
