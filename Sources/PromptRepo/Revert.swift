import Foundation
import GitKit

/// Reverting a step on main: a new commit whose tree undoes `target`, with git's own message
/// shape plus a `Reverts:` trailer.
public struct RevertResult: Sendable {
    public let commit: ObjectID
    public let reverted: ObjectID
    public let workingTreeUpdated: Bool
}

extension PromptRepository {
    /// Reverts `target` on main. Refuses when a file the revert changes (whichever task's prompt
    /// it is) has uncommitted edits, when the revert would change nothing or conflicts, and when
    /// main moved while the commit was written. `trailers` are added after `Reverts:`
    /// (`revert --regression` adds `Restores-Score:`).
    public func revert(_ target: ObjectID, trailers: [Trailer] = []) throws -> RevertResult {
        let tip = try mainTip()
        let commit = try git.commit(target)
        guard try target == tip || git.mergeBase(target, tip) == target else {
            throw PromptRepoError.conflict("\(target.short) is not on main; only steps on main can be reverted")
        }
        guard !commit.parents.isEmpty else {
            throw PromptRepoError.conflict(
                "\(target.short) is the first commit (the seed); reverting it would delete every file. Revert a later step instead")
        }
        let tree = try git.revertTree(target, onto: tip)
        guard tree != (try git.commit(tip).tree) else {
            throw PromptRepoError.conflict("reverting \(target.short) changes nothing on main; it may already be reverted")
        }
        let changed = try git.changedPaths(try git.commit(tip).tree, tree)
        let dirty = try git.status(paths: changed).map(\.path)
        guard dirty.isEmpty else {
            throw PromptRepoError.conflict(
                "\(dirty.joined(separator: ", ")): uncommitted edits; commit or stash them, then run revert again")
        }
        let message = StepMessage(
            subject: "Revert \"\(commit.summary)\"",
            body: "This reverts commit \(target.hex).",
            trailers: [Trailer(key: TrailerKey.reverts, value: target.hex)] + trailers)
        let newCommit: ObjectID
        do {
            newCommit = try git.createCommit(
                message: message.encode(), tree: tree, parents: [tip], updateReference: GradRefs.main)
        } catch GitError.referenceMoved {
            throw PromptRepoError.conflict("main moved while the revert was being written; run revert again")
        }
        let updated = try syncWorkingTree(from: tip, to: newCommit)
        return RevertResult(commit: newCommit, reverted: target, workingTreeUpdated: updated)
    }
}
