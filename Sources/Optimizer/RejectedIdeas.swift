import Foundation
import PromptRepo

/// What this run already tried and the holdout refused: the rules its rejected candidates added
/// and the worked-example sets they placed. They are in git (the candidates' branches), so an
/// operator never proposes them again, resumed runs included, and `demos` shows fewer rows after
/// the holdout refused more of them.
public struct RejectedIdeas: Sendable, Equatable {
    /// Rules, normalized (`RejectedIdeas.key`).
    public var rules: Set<String> = []
    /// Worked-example sets, as their sorted row ids joined by spaces.
    public var demoSets: Set<String> = []
    /// The sizes of refused worked-example sets that showed more rows than the prompt they were
    /// built on. Many rows helped the sample (+0.14 in test mean) and cost BBH object_counting its
    /// gain, where the set of every train row was refused in each run and blocked `demos` after it.
    public var refusedDemoGrowth: [Int] = []

    public init() {}

    /// The most worked examples `demos` shows now: half the smallest set the holdout refused when
    /// it grew the prompt, or nil (the settings' caps alone) while none was.
    public var demoLimit: Int? { refusedDemoGrowth.min().map { max(1, $0 / 2) } }

    static func key(rule: String) -> String {
        rule.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).joined(separator: " ")
    }

    static func key(demoIDs: [String]) -> String { demoIDs.sorted().joined(separator: " ") }

    public func rejects(rule: String) -> Bool { rules.contains(Self.key(rule: rule)) }
    public func rejects(demoIDs: [String]) -> Bool { demoSets.contains(Self.key(demoIDs: demoIDs)) }
}

extension OptimizerRun {
    /// The ideas of the run's candidates before `step` whose verdict was not `accepted`.
    func rejectedIdeas(before step: Int, context: RunContext) async throws -> RejectedIdeas {
        guard step > 1 else { return RejectedIdeas() }
        let (run, variants, path) = (context.runID, context.search.variants, config.task.prompt)
        return try await store.reading { ledger in
            var ideas = RejectedIdeas()
            for earlier in 1..<step {
                for record in try ledger.recordedCandidates(run: run, step: earlier, variants: variants).values {
                    guard let verdict = record.verdict, let parent = try ledger.repository.firstParent(of: record.candidate) else { continue }
                    let text = try ledger.repository.stepMessage(verdict).value(TrailerKey.verdict) ?? "rejected"
                    guard text != "accepted" else { continue }
                    let before = try? PromptFile.read(try ledger.repository.promptText(path, at: parent), path: path)
                    if let ids = record.message.value(TrailerKey.demos)?.split(separator: " ").map(String.init), !ids.isEmpty {
                        ideas.demoSets.insert(RejectedIdeas.key(demoIDs: ids))
                        // Refused as no better, not outranked by a better candidate of its step.
                        if ids.count > (before?.demos.count ?? 0), !text.hasPrefix(Verdict.outrankedPrefix) {
                            ideas.refusedDemoGrowth.append(ids.count)
                        }
                    }
                    let beforeRules = Set(before?.rules ?? [])
                    let after = (try? PromptFile.read(try ledger.repository.promptText(path, at: record.candidate), path: path))?.rules ?? []
                    for rule in after where !beforeRules.contains(rule) { ideas.rules.insert(RejectedIdeas.key(rule: rule)) }
                }
            }
            return ideas
        }
    }
}
