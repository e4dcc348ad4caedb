import Foundation
import PromptRepo

/// What this run already tried and the holdout refused: the rules its rejected candidates added
/// and the worked-example sets they placed. They are in git (the candidates' branches), so an
/// operator never proposes them again, resumed runs included.
public struct RejectedIdeas: Sendable, Equatable {
    /// Rules, normalized (`RejectedIdeas.key`).
    public var rules: Set<String> = []
    /// Worked-example sets, as their sorted row ids joined by spaces.
    public var demoSets: Set<String> = []

    public init() {}

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
                    guard let verdict = record.verdict, try ledger.repository.stepMessage(verdict).value(TrailerKey.verdict) != "accepted",
                          let parent = try ledger.repository.firstParent(of: record.candidate)
                    else { continue }
                    if let ids = record.message.value(TrailerKey.demos)?.split(separator: " ").map(String.init), !ids.isEmpty {
                        ideas.demoSets.insert(RejectedIdeas.key(demoIDs: ids))
                    }
                    let before = Set((try? PromptFile.read(try ledger.repository.promptText(path, at: parent), path: path))?.rules ?? [])
                    let after = (try? PromptFile.read(try ledger.repository.promptText(path, at: record.candidate), path: path))?.rules ?? []
                    for rule in after where !before.contains(rule) { ideas.rules.insert(RejectedIdeas.key(rule: rule)) }
                }
            }
            return ideas
        }
    }
}
