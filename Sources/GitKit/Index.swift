internal import CLibgit2

extension Repository {
    /// Makes the on-disk index match `tree`, so `git status` agrees with a commit that was written
    /// without going through the index. The corresponding libgit2 functions are
    /// `git_index_read_tree` and `git_index_write`.
    public func resetIndex(to tree: ObjectID) throws {
        var index: OpaquePointer?
        try check(git_repository_index(&index, pointer), "git_repository_index")
        defer { git_index_free(index) }
        try withObject(tree, .tree) { try check(git_index_read_tree(index, $0), "git_index_read_tree") }
        try check(git_index_write(index), "git_index_write")
    }
}
