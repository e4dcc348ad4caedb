import Foundation
import GitKit

/// The one writer of an optimization run's git record: candidate, verdict and merge commits on
/// their branches, run and experiment manifests (through `ManifestStore`), the trunk an
/// experiment run merges into, and the packing after a run. Notes go through `PromptRepository`.
///
/// It owns the repository handle it is given; libgit2 handles are not thread-safe, so callers
/// keep a `RunStore` inside one isolation domain (the optimizer's `GitRecorder` actor).
public final class RunStore {
    public let repository: PromptRepository
    /// The branch merges go to: main, or an experiment run's own trunk.
    public let trunk: String

    private var git: Repository { repository.git }

    public init(repository: PromptRepository, trunk: String = GradRefs.mainBranch) {
        self.repository = repository
        self.trunk = trunk
    }

    /// Thrown by `merge` when the trunk moved since the step started (the compare-and-swap lost).
    public struct TrunkMoved: Error, Sendable, Equatable {
        public let trunk: String
    }

    var trunkReference: String { "refs/heads/\(trunk)" }

    /// Whether this store merges into main (and so keeps the working tree in step).
    public var mergesIntoMain: Bool { trunk == GradRefs.mainBranch }

    // MARK: Reading

    /// The tip of the branch this store merges into.
    public func trunkTip() throws -> ObjectID {
        if mergesIntoMain { return try repository.mainTip() }
        guard let tip = try git.branchTarget(trunk) else {
            throw PromptRepoError.format("branch \(trunk) is missing; the run that merges into it cannot go on")
        }
        return tip
    }


    /// Whether `ancestor` is part of `commit`'s history (or is it).
    public func isAncestor(_ ancestor: ObjectID, of commit: ObjectID) throws -> Bool { try git.mergeBase(ancestor, commit) == ancestor }

    /// The names under a reference prefix such as `refs/grad/runs/`, without the prefix.
    public func names(under prefix: String) throws -> [String] {
        try git.references(matching: prefix + "*").map { String($0.name.dropFirst(prefix.count)) }
    }

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

    /// The recorded candidates of one step, by variant: (candidate commit, verdict commit?).
    public func recordedCandidates(run: RunID, step: Int, variants: Int) throws -> [Int: (candidate: ObjectID, verdict: ObjectID?, message: StepMessage)] {
        var result: [Int: (ObjectID, ObjectID?, StepMessage)] = [:]
        for variant in 1...variants {
            let branch = CandidateBranch(run: run, step: step, variant: variant)
            guard let tip = try git.referenceTarget(branch.reference) else { continue }
            let tipMessage = try repository.stepMessage(tip)
            if tipMessage.value(TrailerKey.kind) == "verdict", let parent = try repository.firstParent(of: tip) {
                result[variant] = (parent, tip, try repository.stepMessage(parent))
            } else {
                result[variant] = (tip, nil, tipMessage)
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

    /// The run's verified candidates of steps before `step`, oldest first.
    public func candidateResults(run: RunID, before step: Int) throws -> [CandidateResult] {
        let tip = try trunkTip()
        var results: [CandidateResult] = []
        for (branch, branchTip) in try candidateBranches(run: run.value) where branch.step < step {
            let tipMessage = try repository.stepMessage(branchTip)
            guard tipMessage.value(TrailerKey.kind) == "verdict", let candidate = try repository.firstParent(of: branchTip),
                  let parent = try repository.firstParent(of: candidate),
                  let mine = try repository.evaluationNote(candidate)?.split("holdout"),
                  let before = try repository.evaluationNote(parent)?.split("holdout")
            else { continue }
            let wrongBefore = Set(before.examples.filter { !$0.correct }.map(\.id))
            let fixed = Set(mine.examples.filter { $0.correct && wrongBefore.contains($0.id) }.map(\.id))
            results.append(CandidateResult(
                commit: candidate, step: branch.step, variant: branch.variant, fixed: fixed, inTrunk: try isAncestor(candidate, of: tip)))
        }
        return results.sorted { ($0.step, $0.variant) < ($1.step, $1.variant) }
    }

    /// The prompt text of three-way merges (libgit2) of `commits` into the trunk's `tip`, one after
    /// the other; nil when any merge conflicts. When a chat-structured prompt takes part, all three
    /// texts are first laid out alike (a system message with a rules section), so rule lines and
    /// worked-example blocks fall in separate hunks. Only unreferenced scratch objects are written.
    public func mergedPromptText(of commits: [ObjectID], onto tip: ObjectID, promptPath: String) throws -> String? {
        var current = tip
        let original = try repository.promptText(promptPath, at: tip)
        var text = original
        for commit in commits {
            let base = try git.mergeBase(commit, current)
            guard base != commit else { continue }
            let texts = [try base.map { try repository.promptText(promptPath, at: $0) } ?? "", text, try repository.promptText(promptPath, at: commit)]
            let files = texts.map(PromptFile.parse)
            let laidOut = files.contains(where: \.isChat) ? files.map { $0.withRulesSection().render() } : texts
            guard let merged = try git.mergeFileContents(ancestor: laidOut[0], ours: laidOut[1], theirs: laidOut[2]) else { return nil }
            text = merged
            let tree = try git.updateTree(try git.commit(current).tree, applying: [.upsert(path: promptPath, blob: try git.createBlob(merged))])
            current = try git.createCommit(message: "git-grad: merge operator (scratch)\n", tree: tree, parents: [current, commit])
        }
        let result = PromptFile.parse(text).withoutEmptyRulesSection().render()
        return result == original || result == PromptFile.parse(original).withRulesSection().render() ? nil : result
    }

    // MARK: Writing

    /// Creates the trunk branch at `commit` unless it exists (an experiment run's first start).
    public func createTrunkIfMissing(at commit: ObjectID) throws {
        guard !mergesIntoMain, try git.branchTarget(trunk) == nil else { return }
        do {
            try git.updateReference(trunkReference, to: commit, expecting: nil, logMessage: "git-grad: experiment run trunk")
        } catch GitError.referenceMoved {
            // Created by another process in between: it stands.
        }
    }

    /// Commits a candidate prompt on its own branch with parent = `parent` (the trunk's tip). The
    /// branch must not exist yet: the compare-and-swap makes a concurrent writer fail loudly.
    public func commitCandidate(branch: CandidateBranch, parent: ObjectID, promptPath: String, text: String, message: StepMessage) throws -> ObjectID {
        let blob = try git.createBlob(text)
        let tree = try git.updateTree(try git.commit(parent).tree, applying: [.upsert(path: promptPath, blob: blob)])
        let commit = try git.createCommit(message: message.encode(), tree: tree, parents: [parent])
        try git.updateReference(branch.reference, to: commit, expecting: nil, logMessage: "git-grad: candidate")
        return commit
    }

    /// Records a verdict as an empty commit on the candidate's branch (so plain `git log` shows it).
    public func commitVerdict(branch: CandidateBranch, candidate: ObjectID, message: StepMessage) throws -> ObjectID {
        let commit = try git.createCommit(message: message.encode(), tree: try git.commit(candidate).tree, parents: [candidate])
        try git.updateReference(branch.reference, to: commit, expecting: candidate, logMessage: "git-grad: verdict")
        return commit
    }

    /// Merges an accepted candidate's branch into the trunk as a two-parent merge commit, only if
    /// the trunk is still at `expectedTip` (else `TrunkMoved`); then brings a clean working tree
    /// along when the trunk is main.
    public func merge(verdictCommit: ObjectID, expectedTip: ObjectID, message: StepMessage) throws -> (commit: ObjectID, workingTreeUpdated: Bool) {
        let commit: ObjectID
        do {
            commit = try git.createMergeCommit(ours: expectedTip, theirs: verdictCommit, message: message.encode(), updateReference: trunkReference)
        } catch GitError.referenceMoved {
            throw TrunkMoved(trunk: trunk)
        }
        let updated = mergesIntoMain ? try repository.syncWorkingTree(from: expectedTip, to: commit) : false
        return (commit, updated)
    }

    /// Removes a run's manifest and candidate branches (its merges stay on the trunk). Returns how
    /// many references were removed; throws when the run does not exist.
    public func dropRun(_ run: RunID, manifestReference: String) throws -> Int {
        let branches = try git.branches(matching: "grad/\(run.value)/*").map(\.name)
        let hasManifest = try git.referenceTarget(manifestReference) != nil
        guard hasManifest || !branches.isEmpty else {
            throw PromptRepoError.format("no run named \(run); `git grad runs` lists the runs")
        }
        if let head = try git.currentBranch(), branches.contains(head) {
            throw PromptRepoError.format("HEAD is on \(head), a branch of run \(run); `git checkout main` first")
        }
        for branch in branches { try git.deleteBranch(branch) }
        if hasManifest { try git.deleteReference(manifestReference) }
        return branches.count + (hasManifest ? 1 : 0)
    }

    /// Packs the loose objects and references a run wrote (see `Repository.packLooseObjects`).
    public func packObjects() throws { try git.packLooseObjects() }
}
