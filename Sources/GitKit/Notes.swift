internal import CLibgit2
import Foundation

extension Repository {
    /// Attaches `text` as the note of `target` under `notesReference` (e.g. `refs/notes/grad`),
    /// replacing an existing note when `overwrite` is set.
    ///
    /// The note is stored as git fans out large notes trees, at `ab/cdef…` under the notes
    /// commit's tree, so a new note rewrites the root (256 entries at most) and one small subtree
    /// instead of one flat tree of every note: `git_note_create` writes flat, which made each
    /// recorded step slower as the history grew (38 ms at step 10,000). git, libgit2 and this
    /// reader all read any fan-out; a note already stored under another layout is moved.
    /// The corresponding libgit2 functions are `git_tree_create_updated` and `git_commit_create`.
    @discardableResult
    public func setNote(_ text: String, on target: ObjectID, notesReference: String, overwrite: Bool = true, signature: Signature? = nil) throws -> ObjectID {
        let signature = signature ?? defaultSignature()
        let blob = try createBlob(text)
        let hex = target.hex
        let fannedOut = "\(hex.prefix(2))/\(hex.dropFirst(2))"
        let layouts = [hex, fannedOut, "\(hex.prefix(2))/\(hex.dropFirst(2).prefix(2))/\(hex.dropFirst(4))"]
        // Another process writing a note at the same moment holds the notes ref's lock, or moves
        // it between our read and our write (the compare-and-swap then refuses, so nothing is
        // lost): both are retried, a little later, from the new tip.
        var attempt = 0
        while true {
            attempt += 1
            let parent = try referenceTarget(notesReference)
            let baseTree = try parent.map { try commit($0).tree }
            var changes: [TreeChange] = []
            if let baseTree {
                for path in layouts where try blobID(at: path, inTree: baseTree) != nil {
                    guard overwrite else { throw GitError.invalidArgument("a note on \(target.short) already exists") }
                    if path != fannedOut { changes.append(.remove(path: path)) }
                }
            }
            changes.append(.upsert(path: fannedOut, blob: blob))
            let tree = try updateTree(baseTree, applying: changes)
            do {
                try createCommit(
                    message: "Notes added by 'git-grad'\n", tree: tree, parents: parent.map { [$0] } ?? [],
                    author: signature, updateReference: notesReference)
                return blob
            } catch let error as GitError where attempt < 200 && error.isContention {
                usleep(UInt32.random(in: 2_000...20_000))
            }
        }
    }

    /// The note attached to `target`, or nil. The corresponding libgit2 function is `git_note_read`.
    public func note(on target: ObjectID, notesReference: String) throws -> String? {
        var note: OpaquePointer?, oid = target.raw
        guard try found(git_note_read(&note, pointer, notesReference, &oid), "git_note_read", reference: notesReference) else { return nil }
        defer { git_note_free(note) }
        return git_note_message(note).map { String(cString: $0) }
    }

    /// Every annotated object under `notesReference` with the id of its note blob.
    /// The corresponding libgit2 function is `git_note_foreach`.
    public func notes(notesReference: String) throws -> [(annotated: ObjectID, note: ObjectID)] {
        final class Collector { var pairs: [(ObjectID, ObjectID)] = [] }
        let collector = Collector()
        let code = withExtendedLifetime(collector) {
            git_note_foreach(pointer, notesReference, { blob, annotated, payload in
                Unmanaged<Collector>.fromOpaque(payload!).takeUnretainedValue().pairs.append((ObjectID(annotated!), ObjectID(blob!)))
                return 0
            }, Unmanaged.passUnretained(collector).toOpaque())
        }
        guard try found(code, "git_note_foreach", reference: notesReference) else { return [] }
        return collector.pairs.map { (annotated: $0.0, note: $0.1) }
    }
}
