internal import CLibgit2
import Foundation

/// A run of consecutive lines that one commit last changed.
public struct BlameHunk: Sendable, Equatable {
    /// First line (1-based) and line count in the blamed version of the file.
    public let startLine: Int
    public let lineCount: Int
    /// The commit that last changed these lines (on a side branch when a merge brought them in).
    public let commit: ObjectID
    /// The file's path in that commit (it may have been renamed since).
    public let originalPath: String
}

extension Repository {
    /// Who last changed each line of `path` as of `commit`, following merges into every parent, so a
    /// line that came in through a merge is attributed to the branch commit that wrote it.
    /// The corresponding libgit2 function is `git_blame_file`.
    public func blame(path: String, at commit: ObjectID) throws -> [BlameHunk] {
        var options = git_blame_options()
        try check(git_blame_options_init(&options, UInt32(GIT_BLAME_OPTIONS_VERSION)), "git_blame_options_init")
        options.newest_commit = commit.raw
        var blame: OpaquePointer?
        try check(git_blame_file(&blame, pointer, path, &options), "git_blame_file", reference: "\(path) at \(commit.short)")
        defer { git_blame_free(blame) }
        return (0..<git_blame_get_hunk_count(blame)).compactMap { index in
            guard let hunk = git_blame_get_hunk_byindex(blame, index)?.pointee else { return nil }
            return BlameHunk(
                startLine: Int(hunk.final_start_line_number), lineCount: Int(hunk.lines_in_hunk),
                commit: ObjectID(hunk.final_commit_id), originalPath: hunk.orig_path.map { String(cString: $0) } ?? path)
        }
    }
}
