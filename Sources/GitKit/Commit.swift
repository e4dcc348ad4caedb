internal import CLibgit2
import Foundation

/// A commit copied out of libgit2.
public struct Commit: Sendable, Equatable {
    public let id: ObjectID
    public let tree: ObjectID
    public let parents: [ObjectID]
    /// The full message, exactly as stored.
    public let message: String
    /// The first paragraph folded into one line. The corresponding libgit2 function is `git_commit_summary`.
    public let summary: String
    /// Everything after the summary paragraph, or "". The corresponding libgit2 function is `git_commit_body`.
    public let body: String
    public let author: Signature
    public let committer: Signature

    public var isMerge: Bool { parents.count > 1 }
}

extension Repository {
    /// Reads a commit. The corresponding libgit2 function is `git_commit_lookup`.
    public func commit(_ id: ObjectID) throws -> Commit {
        try withObject(id, .commit) { commit in
            let parentCount = git_commit_parentcount(commit)
            let parents = (0..<parentCount).map { ObjectID(git_commit_parent_id(commit, $0)!) }
            return Commit(
                id: id,
                tree: ObjectID(git_commit_tree_id(commit)!),
                parents: parents,
                message: git_commit_message(commit).map { String(cString: $0) } ?? "",
                summary: git_commit_summary(commit).map { String(cString: $0) } ?? "",
                body: git_commit_body(commit).map { String(cString: $0) } ?? "",
                author: Signature(git_commit_author(commit)!),
                committer: Signature(git_commit_committer(commit)!))
        }
    }

    /// Writes a commit and, when `updateReference` is given, moves that reference to it in the
    /// same step. libgit2 then requires the reference to point at `parents[0]` (or not exist for a
    /// root commit); if another writer moved it first this throws `GitError.referenceMoved` —
    /// git-grad's optimistic lock. The corresponding libgit2 function is `git_commit_create`.
    @discardableResult
    public func createCommit(
        message: String,
        tree: ObjectID,
        parents: [ObjectID],
        author: Signature? = nil,
        committer: Signature? = nil,
        updateReference: String? = nil
    ) throws -> ObjectID {
        let author = author ?? defaultSignature()
        let committer = committer ?? author
        var oid = git_oid()
        try coordinated(updateReference) {
            try writeCommit(&oid, message: message, tree: tree, parents: parents, author: author, committer: committer, updateReference: updateReference)
        }
        return ObjectID(oid)
    }

    private func writeCommit(
        _ oid: inout git_oid, message: String, tree: ObjectID, parents: [ObjectID], author: Signature, committer: Signature,
        updateReference: String?
    ) throws {
        try withObject(tree, .tree) { treeObject in
            try withObjects(parents, .commit) { parentObjects in
                try author.withGitSignature { authorSignature in
                    try committer.withGitSignature { committerSignature in
                        var parentObjects = parentObjects
                        try parentObjects.withUnsafeMutableBufferPointer { buffer in
                            try check(
                                git_commit_create(
                                    &oid, pointer, updateReference, authorSignature, committerSignature, "UTF-8", message,
                                    treeObject, parents.count, buffer.baseAddress),
                                "git_commit_create", reference: updateReference)
                        }
                    }
                }
            }
        }
    }
}
