import Foundation
import PromptRepo

/// `merge`: GEPA's merge as a git merge. Two earlier candidates of the run that fixed different
/// holdout examples are merged three-way (libgit2) onto main; when one candidate changed the
/// rules and the other the worked examples, the merge keeps both. A conflict, or no such pair,
/// means no candidate from this operator this time.
public struct MergeOperator: CandidateOperator {
    public let name = SearchSettings.Operator.merge
    public let store: RunStore
    public let run: RunID
    /// The branch the run merges into.
    public let trunk: String

    public init(store: RunStore, run: RunID, trunk: String = GradRefs.mainBranch) {
        self.store = store
        self.run = run
        self.trunk = trunk
    }

    public func propose(_ input: OperatorInput) async throws -> ProposedCandidate? {
        let tip = try await store.trunkTip(trunk)
        let (run, step) = (run, input.step)
        let results = try await store.reading { try $0.candidateResults(run: run, before: step, trunkTip: tip) }
        let pairs = Self.pairs(results)
        guard !pairs.isEmpty else { return nil }
        // Each merge variant of a step starts at another pair, so two variants differ.
        let start = (input.variant - 1) % pairs.count
        for (a, b) in pairs[start...] + pairs[..<start] {
            guard let text = try await store.mergedPromptText(of: [a.commit, b.commit], onto: tip, promptPath: input.promptPath),
                  text != input.current
            else { continue }
            let feedback = """
                s\(a.step)v\(a.variant) fixed \(a.fixed.count) holdout example(s) (\(Self.list(a.fixed))); \
                s\(b.step)v\(b.variant) fixed \(b.fixed.count) (\(Self.list(b.fixed))). \
                Their changes were merged three-way onto main to keep the fixes of both.
                """
            return ProposedCandidate(
                variant: input.variant, operatorName: name,
                summary: "Merge s\(a.step)v\(a.variant) and s\(b.step)v\(b.variant), which fixed different examples",
                text: text.withoutControlCharacters, feedback: feedback,
                trailers: [Trailer(key: TrailerKey.merged, value: "\(a.commit.hex) \(b.commit.hex)")])
        }
        return nil
    }

    /// Pairs that fixed different examples and are not both in main already, the pair fixing the
    /// most examples together first.
    static func pairs(_ results: [RunLedger.CandidateResult]) -> [(RunLedger.CandidateResult, RunLedger.CandidateResult)] {
        var pairs: [(RunLedger.CandidateResult, RunLedger.CandidateResult)] = []
        for (i, a) in results.enumerated() {
            for b in results[(i + 1)...] where !(a.inTrunk && b.inTrunk) {
                guard !a.fixed.isEmpty, !b.fixed.isEmpty, !a.fixed.isSubset(of: b.fixed), !b.fixed.isSubset(of: a.fixed) else { continue }
                pairs.append((a, b))
            }
        }
        return pairs.sorted { $0.0.fixed.union($0.1.fixed).count > $1.0.fixed.union($1.1.fixed).count }
    }

    static func list(_ ids: Set<String>) -> String {
        let sorted = ids.sorted()
        return sorted.prefix(5).joined(separator: ", ") + (sorted.count > 5 ? ", …" : "")
    }
}
