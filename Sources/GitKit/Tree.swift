internal import CLibgit2
import Foundation

/// One change to apply to a tree: write a file or remove one, at a slash-separated path.
public enum TreeChange: Sendable, Equatable {
    case upsert(path: String, blob: ObjectID)
    case remove(path: String)
}

extension Repository {
    /// The id of the empty tree, written if needed. The corresponding libgit2 function is `git_treebuilder_write`.
    public func emptyTree() throws -> ObjectID {
        var builder: OpaquePointer?
        try check(git_treebuilder_new(&builder, pointer, nil), "git_treebuilder_new")
        defer { git_treebuilder_free(builder) }
        var oid = git_oid()
        try check(git_treebuilder_write(&oid, builder), "git_treebuilder_write")
        return ObjectID(oid)
    }

    /// Writes a new tree: `base` (or the empty tree) with `changes` applied; nested paths create
    /// the directories they need. The corresponding libgit2 function is `git_tree_create_updated`.
    public func updateTree(_ base: ObjectID?, applying changes: [TreeChange]) throws -> ObjectID {
        for change in changes {
            let path: String
            switch change {
            case .upsert(let p, _), .remove(let p): path = p
            }
            guard !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
                throw GitError.invalidArgument("invalid tree path '\(path)'")
            }
        }

        // The C strings must outlive the call, so copy them into one allocation we free afterwards.
        let paths = changes.map { change -> UnsafeMutablePointer<CChar> in
            switch change {
            case .upsert(let path, _), .remove(let path): return strdup(path)!
            }
        }
        defer { paths.forEach { free($0) } }
        var updates = changes.enumerated().map { index, change -> git_tree_update in
            var update = git_tree_update()
            update.path = UnsafePointer(paths[index])
            switch change {
            case .upsert(_, let blob):
                update.action = GIT_TREE_UPDATE_UPSERT
                update.id = blob.raw
                update.filemode = GIT_FILEMODE_BLOB
            case .remove:
                update.action = GIT_TREE_UPDATE_REMOVE
            }
            return update
        }
        var oid = git_oid()
        // A nil baseline starts from the empty tree without writing it.
        try withObject(ifAny: base, .tree) { baseTree in
            try check(git_tree_create_updated(&oid, pointer, baseTree, updates.count, &updates), "git_tree_create_updated")
        }
        return ObjectID(oid)
    }

    /// The blob id at `path` in `tree`, or nil when the path is absent.
    /// The corresponding libgit2 function is `git_tree_entry_bypath`.
    public func blobID(at path: String, inTree tree: ObjectID) throws -> ObjectID? {
        try withObject(tree, .tree) { treeObject in
            var entry: OpaquePointer?
            guard try found(git_tree_entry_bypath(&entry, treeObject, path), "git_tree_entry_bypath") else { return nil }
            defer { git_tree_entry_free(entry) }
            guard git_tree_entry_type(entry) == GIT_OBJECT_BLOB else { return nil }
            return ObjectID(git_tree_entry_id(entry)!)
        }
    }

    /// The contents of the file at `path` in a commit, or nil when the commit has no such file.
    public func fileData(at path: String, inCommit commit: ObjectID) throws -> Data? {
        guard let blob = try blobID(at: path, inTree: try self.commit(commit).tree) else { return nil }
        return try blobData(blob)
    }

    /// Paths of all blobs in a tree, recursively. The corresponding libgit2 function is `git_tree_walk`.
    public func filePaths(inTree tree: ObjectID) throws -> [String] {
        final class Collector { var paths: [String] = [] }
        let collector = Collector()
        try withObject(tree, .tree) { treeObject in
            try check(git_tree_walk(treeObject, GIT_TREEWALK_PRE, { root, entry, payload in
                if git_tree_entry_type(entry) == GIT_OBJECT_BLOB {
                    let name = String(cString: git_tree_entry_name(entry))
                    let prefix = root.map { String(cString: $0) } ?? ""
                    Unmanaged<Collector>.fromOpaque(payload!).takeUnretainedValue().paths.append(prefix + name)
                }
                return 0
            }, Unmanaged.passUnretained(collector).toOpaque()), "git_tree_walk")
        }
        return withExtendedLifetime(collector) { collector.paths }
    }
}
