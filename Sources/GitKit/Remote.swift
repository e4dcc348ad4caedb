internal import CLibgit2
import Foundation

/// A reference a remote refused to update on push, with its reason.
public struct PushRejection: Sendable, Equatable {
    public let reference: String
    public let reason: String
}

extension Repository {
    /// Fetches `refspecs` from `remote`: a configured remote's name, or a URL or path.
    /// The corresponding libgit2 function is `git_remote_fetch`.
    public func fetch(from remote: String, refspecs: [String]) throws {
        try withRemote(remote) { handle in
            var options = git_fetch_options()
            try check(git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)), "git_fetch_options_init")
            options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE
            try withStringArray(refspecs) { array in
                try check(git_remote_fetch(handle, &array, &options, "git-grad: fetch"), "git_remote_fetch", reference: remote)
            }
        }
    }

    /// Pushes `refspecs` to `remote` and returns the references it refused (a reference that
    /// would not fast-forward is refused unless its refspec starts with `+`).
    /// The corresponding libgit2 function is `git_remote_push`.
    public func push(to remote: String, refspecs: [String]) throws -> [PushRejection] {
        final class Rejections { var list: [PushRejection] = [] }
        let rejections = Rejections()
        try withRemote(remote) { handle in
            var options = git_push_options()
            try check(git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION)), "git_push_options_init")
            options.callbacks.payload = Unmanaged.passUnretained(rejections).toOpaque()
            options.callbacks.push_update_reference = { reference, status, payload in
                if let status, let payload {
                    let box = Unmanaged<Rejections>.fromOpaque(payload).takeUnretainedValue()
                    box.list.append(PushRejection(reference: reference.map { String(cString: $0) } ?? "", reason: String(cString: status)))
                }
                return 0
            }
            try withStringArray(refspecs) { array in
                let code = git_remote_push(handle, &array, &options)
                if code == GIT_ENONFASTFORWARD.rawValue {
                    let failure = lastFailure(code, "git_remote_push")
                    rejections.list.append(PushRejection(reference: "", reason: failure.message))
                    return
                }
                try check(code, "git_remote_push", reference: remote)
            }
        }
        return rejections.list
    }

    /// Whether a remote of that name is configured.
    public func hasRemote(named name: String) -> Bool {
        var handle: OpaquePointer?
        defer { git_remote_free(handle) }
        return git_remote_lookup(&handle, pointer, name) == 0
    }

    /// Adds fetch and push refspecs to a configured remote, skipping those it already has.
    /// The corresponding libgit2 functions are `git_remote_add_fetch` and `git_remote_add_push`.
    public func addRefspecs(toRemote name: String, fetch: [String], push: [String]) throws -> Int {
        var added = 0
        try withRemote(name) { handle in
            var existing = git_strarray()
            try check(git_remote_get_fetch_refspecs(&existing, handle), "git_remote_get_fetch_refspecs")
            let fetchHave = Self.strings(existing)
            git_strarray_dispose(&existing)
            try check(git_remote_get_push_refspecs(&existing, handle), "git_remote_get_push_refspecs")
            let pushHave = Self.strings(existing)
            git_strarray_dispose(&existing)
            for spec in fetch where !fetchHave.contains(spec) {
                try check(git_remote_add_fetch(pointer, name, spec), "git_remote_add_fetch", reference: spec)
                added += 1
            }
            for spec in push where !pushHave.contains(spec) {
                try check(git_remote_add_push(pointer, name, spec), "git_remote_add_push", reference: spec)
                added += 1
            }
        }
        return added
    }

    private func withRemote<T>(_ remote: String, _ body: (OpaquePointer?) throws -> T) throws -> T {
        var handle: OpaquePointer?
        if git_remote_lookup(&handle, pointer, remote) != 0 {
            try check(git_remote_create_anonymous(&handle, pointer, remote), "git_remote_create_anonymous", reference: remote)
        }
        defer { git_remote_free(handle) }
        return try body(handle)
    }

    private static func strings(_ array: git_strarray) -> [String] {
        (0..<array.count).compactMap { array.strings[$0].map { String(cString: $0) } }
    }
}
