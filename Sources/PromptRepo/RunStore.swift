import Foundation
import GitKit

/// The one writer of an optimization run's git record: candidate, verdict and merge commits on
/// their branches, evaluation notes, run and experiment manifests (through `ManifestStore`), the
/// trunk an experiment run merges into, and the packing after a run. Reads go through `reading`,
/// on the same repository handle; `runs` and the report read through `RunLedger` alone.
///
/// libgit2 handles are not thread-safe, so the store is an actor holding the process's one
/// handle: every read and write of an optimization goes through it, one at a time.
public actor RunStore {
    let repository: PromptRepository
    /// The repository's working directory and its `.git`, readable without a hop to the actor.
    public nonisolated let root: URL
    public nonisolated let gitDirectory: URL

    private var git: Repository { repository.git }

    /// Takes over `repository`: from here on only the store touches it.
    public init(repository: sending PromptRepository) {
        root = repository.root
        gitDirectory = repository.gitDirectory
        self.repository = repository
    }

    /// Thrown by `merge` when the trunk moved since the step started (the compare-and-swap lost).
    public struct TrunkMoved: Error, Sendable, Equatable {
        public let trunk: String
    }

    /// Reads the record through the store's handle.
    public func reading<T: Sendable>(_ body: @Sendable (RunLedger) throws -> T) throws -> T { try body(RunLedger(repository)) }

    /// The tip of `trunk`, the branch a run merges into: main, or an experiment run's own.
    public func trunkTip(_ trunk: String) throws -> ObjectID {
        if trunk == GradRefs.mainBranch { return try repository.mainTip() }
        guard let tip = try git.branchTarget(trunk) else { throw PromptRepoError.missingTrunk(trunk) }
        return tip
    }

    /// Creates the trunk branch at `commit` unless it exists (an experiment run's first start).
    public func createTrunkIfMissing(_ trunk: String, at commit: ObjectID) throws {
        guard trunk != GradRefs.mainBranch, try git.branchTarget(trunk) == nil else { return }
        do {
            try git.updateReference("refs/heads/\(trunk)", to: commit, expecting: nil, logMessage: "git-grad: experiment run trunk")
        } catch GitError.referenceMoved {
            // Created by another process in between: it stands.
        }
    }

    // MARK: Steps

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

    /// Merges an accepted candidate's branch into `trunk` as a two-parent merge commit, then
    /// brings a clean working tree along when the trunk is main. The trunk must still be at
    /// `expectedTip`, or have moved only by commits that touch none of the files the candidate
    /// changed (another task's run merging its own prompt): then the merge is made onto the new
    /// tip. Otherwise `TrunkMoved`. All of it holds the writer lock, so the tip read and the
    /// compare-and-swap see the same trunk.
    public func merge(
        verdictCommit: ObjectID, into trunk: String, expectedTip: ObjectID, message: StepMessage
    ) throws -> (commit: ObjectID, workingTreeUpdated: Bool) {
        let reference = "refs/heads/\(trunk)"
        let write = { () throws -> (commit: ObjectID, workingTreeUpdated: Bool) in
            let current = try self.trunkTip(trunk)
            guard try current == expectedTip || self.touchesOtherFiles(from: expectedTip, to: current, than: verdictCommit) else {
                throw TrunkMoved(trunk: trunk)
            }
            let commit: ObjectID
            do {
                commit = try self.git.createMergeCommit(ours: current, theirs: verdictCommit, message: message.encode(), updateReference: reference)
            } catch GitError.referenceMoved {
                throw TrunkMoved(trunk: trunk)
            } catch GitError.conflicts {
                throw TrunkMoved(trunk: trunk)
            }
            let updated = trunk == GradRefs.mainBranch ? try self.repository.syncWorkingTree(from: current, to: commit) : false
            return (commit, updated)
        }
        guard let coordinator = git.writeCoordinator else { return try write() }
        return try coordinator.coordinate(reference, write)
    }

    /// Whether `tip` descends from `base` by changes to files other than those `candidate` changed from `base`.
    private func touchesOtherFiles(from base: ObjectID, to tip: ObjectID, than candidate: ObjectID) throws -> Bool {
        guard try git.mergeBase(base, tip) == base else { return false }
        let theirs = Set(try git.changedPaths(try git.commit(base).tree, try git.commit(tip).tree))
        let ours = Set(try git.changedPaths(try git.commit(base).tree, try git.commit(candidate).tree))
        return theirs.isDisjoint(with: ours)
    }

    /// Records a split's results in `commit`'s evaluation note (see `PromptRepository.recordSplit`).
    public func recordSplit(
        _ result: EvaluationNote.SplitResult, verdict: String? = nil, of commit: ObjectID, promptPath: String,
        model: EvaluationNote.ModelInfo, metric: String, task: String?
    ) throws {
        try repository.recordSplit(result, verdict: verdict, of: commit, promptPath: promptPath, model: model, metric: metric, task: task)
    }

    /// The prompt text of three-way merges of `commits` into `tip` (see `ScratchMerge`).
    public func mergedPromptText(of commits: [ObjectID], onto tip: ObjectID, promptPath: String) throws -> String? {
        try ScratchMerge(repository: repository).mergedPromptText(of: commits, onto: tip, promptPath: promptPath)
    }

    /// Packs the loose objects and references a run wrote (see `Repository.packLooseObjects`).
    public func packObjects() throws { try git.packLooseObjects() }
}
