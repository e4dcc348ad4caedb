internal import CLibgit2
import Foundation

extension Repository {
    /// The unified patch between two trees, limited to `paths` when given (pathspecs).
    /// The corresponding libgit2 functions are `git_diff_tree_to_tree` and `git_diff_to_buf`.
    public func diffTrees(_ old: ObjectID?, _ new: ObjectID?, paths: [String] = [], contextLines: UInt32 = 3) throws -> String {
        try withTrees(old, new) { oldTree, newTree in try patch(oldTree, newTree, paths: paths, contextLines: contextLines) }
    }

    private func patch(_ oldTree: OpaquePointer?, _ newTree: OpaquePointer?, paths: [String], contextLines: UInt32) throws -> String {
        var options = git_diff_options()
        try check(git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION)), "git_diff_options_init")
        options.context_lines = contextLines
        var diff: OpaquePointer?
        try withStringArray(paths) { pathspec in
            options.pathspec = pathspec
            try check(git_diff_tree_to_tree(&diff, pointer, oldTree, newTree, &options), "git_diff_tree_to_tree")
        }
        defer { git_diff_free(diff) }
        var buf = git_buf()
        defer { git_buf_dispose(&buf) }
        try check(git_diff_to_buf(&buf, diff, GIT_DIFF_FORMAT_PATCH), "git_diff_to_buf")
        return buf.ptr.map { String(cString: $0) } ?? ""
    }

    /// Paths that differ between two trees. The corresponding libgit2 function is `git_diff_tree_to_tree`.
    public func changedPaths(_ old: ObjectID?, _ new: ObjectID?) throws -> [String] {
        try withTrees(old, new) { oldTree, newTree in
            var diff: OpaquePointer?
            try check(git_diff_tree_to_tree(&diff, pointer, oldTree, newTree, nil), "git_diff_tree_to_tree")
            defer { git_diff_free(diff) }
            return (0..<git_diff_num_deltas(diff)).compactMap { index in
                guard let delta = git_diff_get_delta(diff, index) else { return nil }
                let file = delta.pointee.new_file.path ?? delta.pointee.old_file.path
                return file.map { String(cString: $0) }
            }
        }
    }

    /// Two trees, either of which may be absent (the empty tree), for a tree-to-tree diff.
    private func withTrees<T>(_ old: ObjectID?, _ new: ObjectID?, _ body: (OpaquePointer?, OpaquePointer?) throws -> T) throws -> T {
        try withObject(ifAny: old, .tree) { oldTree in try withObject(ifAny: new, .tree) { newTree in try body(oldTree, newTree) } }
    }
}

/// The unified patch between two texts, as `diff -u` would print it with the given file names.
/// The corresponding libgit2 functions are `git_patch_from_buffers` and `git_patch_to_buf`.
public func unifiedDiff(old: String, new: String, oldPath: String = "a", newPath: String = "b", contextLines: UInt32 = 3) throws -> String {
    Repository.ensureInitialized()
    var options = git_diff_options()
    try check(git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION)), "git_diff_options_init")
    options.context_lines = contextLines
    var patch: OpaquePointer?
    let oldBytes = Array(old.utf8), newBytes = Array(new.utf8)
    try oldBytes.withUnsafeBytes { oldBuffer in
        try newBytes.withUnsafeBytes { newBuffer in
            try check(
                git_patch_from_buffers(
                    &patch, oldBuffer.baseAddress, oldBuffer.count, oldPath,
                    newBuffer.baseAddress, newBuffer.count, newPath, &options),
                "git_patch_from_buffers")
        }
    }
    defer { git_patch_free(patch) }
    var buf = git_buf()
    defer { git_buf_dispose(&buf) }
    try check(git_patch_to_buf(&buf, patch), "git_patch_to_buf")
    return buf.ptr.map { String(cString: $0) } ?? ""
}
