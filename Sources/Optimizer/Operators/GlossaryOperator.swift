import Evaluation
import Foundation
import LLM
import PromptRepo

/// `glossary`: for tasks whose label names do not explain themselves (`desk`, `ledger`). The
/// optimizer model writes one line per label from a few train rows that have it, and code places
/// the lines once in the system message under `## Labels`, before any rules. Proposed while the
/// prompt has no glossary; holdout and test rows are never shown to the model.
public struct GlossaryOperator: CandidateOperator {
    public let name = SearchSettings.Operator.glossary
    public let client: LLMClient
    public let metaPrompts: MetaPrompts
    public let settings: ModelSettings
    /// Train rows shown per label.
    public let rowsPerLabel: Int

    public init(client: LLMClient, metaPrompts: MetaPrompts, settings: ModelSettings, rowsPerLabel: Int = 4) {
        self.client = client
        self.metaPrompts = metaPrompts
        self.settings = settings
        self.rowsPerLabel = rowsPerLabel
    }

    public func propose(_ input: OperatorInput) async throws -> ProposedCandidate? {
        guard let file = try? PromptFile.read(input.current, path: input.promptPath), file.canBecomeChat, file.glossary.isEmpty else { return nil }
        let labels = input.labels.isEmpty ? LabelSet.fromTargets(input.train.map(\.target)) ?? [] : input.labels
        guard labels.count >= 2 else { return nil }
        let field = input.inputFields.first ?? "input"
        var entries: [String] = []
        var generator = input.generator(7)
        for (index, label) in labels.enumerated() {
            let rows = input.train.filter { $0.target.lowercased() == label.lowercased() && !input.excludedIDs.contains($0.id) }
            let shown = Array(rows.shuffled(using: &generator).prefix(rowsPerLabel))
            guard !shown.isEmpty else { continue }
            let examples = shown.map { row in "- " + PromptFile.oneLine(input.inputFields.compactMap { row.fields[$0] }.joined(separator: " | ")) }
            let request = MetaPrompts.fill(metaPrompts.glossary, ["label": label, "examples": examples.joined(separator: "\n"), "field": field])
            let sample = input.step * 1000 + input.variant * 10 + index
            let response = try await client.complete(ChatRequest(
                messages: [ChatMessage(.user, request)], temperature: min(settings.temperature, 0.3), maxTokens: min(settings.maxTokens, 80),
                seed: (settings.seed ?? 0) + sample, sampleIndex: sample))
            guard let line = Self.firstLine(response.text, label: label) else { continue }
            entries.append("\(label): \(line)")
        }
        guard entries.count >= 2 else { return nil }
        let text = file.withGlossary(entries).render().withoutControlCharacters
        guard text != input.current else { return nil }
        return ProposedCandidate(
            variant: input.variant, operatorName: name, summary: "Say what each of \(entries.count) labels means",
            text: text, feedback: entries.map { "- \($0)" }.joined(separator: "\n"), trailers: [])
    }

    /// The model's line: the first non-empty line, without a bullet, quotes or a repeated label,
    /// cut to 160 characters; nil when nothing usable is left.
    static func firstLine(_ answer: String, label: String) -> String? {
        guard var line = answer.split(whereSeparator: \.isNewline).map({ $0.trimmingCharacters(in: .whitespaces) }).first(where: { !$0.isEmpty })
        else { return nil }
        for prefix in ["- ", "* ", "\"", "\(label):", "\(label.capitalized):"] where line.hasPrefix(prefix) {
            line = String(line.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        }
        line = line.trimmingCharacters(in: CharacterSet(charactersIn: "\"'` "))
        if line.count > 160 { line = String(line.prefix(159)) + "…" }
        return line.count >= 8 ? line : nil
    }
}
