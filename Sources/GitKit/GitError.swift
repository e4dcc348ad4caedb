internal import CLibgit2

/// What libgit2 reported about a failed call, read from `git_error_last` right after it failed.
public struct LibGit2Failure: Sendable, Equatable, CustomStringConvertible {
    /// The libgit2 function that failed, e.g. `git_commit_create`.
    public let function: String
    /// Its return code (`GIT_ENOTFOUND`, `GIT_EMODIFIED`, ...).
    public let code: Int32
    /// The error class (`GIT_ERROR_REFERENCE`, ...).
    public let errorClass: Int32
    public let message: String

    public var description: String {
        "\(function) failed (code \(code), class \(errorClass)): \(message)"
    }
}

/// Every error GitKit throws. Callers switch on the cases that change what they do next
/// (a moved reference is an optimistic-lock loss, a conflict is a result) and print the rest.
public enum GitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A libgit2 call failed for a reason that has no case of its own.
    case libgit2(LibGit2Failure)
    /// A reference was not where the caller expected it (`GIT_EMODIFIED`): someone else moved it.
    case referenceMoved(reference: String, LibGit2Failure)
    /// An object, reference or revision does not exist (`GIT_ENOTFOUND`).
    case notFound(String)
    /// A merge or revert produced conflicts in these paths.
    case conflicts(operation: String, paths: [String])
    /// The working tree has uncommitted changes in these paths, so the operation would lose work.
    case uncommittedChanges(paths: [String])
    /// The repository has no working tree (bare) but the operation needs one.
    case bareRepository(String)
    /// A caller passed something GitKit cannot use (an invalid path or reference name).
    case invalidArgument(String)

    /// Whether another writer held (a lock file) or moved the reference: worth retrying from
    /// its new state.
    public var isContention: Bool {
        switch self {
        case .referenceMoved: return true
        case .libgit2(let failure): return failure.code == GIT_ELOCKED.rawValue || failure.message.contains("locked file")
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .libgit2(let failure):
            let message = failure.message
            if ["No space left on device", "File too large", "Disk quota exceeded"].contains(where: message.contains) {
                return "git could not write to the repository, the disk is full or a file-size limit was reached (\(message)); free space and run the command again"
            }
            if ["Permission denied", "Read-only file system"].contains(where: message.contains) {
                return "git could not write to the repository (\(message)); make the .git folder writable and run the command again"
            }
            return failure.description
        case .referenceMoved(let reference, let failure):
            return "reference \(reference) moved while it was being updated (\(failure.message))"
        case .notFound(let what):
            return "\(what) not found"
        case .conflicts(let operation, let paths):
            return "\(operation) has conflicts in: \(paths.joined(separator: ", "))"
        case .uncommittedChanges(let paths):
            return "uncommitted changes in: \(paths.joined(separator: ", "))"
        case .bareRepository(let path):
            return "\(path) is a bare repository; this needs a working tree"
        case .invalidArgument(let message):
            return message
        }
    }
}

/// Turns a libgit2 return code into a thrown `GitError`. Reads `git_error_last` immediately, on
/// the same thread, because libgit2 keeps the last error per thread and the next call clears it.
func check(_ code: Int32, _ function: String, reference: String? = nil) throws {
    guard code < 0 else { return }
    let failure = lastFailure(code, function)
    if code == GIT_EMODIFIED.rawValue {
        throw GitError.referenceMoved(reference: reference ?? "?", failure)
    }
    if code == GIT_ENOTFOUND.rawValue {
        throw GitError.notFound(reference ?? failure.message)
    }
    throw GitError.libgit2(failure)
}

func lastFailure(_ code: Int32, _ function: String) -> LibGit2Failure {
    if let error = git_error_last() {
        let message = error.pointee.message.map { String(cString: $0) } ?? "unknown error"
        return LibGit2Failure(function: function, code: code, errorClass: error.pointee.klass, message: message)
    }
    return LibGit2Failure(function: function, code: code, errorClass: 0, message: "no error message")
}

/// `check` for calls where "not found" is an answer rather than a failure: false when libgit2
/// found nothing, true on success, and a thrown `GitError` for anything else.
func found(_ code: Int32, _ function: String, reference: String? = nil) throws -> Bool {
    if code == GIT_ENOTFOUND.rawValue { return false }
    try check(code, function, reference: reference)
    return true
}
