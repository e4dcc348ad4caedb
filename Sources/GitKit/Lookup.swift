internal import CLibgit2
import Foundation

extension Repository {
    /// Looks one object up, lends it to `body` and frees it afterwards: libgit2's lookup/free
    /// pairs in one place, so no handle outlives its use or leaks on a thrown error. A commit,
    /// tree or blob handle is a `git_object` handle in libgit2, so one pair serves all.
    func withObject<T>(_ id: ObjectID, _ kind: ObjectKind, _ body: (OpaquePointer) throws -> T) throws -> T {
        let object = try lookUp(id, kind)
        defer { git_object_free(object) }
        return try body(object)
    }

    /// An optional object: `body` gets nil for a nil id (libgit2 reads a nil tree as the empty tree).
    func withObject<T>(ifAny id: ObjectID?, _ kind: ObjectKind, _ body: (OpaquePointer?) throws -> T) throws -> T {
        guard let id else { return try body(nil) }
        return try withObject(id, kind) { try body($0) }
    }

    /// Several objects at once (a commit's parents), all freed after `body`.
    func withObjects<T>(_ ids: [ObjectID], _ kind: ObjectKind, _ body: ([OpaquePointer?]) throws -> T) throws -> T {
        var objects: [OpaquePointer?] = []
        defer { objects.forEach { git_object_free($0) } }
        for id in ids { objects.append(try lookUp(id, kind)) }
        return try body(objects)
    }

    /// The caller frees the handle with `git_object_free`.
    private func lookUp(_ id: ObjectID, _ kind: ObjectKind) throws -> OpaquePointer {
        var oid = id.raw
        var object: OpaquePointer?
        try check(git_object_lookup(&object, pointer, &oid, kind.libgit2Type), "git_object_lookup", reference: "\(kind.rawValue) \(id.short)")
        return object!
    }

    /// Lends `strings` to libgit2 as a `git_strarray` (pathspecs, refspecs), freed afterwards.
    func withStringArray<T>(_ strings: [String], _ body: (inout git_strarray) throws -> T) throws -> T {
        var pointers = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        return try pointers.withUnsafeMutableBufferPointer { buffer in
            var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            return try body(&array)
        }
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
