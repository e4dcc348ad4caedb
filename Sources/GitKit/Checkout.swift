internal import CLibgit2
import Foundation

/// A file whose working-tree or index state differs from HEAD.
public struct StatusEntry: Sendable, Equatable {
    public let path: String
    /// Raw `git_status_t` bits.
    public let flags: UInt32
    public var isUntracked: Bool { flags & GIT_STATUS_WT_NEW.rawValue != 0 }
}

extension Repository {
    /// Files with uncommitted changes (staged or not), optionally limited to `paths`; untracked files
    /// are listed only when `includeUntracked` is set. The corresponding libgit2 function is `git_status_list_new`.
    public func status(paths: [String] = [], includeUntracked: Bool = false) throws -> [StatusEntry] {
        guard workingDirectory != nil else { throw GitError.bareRepository(gitDirectory.path) }
        var options = git_status_options()
        try check(git_status_options_init(&options, UInt32(GIT_STATUS_OPTIONS_VERSION)), "git_status_options_init")
        options.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR
        options.flags = (includeUntracked ? GIT_STATUS_OPT_INCLUDE_UNTRACKED.rawValue : 0)
            | GIT_STATUS_OPT_EXCLUDE_SUBMODULES.rawValue
            | (paths.isEmpty ? 0 : GIT_STATUS_OPT_DISABLE_PATHSPEC_MATCH.rawValue)
        let cPaths = paths.map { strdup($0) }
        defer { cPaths.forEach { free($0) } }
        var list: OpaquePointer?
        try cPaths.withUnsafeBufferPointer { buffer in
            options.pathspec.strings = UnsafeMutablePointer(mutating: buffer.baseAddress)
            options.pathspec.count = buffer.count
            try check(git_status_list_new(&list, pointer, &options), "git_status_list_new")
        }
        defer { git_status_list_free(list) }
        return (0..<git_status_list_entrycount(list)).compactMap { index in
            guard let entry = git_status_byindex(list, index) else { return nil }
            let status = entry.pointee.status.rawValue
            guard status != GIT_STATUS_CURRENT.rawValue, status & GIT_STATUS_IGNORED.rawValue == 0 else { return nil }
            let delta = entry.pointee.index_to_workdir ?? entry.pointee.head_to_index
            guard let delta, let path = delta.pointee.new_file.path ?? delta.pointee.old_file.path else { return nil }
            return StatusEntry(path: String(cString: path), flags: status)
        }
    }

    /// Switches the working tree and HEAD to `branch`, refusing (and changing nothing) when tracked
    /// files have uncommitted changes. The corresponding libgit2 function is `git_checkout_tree`.
    public func checkout(branch: String) throws {
        let dirty = try status()
        guard dirty.isEmpty else { throw GitError.uncommittedChanges(paths: dirty.map(\.path)) }
        guard let target = try branchTarget(branch) else { throw GitError.notFound("branch '\(branch)'") }
        try checkoutTree(try commit(target).tree, baseline: nil)
        try setHead(branch: branch)
    }

    /// Brings the working tree and index from `oldTree` to `newTree` after a reference HEAD points at
    /// was moved by a commit written straight to it. Files the user changed since `oldTree` are not
    /// overwritten: libgit2 reports them as conflicts and this throws `uncommittedChanges`.
    public func updateWorkingTree(from oldTree: ObjectID, to newTree: ObjectID) throws {
        try checkoutTree(newTree, baseline: oldTree)
    }

    private func checkoutTree(_ tree: ObjectID, baseline: ObjectID?) throws {
        guard workingDirectory != nil else { throw GitError.bareRepository(gitDirectory.path) }
        try withObject(tree, .tree) { treeObject in
            try withObject(ifAny: baseline, .tree) { baselineObject in try checkout(treeObject, baseline: baselineObject) }
        }
    }

    private func checkout(_ treeObject: OpaquePointer, baseline baselineObject: OpaquePointer?) throws {
        var options = git_checkout_options()
        try check(git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION)), "git_checkout_options_init")
        options.checkout_strategy = GIT_CHECKOUT_SAFE.rawValue
        options.baseline = baselineObject
        final class Collector { var paths: [String] = [] }
        let collector = Collector()
        options.notify_flags = GIT_CHECKOUT_NOTIFY_CONFLICT.rawValue
        options.notify_cb = { _, path, _, _, _, payload in
            if let path { Unmanaged<Collector>.fromOpaque(payload!).takeUnretainedValue().paths.append(String(cString: path)) }
            return 0
        }
        options.notify_payload = Unmanaged.passUnretained(collector).toOpaque()
        let code = withExtendedLifetime(collector) { git_checkout_tree(pointer, treeObject, &options) }
        if code == GIT_ECONFLICT.rawValue || !collector.paths.isEmpty {
            throw GitError.uncommittedChanges(paths: collector.paths)
        }
        try check(code, "git_checkout_tree")
    }
}
