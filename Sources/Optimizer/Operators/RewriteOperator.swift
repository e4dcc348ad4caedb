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
        // A file with more than the template around it (YAML keys, Prompty front matter) has
        // only its template rewritten: the model never sees, so never breaks, the rest.
        guard let file = try? PromptFile.read(input.current, path: input.promptPath) else { return nil }
        let templateOnly = file.format == .promptYAML || !file.frontMatter.isEmpty
        guard var candidate = try await proposer.propose(
            prompt: templateOnly ? file.template : input.current, gradient: input.gradient, examples: examples,
            variant: input.variant, step: input.step)
        else { return nil }
        if templateOnly {
            candidate.text = file.withTemplate(PromptFile.trimBlankLines(candidate.text)).render()
        }
        var feedback = input.gradient?.text ?? "(no feedback: prompt-only rewrite)"
        if !candidate.restoredPlaceholders.isEmpty {
            feedback += "\n\n(git-grad restored placeholders the model dropped: \(candidate.restoredPlaceholders.map { "{{\($0)}}" }.joined(separator: ", ")))"
        }
        return ProposedCandidate(
            variant: input.variant, operatorName: name, summary: candidate.summary, text: candidate.text.withoutControlCharacters,
            feedback: feedback, trailers: [])
    }
}

/// A candidate prompt written from a gradient.
public struct CandidatePrompt: Sendable, Equatable {
    public var variant: Int
    public var summary: String
    public var text: String
    /// Placeholders the model dropped and git-grad put back, so the template still works.
    public var restoredPlaceholders: [String]
}

/// The rewrite operator's model call: candidate prompts from the gradient, each from its own sample so they differ.
public struct CandidateProposer: Sendable {
    public let client: LLMClient
    public let metaPrompts: MetaPrompts
    public let settings: ModelSettings

    public init(client: LLMClient, metaPrompts: MetaPrompts, settings: ModelSettings) {
        self.client = client
        self.metaPrompts = metaPrompts
        self.settings = settings
    }

    /// One candidate prompt from the gradient, from its own sample so variants differ.
    /// - Parameter examples: the examples the gradient came from, as the gradient step saw them.
    public func propose(prompt: String, gradient: TextualGradient?, examples: String = "", variant: Int, step: Int) async throws -> CandidatePrompt? {
        let placeholders = PromptTemplate(text: prompt, path: "").placeholders
        let placeholderList = Array(Set(placeholders)).sorted().map { "{{\($0)}}" }.joined(separator: ", ")
        let request: String
        if let gradient {
            request = MetaPrompts.fill(metaPrompts.propose, [
                "prompt": prompt, "feedback": gradient.text, "placeholders": placeholderList, "examples": examples,
            ])
        } else {
            request = MetaPrompts.fill(metaPrompts.rewrite, ["prompt": prompt, "placeholders": placeholderList])
        }
        // A seed per variant: the samples differ, and a server that honours seeds gives the same
        // candidates again even without the cache.
        let sample = step * 1000 + variant
        let response = try await client.complete(ChatRequest(
            messages: [ChatMessage(.user, request)], temperature: max(settings.temperature, 0.7),
            maxTokens: settings.maxTokens, seed: (settings.seed ?? 0) + sample, sampleIndex: sample))
        return Self.parse(response.text, variant: variant, requiredPlaceholders: placeholders)
    }

    /// Reads `<summary>` and `<prompt>` from the answer, leniently: code fences and missing tags
    /// are tolerated, and dropped placeholders are appended so the template keeps working.
    public static func parse(_ answer: String, variant: Int, requiredPlaceholders: [String]) -> CandidatePrompt {
        func tag(_ name: String) -> String? {
            guard let open = answer.range(of: "<\(name)>") else { return nil }
            let rest = answer[open.upperBound...]
            let close = rest.range(of: "</\(name)>")
            return String(close.map { rest[..<$0.lowerBound] } ?? rest).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var text = tag("prompt") ?? answer.replacingOccurrences(of: #"<summary>[\s\S]*?</summary>"#, with: "", options: .regularExpression)
        text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        // A fenced block holds the prompt when the model wrapped it ("Here is the prompt: ```…```").
        if let fenced = text.firstMatch(of: /```[A-Za-z]*\n([\s\S]*?)(?:```|$)/) {
            text = String(fenced.1)
        }
        text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let present = Set(PromptTemplate(text: text, path: "").placeholders)
        var restored: [String] = []
        for name in requiredPlaceholders where !present.contains(name) && !restored.contains(name) {
            restored.append(name)
            text += "\n\n\(name.prefix(1).uppercased() + name.dropFirst()): {{\(name)}}"
        }
        var summary = tag("summary") ?? ""
        summary = summary.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        if summary.isEmpty { summary = "Rewrite the prompt from the feedback" }
        return CandidatePrompt(variant: variant, summary: summary, text: text + "\n", restoredPlaceholders: restored)
    }
}
