internal import CLibgit2
import Foundation

/// What `packLooseObjects` did.
public struct PackSummary: Sendable, Equatable {
    /// Loose objects written into the new pack and removed as loose files.
    public var objects: Int
    /// Loose references folded into `packed-refs`.
    public var referencesPacked: Bool
}

extension Repository {
    /// Packs every loose object into one new pack (deltas included), removes the loose copies,
    /// and folds loose references into `packed-refs`: what `git gc` does for a run's objects, so
    /// `.git` grows by kilobytes per step instead of 128 KB, and listing 10,000 branches reads
    /// one file instead of 10,000.
    ///
    /// Safe against a kill at any moment: a loose file is removed only once the pack holding it
    /// and its index are in place (libgit2 renames both into `objects/pack` when complete).
    /// The corresponding libgit2 functions are `git_odb_backend_loose` with `git_odb_foreach`
    /// (the loose objects), `git_packbuilder_insert` and `git_packbuilder_write` (the pack), and
    /// `git_refdb_compress` (the references).
    @discardableResult
    public func packLooseObjects() throws -> PackSummary {
        let loose = try looseObjects()
        if !loose.isEmpty {
            var builder: OpaquePointer?
            try check(git_packbuilder_new(&builder, pointer), "git_packbuilder_new")
            defer { git_packbuilder_free(builder) }
            // Both cores would go to delta search; one keeps the machine usable and is fast enough.
            git_packbuilder_set_threads(builder, 1)
            // Newest history first, with paths, so that each tree's neighbours in the delta
            // window are its own earlier versions (in hash order they were random versions and
            // nothing deltified: 6.4 KB per step instead of about 1).
            for (id, name) in try historyOrder(of: Set(loose)) {
                var oid = id.raw
                try check(git_packbuilder_insert(builder, &oid, name), "git_packbuilder_insert")
            }
            try check(git_packbuilder_write(builder, nil, 0, nil, nil), "git_packbuilder_write")
            let objects = gitDirectory.appendingPathComponent("objects")
            let packs = try packDatabase()
            defer { git_odb_free(packs) }
            for id in loose {
                // Only an object that reads back from a pack loses its loose copy.
                var oid = id.raw
                guard git_odb_exists(packs, &oid) == 1 else { continue }
                let hex = id.hex
                try? FileManager.default.removeItem(at: objects.appendingPathComponent("\(hex.prefix(2))/\(hex.dropFirst(2))"))
            }
        }
        var refdb: OpaquePointer?
        try check(git_repository_refdb(&refdb, pointer), "git_repository_refdb")
        defer { git_refdb_free(refdb) }
        // Packing rewrites packed-refs and removes loose references: a reference write like any other.
        try coordinated("packed-refs") { try check(git_refdb_compress(refdb), "git_refdb_compress") }
        return PackSummary(objects: loose.count, referencesPacked: true)
    }

    /// The ids of the objects stored as loose files, read through libgit2's loose backend alone.
    func looseObjects() throws -> [ObjectID] {
        var odb: OpaquePointer?
        try check(git_odb_new(&odb), "git_odb_new")
        defer { git_odb_free(odb) }
        var backend: OpaquePointer?
        let objects = gitDirectory.appendingPathComponent("objects").path
        try check(git_odb_backend_loose(&backend, objects, -1, 0, 0, 0), "git_odb_backend_loose")
        // The database owns the backend from here on and frees it with itself.
        try check(git_odb_add_backend(odb, backend, 1), "git_odb_add_backend")
        final class Collector { var ids: [ObjectID] = [] }
        let collector = Collector()
        try withExtendedLifetime(collector) {
            try check(git_odb_foreach(odb, { oid, payload in
                Unmanaged<Collector>.fromOpaque(payload!).takeUnretainedValue().ids.append(ObjectID(oid!))
                return 0
            }, Unmanaged.passUnretained(collector).toOpaque()), "git_odb_foreach")
        }
        return collector.ids
    }

    /// The loose objects in the order `git gc` would pack them: the loose commits reachable
    /// from references, newest first, each followed by its loose trees and blobs with their
    /// paths; then any loose object no reference reaches.
    func historyOrder(of loose: Set<ObjectID>) throws -> [(ObjectID, String?)] {
        var commits: [(id: ObjectID, time: Int64, tree: ObjectID)] = []
        var seen: Set<ObjectID> = []
        var pending = try references(matching: "refs/*").map(\.target).filter { loose.contains($0) }
        while let id = pending.popLast() {
            guard seen.insert(id).inserted else { continue }
            // A loose object a reference reaches that is not a commit (a tag, a blob) is placed later.
            guard let (time, tree, parents) = try? withObject(id, .commit, { commit in
                (git_commit_time(commit), ObjectID(git_commit_tree_id(commit)!),
                 (0..<git_commit_parentcount(commit)).map { ObjectID(git_commit_parent_id(commit, $0)!) })
            }) else { continue }
            commits.append((id, time, tree))
            pending += parents.filter { loose.contains($0) }
        }
        var order: [(ObjectID, String?)] = []
        var inserted: Set<ObjectID> = []
        func add(_ id: ObjectID, _ name: String?) -> Bool {
            guard loose.contains(id), inserted.insert(id).inserted else { return false }
            order.append((id, name))
            return true
        }
        func addTree(_ id: ObjectID, path: String) {
            guard add(id, path) else { return }
            let entries = (try? withObject(id, .tree) { tree in
                (0..<git_tree_entrycount(tree)).compactMap { index -> (ObjectID, String, Bool)? in
                    guard let entry = git_tree_entry_byindex(tree, index) else { return nil }
                    return (ObjectID(git_tree_entry_id(entry)!), String(cString: git_tree_entry_name(entry)), git_tree_entry_type(entry) == GIT_OBJECT_TREE)
                }
            }) ?? []
            for (child, entryName, isTree) in entries {
                let name = path.isEmpty ? entryName : "\(path)/\(entryName)"
                if isTree { addTree(child, path: name) } else { _ = add(child, name) }
            }
        }
        for commit in commits.sorted(by: { $0.time > $1.time }) {
            _ = add(commit.id, nil)
            addTree(commit.tree, path: "")
        }
        for id in loose where !inserted.contains(id) { order.append((id, nil)) }
        return order
    }

    /// A database of this repository's pack files alone, read fresh from disk.
    private func packDatabase() throws -> OpaquePointer? {
        var odb: OpaquePointer?
        try check(git_odb_new(&odb), "git_odb_new")
        var backend: OpaquePointer?
        let objects = gitDirectory.appendingPathComponent("objects").path
        do {
            try check(git_odb_backend_pack(&backend, objects), "git_odb_backend_pack")
            try check(git_odb_add_backend(odb, backend, 1), "git_odb_add_backend")
        } catch {
            git_odb_free(odb)
            throw error
        }
        return odb
    }
}
