import Foundation
import GitKit

/// The record of runs and experiments, read-only: manifests, candidate branches, merges and the
/// results they hold. `runs`, the report and the optimizer all read through it; only `RunStore`
/// writes.
public struct RunLedger {
    public let repository: PromptRepository
    private var git: Repository { repository.git }

    public init(_ repository: PromptRepository) { self.repository = repository }

    // MARK: Run manifests

    /// Every recorded run, oldest first. A manifest that cannot be read is an error naming it,
    /// never a run silently left out.
    public func manifests() throws -> [RunManifest] {
        try names(under: "refs/grad/runs/").compactMap { try runManifest($0) }.sorted { ($0.started, $0.run) < ($1.started, $1.run) }
    }

    /// The manifest of `run`, nil when the run was never recorded.
    public func runManifest(_ run: String) throws -> RunManifest? { try storedRunManifest(run)?.manifest }

    /// Whether the run has a manifest, i.e. recorded something.
    public func isRecorded(_ run: String) throws -> Bool { try ManifestStore(repository).exists(RunManifest.reference(run)) }

    /// The manifest of `run` with the id of the version read, for a compare-and-swap rewrite.
    func storedRunManifest(_ run: String) throws -> (version: ObjectID, manifest: RunManifest)? {
        try storedManifest(
            RunManifest.self, at: RunManifest.reference(run), what: "run \(run)", fix: "remove the run with `git grad runs drop \(run) --force`")
    }

    /// The manifest under `reference` with the id of the version read; nil when there is none,
    /// and an error naming `what` and saying `fix` when it cannot be read.
    func storedManifest<Manifest: Decodable>(
        _ type: Manifest.Type, at reference: String, what: String, fix: String
    ) throws -> (version: ObjectID, manifest: Manifest)? {
        do {
            guard let stored = try ManifestStore(repository).read(reference) else { return nil }
            return (stored.id, try ManifestJSON.decoder.decode(type, from: stored.data))
        } catch {
            throw PromptRepoError.unreadableManifest(what: what, reference: reference, fix: fix)
        }
    }

    /// The names under a reference prefix such as `refs/grad/runs/`, without the prefix.
    func names(under prefix: String) throws -> [String] {
        try git.references(matching: prefix + "*").map { String($0.name.dropFirst(prefix.count)) }
    }

    // MARK: Candidates and merges

    /// Every candidate branch (of one run when `run` is given) with its tip.
    public func candidateBranches(run: String? = nil) throws -> [(branch: CandidateBranch, tip: ObjectID)] {
        try git.branches(matching: run.map { "grad/\($0)/*" } ?? "grad/*").compactMap { branch in
            CandidateBranch(parsing: branch.name).map { ($0, branch.target) }
        }
    }

    /// The merge commits on `tip`'s first-parent history, by run and step.
    public func mergesByRun(on tip: ObjectID) throws -> [String: [Int: ObjectID]] {
        var merges: [String: [Int: ObjectID]] = [:]
        for id in try repository.firstParentHistory(from: tip) {
            let message = try repository.stepMessage(id)
            if message.value(TrailerKey.kind) == "merge", let run = message.value(TrailerKey.run),
               let step = message.value(TrailerKey.step).flatMap(Int.init) { merges[run, default: [:]][step] = id }
        }
        return merges
    }

    /// Steps of `run` merged into the branch at `tip`, from its first-parent history.
    public func mergedSteps(run: String, on tip: ObjectID) throws -> Set<Int> { Set((try mergesByRun(on: tip)[run] ?? [:]).keys) }

    /// One recorded candidate: its commit, its verdict commit once judged, and its message.
    public struct RecordedCandidate: Sendable {
        public var candidate: ObjectID
        public var verdict: ObjectID?
        public var message: StepMessage
    }

    /// The recorded candidates of one step, by variant.
    public func recordedCandidates(run: RunID, step: Int, variants: Int) throws -> [Int: RecordedCandidate] {
        var result: [Int: RecordedCandidate] = [:]
        for variant in 1...variants {
            let branch = CandidateBranch(run: run, step: step, variant: variant)
            guard let tip = try git.referenceTarget(branch.reference) else { continue }
            let tipMessage = try repository.stepMessage(tip)
            if tipMessage.value(TrailerKey.kind) == "verdict", let parent = try repository.firstParent(of: tip) {
                result[variant] = RecordedCandidate(candidate: parent, verdict: tip, message: try repository.stepMessage(parent))
            } else {
                result[variant] = RecordedCandidate(candidate: tip, verdict: nil, message: tipMessage)
            }
        }
        return result
    }

    /// What one verified candidate of a run changed on the holdout set, from its note and its
    /// parent's note.
    public struct CandidateResult: Sendable, Equatable {
        public var commit: ObjectID
        public var step: Int
        public var variant: Int
        /// Holdout ids the candidate answered right where its parent was wrong.
        public var fixed: Set<String>
        /// Whether the trunk already contains the candidate (it was accepted).
        public var inTrunk: Bool
    }

    /// The run's verified candidates of steps before `step`, oldest first; `trunkTip` says which
    /// are in the trunk.
    public func candidateResults(run: RunID, before step: Int, trunkTip: ObjectID) throws -> [CandidateResult] {
        var results: [CandidateResult] = []
        let task = try runManifest(run.value)?.task
        for (branch, branchTip) in try candidateBranches(run: run.value) where branch.step < step {
            let tipMessage = try repository.stepMessage(branchTip)
            guard tipMessage.value(TrailerKey.kind) == "verdict", let candidate = try repository.firstParent(of: branchTip),
                  let parent = try repository.firstParent(of: candidate),
                  let mine = try repository.evaluationNote(candidate, task: task)?.split("holdout"),
                  let before = try repository.evaluationNote(parent, task: task)?.split("holdout")
            else { continue }
            let wrongBefore = Set(before.examples.filter { !$0.correct }.map(\.id))
            let fixed = Set(mine.examples.filter { $0.correct && wrongBefore.contains($0.id) }.map(\.id))
            results.append(CandidateResult(
                commit: candidate, step: branch.step, variant: branch.variant, fixed: fixed,
                inTrunk: try git.mergeBase(candidate, trunkTip) == candidate))
        }
        return results.sorted { ($0.step, $0.variant) < ($1.step, $1.variant) }
    }
}
