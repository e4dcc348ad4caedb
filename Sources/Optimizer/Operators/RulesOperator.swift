import Evaluation
import Foundation
import LLM
import PromptRepo

/// `rules`: the optimizer model writes at most a few one-line rules from the errors, and code
/// places them in the prompt's rules list: deduplicated, capped (the oldest go first), and a rule
/// with the same condition as an older one but another answer replaces it. The model never has to
/// reproduce the whole prompt, which small models cannot do. Before the rules are proposed they are
/// checked on the minibatch they were written from: rules that fix no more of its rows than they
/// break (as the 1.5B's often do) never reach the holdout, whose trust each test spends.
public struct RulesOperator: CandidateOperator {
    public let name = SearchSettings.Operator.rules
    public let client: LLMClient
    public let metaPrompts: MetaPrompts
    public let settings: ModelSettings
    /// Rules asked for per candidate.
    public let perCandidate: Int

    public init(client: LLMClient, metaPrompts: MetaPrompts, settings: ModelSettings, perCandidate: Int = 3) {
        self.client = client
        self.metaPrompts = metaPrompts
        self.settings = settings
        self.perCandidate = perCandidate
    }

    public func propose(_ input: OperatorInput) async throws -> ProposedCandidate? {
        let wrong = zip(input.selected, input.shownTargets).filter { !$0.0.correct }
        guard !wrong.isEmpty else { return nil }
        guard let file = try? PromptFile.read(input.current, path: input.promptPath), file.canBecomeChat else { return nil }
        let examples = GradientWriter.describe(outcomes: wrong.map(\.0), shownTargets: wrong.map(\.1), inputFields: input.inputFields)
        let request = MetaPrompts.fill(metaPrompts.rules, [
            "examples": examples,
            "labels": input.labels.isEmpty ? "" : "The allowed answers are: \(input.labels.joined(separator: ", ")).\n",
            "rules": file.rules.isEmpty ? "(none yet)" : file.rules.map { "- \($0)" }.joined(separator: "\n"),
            "count": String(perCandidate),
            "field": input.inputFields.first ?? "input",
        ])
        let sample = input.step * 1000 + input.variant
        let response = try await client.complete(ChatRequest(
            messages: [ChatMessage(.user, request)], temperature: input.variant == 1 ? min(settings.temperature, 0.3) : max(settings.temperature, 0.7),
            maxTokens: min(settings.maxTokens, 80 * perCandidate), seed: (settings.seed ?? 0) + sample, sampleIndex: sample))
        // A rule a rejected candidate of this run already tried is not proposed again.
        let written = Self.parseRules(response.text, labels: input.labels, limit: perCandidate).filter { !input.rejected.rejects(rule: $0) }
        guard !written.isEmpty else { return nil }
        let merged = Self.merge(existing: file.rules, new: written, cap: input.search.maxRules)
        guard merged.added > 0 else { return nil }
        let text = file.withRules(merged.rules).render().withoutControlCharacters
        guard text != input.current else { return nil }
        var feedback = written.map { "- \($0)" }.joined(separator: "\n")
        if !merged.replaced.isEmpty {
            feedback += "\n\nReplaced, contradicted by the errors:\n" + merged.replaced.map { "- \($0)" }.joined(separator: "\n")
        }
        var summary = "Add \(merged.added) rule\(merged.added == 1 ? "" : "s") from \(wrong.count) wrong answer\(wrong.count == 1 ? "" : "s")"
            + (merged.replaced.isEmpty ? "" : ", replace \(merged.replaced.count)")
        if let probe = input.probe {
            let check = try await Self.check(text, batch: input.batch, probe: probe)
            guard check.fixed > check.broken else {
                throw NotProposed(reason: "on the minibatch they came from they fix \(check.fixed) and break \(check.broken) of \(input.batch.count) rows")
            }
            summary += " (minibatch +\(check.fixed)/-\(check.broken))"
            feedback += "\n\nChecked on the \(input.batch.count) minibatch rows they were written from: \(check.fixed) wrong answers now right, \(check.broken) right ones now wrong."
        }
        return ProposedCandidate(
            variant: input.variant, operatorName: name, summary: summary, text: text, feedback: feedback, trailers: [])
    }

    /// What a candidate does to the minibatch's rows: wrong answers it fixes, right ones it breaks.
    static func check(_ text: String, batch: [ExampleOutcome], probe: OperatorInput.TrainProbe) async throws -> (fixed: Int, broken: Int) {
        FlipTally.flips(before: batch, after: try await probe(text, batch.map(\.example)))
    }

    /// One-line rules from the model's answer: bullets and numbers stripped, too short or too long
    /// lines dropped, and for a label task only lines that name an allowed answer.
    public static func parseRules(_ answer: String, labels: [String], limit: Int) -> [String] {
        var rules: [String] = []
        for raw in answer.withoutControlCharacters.split(whereSeparator: \.isNewline) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            line = line.replacingOccurrences(of: #"^(?:[-*•]|\d+[.)]|Rule\s*\d*:)\s*"#, with: "", options: .regularExpression)
            line = line.replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "`", with: "")
                .trimmingCharacters(in: .whitespaces)
            guard line.count >= 12, line.count <= 240, !line.hasSuffix(":") else { continue }
            if !labels.isEmpty {
                let lowered = line.lowercased()
                guard labels.contains(where: { label in
                    lowered.range(of: "(^|[^\\p{L}\\p{N}])" + NSRegularExpression.escapedPattern(for: label.lowercased()) + "($|[^\\p{L}\\p{N}])",
                                  options: .regularExpression) != nil
                }) else { continue }
            }
            if !rules.contains(where: { similarity($0, line) >= 0.8 }) { rules.append(line) }
            if rules.count == limit { break }
        }
        return rules
    }

    /// Adds `new` to `existing`: near-duplicates are dropped, an older rule with the same condition
    /// but another answer is replaced, and past `cap` the oldest rules go.
    public static func merge(existing: [String], new: [String], cap: Int) -> (rules: [String], added: Int, replaced: [String]) {
        var rules = existing
        var added = 0
        var replaced: [String] = []
        for rule in new {
            if rules.contains(where: { similarity($0, rule) >= 0.8 }) { continue }
            if let index = rules.firstIndex(where: { contradicts($0, rule) }) {
                replaced.append(rules[index])
                rules.remove(at: index)
            }
            rules.append(rule)
            added += 1
        }
        if rules.count > cap { rules.removeFirst(rules.count - cap) }
        return (rules, added, replaced)
    }

    static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init)
    }

    /// Jaccard similarity of the two rules' word sets.
    static func similarity(_ a: String, _ b: String) -> Double {
        let x = Set(words(a)), y = Set(words(b))
        guard !x.isEmpty || !y.isEmpty else { return 1 }
        return Double(x.intersection(y).count) / Double(x.union(y).count)
    }

    /// Same condition (the words before "answer"), different answer (the words after it).
    static func contradicts(_ old: String, _ new: String) -> Bool {
        func split(_ rule: String) -> (String, String)? {
            guard let range = rule.range(of: "answer", options: [.caseInsensitive, .backwards]) else { return nil }
            return (String(rule[..<range.lowerBound]), String(rule[range.upperBound...]))
        }
        guard let (conditionA, answerA) = split(old), let (conditionB, answerB) = split(new) else { return false }
        return similarity(conditionA, conditionB) >= 0.6 && Set(words(answerA)) != Set(words(answerB))
    }
}
