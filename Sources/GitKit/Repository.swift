internal import CLibgit2
import Foundation

/// libgit2 must be initialised once per process before any other call; a global `let` is
/// initialised lazily and exactly once.
private let libgit2Initialized: Bool = {
    git_libgit2_init()
    // Object creation checks that referenced objects exist, so a bad id fails where it is made.
    _ = git_grad_opts_enable_strict_object_creation(1)
    return true
}()

/// An open git repository: the one GitKit type that owns a libgit2 pointer.
///
/// libgit2 handles are not thread-safe, so a `Repository` is deliberately not `Sendable`: keep it
/// in one actor or one thread. Everything it hands out (ids, commits, text) is a value.
public final class Repository {
    let pointer: OpaquePointer

    /// The `.git` directory.
    public let gitDirectory: URL
    /// The working tree, or nil for a bare repository.
    public let workingDirectory: URL?
    /// Every reference write (create, move, delete, a commit that moves a reference) runs through
    /// it when set; see `ReferenceWriteCoordinator`.
    public var writeCoordinator: (any ReferenceWriteCoordinator)?
    /// `user.name` and `user.email` as first read (see `defaultSignature`).
    private var identity: Signature?

    private init(pointer: OpaquePointer) {
        self.pointer = pointer
        gitDirectory = URL(fileURLWithPath: String(cString: git_repository_path(pointer)))
        if let workdir = git_repository_workdir(pointer) {
            workingDirectory = URL(fileURLWithPath: String(cString: workdir))
        } else {
            workingDirectory = nil
        }
    }

    deinit { git_repository_free(pointer) }

    /// Initialises libgit2 for calls that need no repository (trailer parsing, text diffs).
    static func ensureInitialized() { _ = libgit2Initialized }

    /// Opens the repository that contains `url`, searching parent directories like git does.
    /// The corresponding libgit2 function is `git_repository_open_ext`.
    public static func open(at url: URL) throws -> Repository {
        _ = libgit2Initialized
        var repo: OpaquePointer?
        let code = git_repository_open_ext(&repo, url.path, 0, nil)
        if code == GIT_ENOTFOUND.rawValue {
            throw GitError.notFound("git repository at or above \(url.path)")
        }
        try check(code, "git_repository_open_ext")
        return Repository(pointer: repo!)
    }

    /// Creates a repository (or reopens an existing one) whose first branch is `initialBranch`.
    /// The corresponding libgit2 function is `git_repository_init_ext`.
    public static func create(at url: URL, initialBranch: String = "main", bare: Bool = false) throws -> Repository {
        _ = libgit2Initialized
        var options = git_repository_init_options()
        try check(git_repository_init_options_init(&options, UInt32(GIT_REPOSITORY_INIT_OPTIONS_VERSION)), "git_repository_init_options_init")
        options.flags = GIT_REPOSITORY_INIT_MKPATH.rawValue | (bare ? GIT_REPOSITORY_INIT_BARE.rawValue : 0)
        var repo: OpaquePointer?
        try initialBranch.withCString { branch in
            options.initial_head = branch
            try check(git_repository_init_ext(&repo, url.path, &options), "git_repository_init_ext")
        }
        return Repository(pointer: repo!)
    }

    /// The signature from git's configuration (`user.name`, `user.email`), or a fixed fallback so
    /// that a machine without git identity can still record steps; stamped now. The identity is
    /// read once per handle: libgit2 snapshots the whole configuration for each look-up, and a
    /// step signs four objects.
    /// The corresponding libgit2 function is `git_signature_default`.
    public func defaultSignature() -> Signature {
        if identity == nil {
            var signature: UnsafeMutablePointer<git_signature>?
            if git_signature_default(&signature, pointer) == 0, let signature {
                defer { git_signature_free(signature) }
                identity = Signature(signature)
            } else {
                identity = Signature(name: "git-grad", email: "git-grad@localhost")
            }
        }
        var value = identity!
        value.time = Date()
        return value
    }

    // MARK: - Revisions

    /// Resolves a revision as git understands it (`main~2`, a short id, a branch name) to a commit.
    /// The corresponding libgit2 functions are `git_revparse_single` and `git_object_peel`.
    public func resolveCommit(_ revision: String) throws -> ObjectID {
        var object: OpaquePointer?
        let code = git_revparse_single(&object, pointer, revision)
        if code == GIT_EAMBIGUOUS.rawValue {
            throw GitError.invalidArgument("short id '\(revision)' is ambiguous (several objects start with it); give more of its characters")
        }
        if code == GIT_ENOTFOUND.rawValue || code == GIT_EINVALIDSPEC.rawValue {
            let failure = lastFailure(code, "git_revparse_single")
            throw GitError.notFound("revision '\(revision)' (\(failure.message))")
        }
        try check(code, "git_revparse_single")
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        let peel = git_object_peel(&commit, object, GIT_OBJECT_COMMIT)
        if peel < 0 {
            let kind = git_object_type2string(git_object_type(object)).map { String(cString: $0) } ?? "object"
            throw GitError.invalidArgument("'\(revision)' names a \(kind), not a commit; give a commit id, a branch or main~N")
        }
        defer { git_object_free(commit) }
        return ObjectID(git_object_id(commit)!)
    }

    /// Whether the object exists in the object database.
    public func contains(_ id: ObjectID) -> Bool {
        var odb: OpaquePointer?
        guard git_repository_odb(&odb, pointer) == 0 else { return false }
        defer { git_odb_free(odb) }
        var oid = id.raw
        return git_odb_exists(odb, &oid) != 0
    }

    /// What kind of object an id names, nil when the object database does not hold it.
    /// The corresponding libgit2 function is `git_odb_read_header`.
    public func objectKind(_ id: ObjectID) throws -> ObjectKind? {
        var odb: OpaquePointer?
        try check(git_repository_odb(&odb, pointer), "git_repository_odb")
        defer { git_odb_free(odb) }
        var oid = id.raw
        var size = 0
        var type = GIT_OBJECT_INVALID
        guard try found(git_odb_read_header(&size, &type, odb, &oid), "git_odb_read_header", reference: "object \(id.short)") else { return nil }
        switch type {
        case GIT_OBJECT_COMMIT: return .commit
        case GIT_OBJECT_TREE: return .tree
        case GIT_OBJECT_BLOB: return .blob
        case GIT_OBJECT_TAG: return .tag
        default: throw GitError.invalidArgument("object \(id.short) has an unknown type")
        }
    }

    // MARK: - Blobs

    /// Writes `data` as a blob. The corresponding libgit2 function is `git_blob_create_from_buffer`.
    public func createBlob(_ data: Data) throws -> ObjectID {
        var oid = git_oid()
        try data.withUnsafeBytes { bytes in
            try check(git_blob_create_from_buffer(&oid, pointer, bytes.baseAddress, bytes.count), "git_blob_create_from_buffer")
        }
        return ObjectID(oid)
    }

    public func createBlob(_ text: String) throws -> ObjectID { try createBlob(Data(text.utf8)) }

    /// The bytes of a blob. The corresponding libgit2 function is `git_blob_lookup`.
    public func blobData(_ id: ObjectID) throws -> Data {
        try withObject(id, .blob) { blob in
            let size = Int(git_blob_rawsize(blob))
            guard size > 0, let content = git_blob_rawcontent(blob) else { return Data() }
            return Data(bytes: content, count: size)
        }
    }

    /// Ids of the loose and packed objects: used by benchmarks to measure repository size.
    public func objectCount() throws -> Int {
        var odb: OpaquePointer?
        try check(git_repository_odb(&odb, pointer), "git_repository_odb")
        defer { git_odb_free(odb) }
        final class Counter { var count = 0 }
        let counter = Counter()
        try withExtendedLifetime(counter) {
            try check(git_odb_foreach(odb, { _, payload in
                Unmanaged<Counter>.fromOpaque(payload!).takeUnretainedValue().count += 1
                return 0
            }, Unmanaged.passUnretained(counter).toOpaque()), "git_odb_foreach")
        }
        return counter.count
    }
}

// Stated in code, not only in the comment above: sending a Repository across isolation domains
// is a compile-time error.
@available(*, unavailable)
extension Repository: Sendable {}

/// The four kinds of git object.
public enum ObjectKind: String, Sendable, Equatable {
    case commit, tree, blob, tag
}
