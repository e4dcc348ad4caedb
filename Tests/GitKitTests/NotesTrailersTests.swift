import Foundation
import GitKit
import Testing

@Suite("Notes and trailers")
struct NotesTrailersTests {
    @Test("messageTrailers reads the last paragraph of Key: value lines, as git interpret-trailers does")
    func trailers() throws {
        let message = "Improve routing\n\nThe prompt confused billing with\nfield work: it needs rules.\n\nGrad-Run: 20240101-000000-abcd\nGrad-Step: 2\nVerdict: accepted\n"
        let expected = [
            Trailer(key: "Grad-Run", value: "20240101-000000-abcd"),
            Trailer(key: "Grad-Step", value: "2"),
            Trailer(key: "Verdict", value: "accepted"),
        ]
        #expect(try messageTrailers(message) == expected)
        try withTemporaryDirectory { url in
            let parsed = try git("interpret-trailers", "--parse", in: url, stdin: message)
            #expect(parsed == "Grad-Run: 20240101-000000-abcd\nGrad-Step: 2\nVerdict: accepted\n")
        }
        #expect(try messageTrailers("Subject only\n").isEmpty)
        #expect(try messageTrailers("Subject\n\nA body with a colon: not a trailer block\nbecause this line is prose.\n").isEmpty)
        #expect(try messageTrailers("") .isEmpty)
        // A trailer-looking paragraph that is not the last one is body text.
        #expect(try messageTrailers("Subject\n\nKey: value\n\nJust prose at the end.\n").isEmpty)
    }

    @Test("trailers of a commit are what git log %(trailers) prints")
    func commitTrailersInterop() throws {
        try withRepository { repository, url in
            let id = try repository.commitFiles(["f": "1"], message: "Subject\n\nBody.\n\nGrad-Step: 0\nReverts: abc\n",
                                                updateReference: "refs/heads/main")
            #expect(try messageTrailers(repository.commit(id).message) == [Trailer(key: "Grad-Step", value: "0"), Trailer(key: "Reverts", value: "abc")])
            #expect(try git("log", "-1", "--format=%(trailers)", "main", in: url) == "Grad-Step: 0\nReverts: abc\n\n")
        }
    }

    @Test("notes: set, read, refuse to overwrite unless asked, overwrite, list; git notes --ref=grad agrees")
    func notes() throws {
        try withRepository { repository, url in
            let ref = "refs/notes/grad"
            let one = try repository.commitFiles(["f": "1"], updateReference: "refs/heads/main")
            let two = try repository.commitFiles(["f": "2"], parents: [one], updateReference: "refs/heads/main")
            #expect(try repository.note(on: one, notesReference: ref) == nil)
            #expect(try repository.notes(notesReference: ref).isEmpty, "no notes reference yet is an empty list")

            let first = "{\"version\": 1, \"text\": \"first\"}\n"
            try repository.setNote(first, on: one, notesReference: ref, signature: testSignature)
            #expect(try repository.note(on: one, notesReference: ref) == first)
            #expect(try repository.note(on: two, notesReference: ref) == nil)
            #expect(try git("notes", "--ref=grad", "show", one.hex, in: url) == first)

            let refused = #expect(throws: GitError.self) {
                try repository.setNote("other\n", on: one, notesReference: ref, overwrite: false, signature: testSignature)
            }
            #expect(refused != nil)
            #expect(try repository.note(on: one, notesReference: ref) == first)

            let replaced = "{\"version\": 1, \"text\": \"second\"}\n"
            try repository.setNote(replaced, on: one, notesReference: ref, overwrite: true, signature: testSignature)
            #expect(try repository.note(on: one, notesReference: ref) == replaced)
            #expect(try git("notes", "--ref=grad", "show", one.hex, in: url) == replaced)

            let noteBlob = try repository.setNote("two\n", on: two, notesReference: ref, signature: testSignature)
            let listed = try repository.notes(notesReference: ref)
            #expect(Set(listed.map(\.annotated)) == [one, two])
            #expect(listed.first { $0.annotated == two }?.note == noteBlob)
            let cliList = lines(try git("notes", "--ref=grad", "list", in: url))
            #expect(Set(cliList) == Set(listed.map { "\($0.note.hex) \($0.annotated.hex)" }))

            // A note written by git is read by GitKit; another notes ref is separate.
            try git("notes", "--ref=other", "add", "-m", "from the cli", two.hex, in: url)
            #expect(try repository.note(on: two, notesReference: "refs/notes/other") == "from the cli\n")
            #expect(try repository.note(on: two, notesReference: ref) == "two\n")
            #expect(try runGit(["fsck", "--full"], in: url).status == 0)
        }
    }

    @Test("notes are stored fanned out (ab/cdef…) as git does for large notes trees; a flat note written by git is moved, never doubled")
    func notesFanOut() throws {
        try withRepository { repository, url in
            let ref = "refs/notes/grad"
            let one = try repository.commitFiles(["f": "1"], updateReference: "refs/heads/main")
            let two = try repository.commitFiles(["f": "2"], parents: [one], updateReference: "refs/heads/main")
            // git writes a small notes tree flat: one entry named by the whole id.
            try git("notes", "--ref=grad", "add", "-m", "from git", one.hex, in: url)
            #expect(try git("ls-tree", "--name-only", "refs/notes/grad", in: url) == "\(one.hex)\n")

            try repository.setNote("ours\n", on: two, notesReference: ref, signature: testSignature)
            try repository.setNote("replaced\n", on: one, notesReference: ref, signature: testSignature)
            let paths = Set(lines(try git("ls-tree", "-r", "--name-only", "refs/notes/grad", in: url)))
            #expect(paths == ["\(one.hex.prefix(2))/\(one.hex.dropFirst(2))", "\(two.hex.prefix(2))/\(two.hex.dropFirst(2))"])
            #expect(try git("notes", "--ref=grad", "show", one.hex, in: url) == "replaced\n")
            #expect(try git("notes", "--ref=grad", "show", two.hex, in: url) == "ours\n")
            #expect(try repository.notes(notesReference: ref).count == 2)
            // Each note is one commit on the notes ref, as `git notes` writes them.
            #expect(lines(try git("rev-list", "refs/notes/grad", in: url)).count == 3)
            #expect(try runGit(["fsck", "--full"], in: url).status == 0)
        }
    }

    @Test("packing moves every loose object into one pack and the branches into packed-refs; git reads all of it back")
    func packLooseObjects() throws {
        try withRepository { repository, url in
            var tip = try repository.commitFiles(["prompt.md": "v0"], updateReference: "refs/heads/main")
            for step in 1...20 {
                tip = try repository.commitFiles(["prompt.md": "version \(step) of a prompt that grows a rule per step\n"], parents: [tip], updateReference: "refs/heads/main")
                try repository.updateReference("refs/heads/grad/run/s\(step)v1", to: tip, expecting: nil)
                try repository.setNote("{\"step\": \(step)}\n", on: tip, notesReference: "refs/notes/grad", signature: testSignature)
            }
            let objectsBefore = try repository.objectCount()
            let summary = try repository.packLooseObjects()
            #expect(summary.objects == objectsBefore)
            let counts = try git("count-objects", "-v", in: url)
            #expect(counts.contains("count: 0\n"), "no loose object left: \(counts)")
            #expect(counts.contains("packs: 1\n"))
            #expect(try String(contentsOf: url.appendingPathComponent(".git/packed-refs"), encoding: .utf8).contains("refs/heads/grad/run/s20v1"))
            let branchTip = try git("rev-parse", "grad/run/s7v1", in: url)
            #expect(branchTip == (try git("rev-parse", "main~13", in: url)))
            #expect(try git("notes", "--ref=grad", "show", "main", in: url) == "{\"step\": 20}\n")
            #expect(try repository.note(on: tip, notesReference: "refs/notes/grad") == "{\"step\": 20}\n")
            #expect(try runGit(["fsck", "--full", "--strict"], in: url).status == 0)
            // Nothing loose: a second pass writes no pack.
            #expect(try repository.packLooseObjects().objects == 0)
            #expect(try git("count-objects", "-v", in: url).contains("packs: 1\n"))
        }
    }
}
