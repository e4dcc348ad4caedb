internal import CLibgit2

extension Repository {
    /// Looks objects up by id, lends them to `body` and frees them afterwards: libgit2's
    /// lookup/free pairs in one place, so no handle outlives its use or leaks on a thrown error.
    /// A commit, tree or blob handle is a `git_object` handle in libgit2, so one pair serves all.
    func withObjects<T>(_ ids: [ObjectID], _ kind: ObjectKind, _ body: ([OpaquePointer?]) throws -> T) throws -> T {
        var objects: [OpaquePointer?] = []
        defer { objects.forEach { git_object_free($0) } }
        for id in ids {
            var oid = id.raw
            var object: OpaquePointer?
            try check(git_object_lookup(&object, pointer, &oid, kind.libgit2Type), "git_object_lookup", reference: "\(kind.rawValue) \(id.short)")
            objects.append(object)
        }
        return try body(objects)
    }

    /// One object looked up and freed after `body`.
    func withObject<T>(_ id: ObjectID, _ kind: ObjectKind, _ body: (OpaquePointer) throws -> T) throws -> T {
        try withObjects([id], kind) { try body($0[0]!) }
    }

    /// An optional object: `body` gets nil for a nil id (libgit2 reads a nil tree as the empty tree).
    func withObject<T>(ifAny id: ObjectID?, _ kind: ObjectKind, _ body: (OpaquePointer?) throws -> T) throws -> T {
        try withObjects(id.map { [$0] } ?? [], kind) { try body($0.first ?? nil) }
    }
}

extension ObjectKind {
    var libgit2Type: git_object_t {
        switch self {
        case .commit: GIT_OBJECT_COMMIT
        case .tree: GIT_OBJECT_TREE
        case .blob: GIT_OBJECT_BLOB
        case .tag: GIT_OBJECT_TAG
        }
    }
}
