import CLibgit2
import Foundation

extension Repository {
    /// Attaches `text` as the note of `target` under `notesReference` (e.g. `refs/notes/grad`),
    /// replacing an existing note when `overwrite` is set. The corresponding libgit2 function is `git_note_create`.
    @discardableResult
    public func setNote(_ text: String, on target: ObjectID, notesReference: String, overwrite: Bool = true, signature: Signature? = nil) throws -> ObjectID {
        let signature = signature ?? defaultSignature()
        var noteOID = git_oid(), targetOID = target.raw
        // Another process writing a note at the same moment holds the notes ref's lock, or moves
        // the ref between our read and our write (libgit2 then refuses, so nothing is lost): both
        // are retried, a little later, from the new tip.
        var attempt = 0
        while true {
            attempt += 1
            let code = try signature.withGitSignature { sig in
                git_note_create(&noteOID, pointer, notesReference, sig, sig, &targetOID, text, overwrite ? 1 : 0)
            }
            let contended = code == GIT_ELOCKED.rawValue || code == GIT_EMODIFIED.rawValue
                || (code < 0 && lastFailure(code, "git_note_create").message.contains("locked file"))
            if contended && attempt < 200 {
                usleep(UInt32.random(in: 2_000...20_000))
                continue
            }
            try check(code, "git_note_create", reference: notesReference)
            return ObjectID(noteOID)
        }
    }

    /// The note attached to `target`, or nil. The corresponding libgit2 function is `git_note_read`.
    public func note(on target: ObjectID, notesReference: String) throws -> String? {
        var note: OpaquePointer?, oid = target.raw
        let code = git_note_read(&note, pointer, notesReference, &oid)
        if code == GIT_ENOTFOUND.rawValue { return nil }
        try check(code, "git_note_read", reference: notesReference)
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
        if code == GIT_ENOTFOUND.rawValue { return [] }
        try check(code, "git_note_foreach", reference: notesReference)
        return collector.pairs.map { (annotated: $0.0, note: $0.1) }
    }
}
