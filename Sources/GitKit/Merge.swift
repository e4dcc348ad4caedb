internal import CLibgit2
import Foundation

extension Repository {
    /// Merges `theirs` into `ours` in memory and returns the merged tree; nothing on disk but the
    /// new tree objects changes. Conflicts throw `GitError.conflicts` with their paths.
    /// The corresponding libgit2 functions are `git_merge_commits` and `git_index_write_tree_to`.
    public func mergeTree(ours: ObjectID, theirs: ObjectID) throws -> ObjectID {
        try withObjects([ours, theirs], .commit) { commits in
            var options = git_merge_options()
            try check(git_merge_options_init(&options, UInt32(GIT_MERGE_OPTIONS_VERSION)), "git_merge_options_init")
            var index: OpaquePointer?
            try check(git_merge_commits(&index, pointer, commits[0], commits[1], &options), "git_merge_commits")
            defer { git_index_free(index) }
            return try writeInMemoryIndex(index, operation: "merge of \(theirs.short) into \(ours.short)")
        }
    }

    /// Writes a two-parent merge commit of `theirs` into `ours` and moves `updateReference` to it
    /// when it still points at `ours`.
    @discardableResult
    public func createMergeCommit(
        ours: ObjectID, theirs: ObjectID, message: String, updateReference: String? = nil, signature: Signature? = nil
    ) throws -> ObjectID {
        let tree = try mergeTree(ours: ours, theirs: theirs)
        return try createCommit(
            message: message, tree: tree, parents: [ours, theirs], author: signature, updateReference: updateReference)
    }

    /// Reverses `commit` on top of `onto` in memory and returns the resulting tree. For a merge
    /// commit the change is taken against `mainline` (1 = the first parent, as `git revert -m 1`).
    /// The corresponding libgit2 function is `git_revert_commit`.
    public func revertTree(_ commit: ObjectID, onto: ObjectID, mainline: UInt32? = nil) throws -> ObjectID {
        try withObjects([commit, onto], .commit) { commits in
            let (revertCommit, ontoCommit) = (commits[0], commits[1])
            let isMerge = git_commit_parentcount(revertCommit) > 1
            var options = git_merge_options()
            try check(git_merge_options_init(&options, UInt32(GIT_MERGE_OPTIONS_VERSION)), "git_merge_options_init")
            var index: OpaquePointer?
            try check(
                git_revert_commit(&index, pointer, revertCommit, ontoCommit, mainline ?? (isMerge ? 1 : 0), &options),
                "git_revert_commit")
            defer { git_index_free(index) }
            return try writeInMemoryIndex(index, operation: "revert of \(commit.short)")
        }
    }

    /// Writes an in-memory index produced by a merge or revert as a tree, or reports its conflicts.
    private func writeInMemoryIndex(_ index: OpaquePointer?, operation: String) throws -> ObjectID {
        if git_index_has_conflicts(index) != 0 {
            throw GitError.conflicts(operation: operation, paths: try conflictPaths(index))
        }
        var oid = git_oid()
        try check(git_index_write_tree_to(&oid, index, pointer), "git_index_write_tree_to")
        return ObjectID(oid)
    }

    /// The corresponding libgit2 function is `git_index_conflict_next`.
    private func conflictPaths(_ index: OpaquePointer?) throws -> [String] {
        var iterator: OpaquePointer?
        try check(git_index_conflict_iterator_new(&iterator, index), "git_index_conflict_iterator_new")
        defer { git_index_conflict_iterator_free(iterator) }
        var paths: Set<String> = []
        var ancestor: UnsafePointer<git_index_entry>?, ours: UnsafePointer<git_index_entry>?, theirs: UnsafePointer<git_index_entry>?
        while git_index_conflict_next(&ancestor, &ours, &theirs, iterator) == 0 {
            for entry in [ancestor, ours, theirs] {
                if let entry, let path = entry.pointee.path { paths.insert(String(cString: path)) }
            }
        }
        return paths.sorted()
    }
}

extension Repository {
    /// Three-way merges file contents; nil when the merge has conflicts.
    /// The corresponding libgit2 function is `git_merge_file`.
    public func mergeFileContents(ancestor: String, ours: String, theirs: String) throws -> String? {
        let texts = [ancestor, ours, theirs].map { Array($0.utf8CString) }
        return try texts[0].withUnsafeBufferPointer { a in
            try texts[1].withUnsafeBufferPointer { o in
                try texts[2].withUnsafeBufferPointer { t in
                    func input(_ buffer: UnsafeBufferPointer<CChar>) throws -> git_merge_file_input {
                        var value = git_merge_file_input()
                        try check(git_merge_file_input_init(&value, UInt32(GIT_MERGE_FILE_INPUT_VERSION)), "git_merge_file_input_init")
                        value.ptr = buffer.baseAddress
                        value.size = buffer.count - 1
                        return value
                    }
                    var ancestorInput = try input(a), oursInput = try input(o), theirsInput = try input(t)
                    var result = git_merge_file_result()
                    try check(git_merge_file(&result, &ancestorInput, &oursInput, &theirsInput, nil), "git_merge_file")
                    defer { git_merge_file_result_free(&result) }
                    guard result.automergeable != 0, let pointer = result.ptr else { return nil }
                    return String(decoding: UnsafeRawBufferPointer(start: pointer, count: result.len), as: UTF8.self)
                }
            }
        }
    }
}
