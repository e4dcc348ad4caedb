import Foundation
import GitKit
import Testing

@Suite("Repository, blobs, trees and commits")
struct RepositoryTests {
    @Test("create makes a repository whose HEAD is the unborn branch main, and git agrees")
    func createUsesMainAsInitialBranch() throws {
        try withTemporaryDirectory { url in
            let repository = try Repository.create(at: url)
            #expect(try repository.currentBranch() == "main")
            #expect(try repository.referenceTarget("refs/heads/main") == nil)
            #expect(repository.workingDirectory?.resolvingSymlinksInPath().path == url.resolvingSymlinksInPath().path)
            #expect(repository.gitDirectory.resolvingSymlinksInPath().path == url.appendingPathComponent(".git").resolvingSymlinksInPath().path)
            let head = try git("symbolic-ref", "HEAD", in: url)
            #expect(head == "refs/heads/main\n")
        }
    }

    @Test("create honours another initial branch and can make a bare repository")
    func createOtherBranchAndBare() throws {
        try withTemporaryDirectory { url in
            let repository = try Repository.create(at: url.appendingPathComponent("nested/repo"), initialBranch: "trunk")
            #expect(try repository.currentBranch() == "trunk")
            let bare = try Repository.create(at: url.appendingPathComponent("bare.git"), bare: true)
            #expect(bare.workingDirectory == nil)
            #expect(throws: GitError.self) { try bare.status() }
        }
    }

    @Test("open finds the repository from a subdirectory and reports a plain directory as not found")
    func openSearchesUpwards() throws {
        try withTemporaryDirectory { url in
            let repoURL = url.appendingPathComponent("repo")
            _ = try Repository.create(at: repoURL)
            let sub = repoURL.appendingPathComponent("a/b")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            let opened = try Repository.open(at: sub)
            #expect(opened.workingDirectory?.resolvingSymlinksInPath().path == repoURL.resolvingSymlinksInPath().path)

            let plain = url.appendingPathComponent("plain")
            try FileManager.default.createDirectory(at: plain, withIntermediateDirectories: true)
            let error = #expect(throws: GitError.self) { try Repository.open(at: plain) }
            #expect(error?.isNotFound == true)
        }
    }

    @Test("blobs round-trip text, binary and empty data with the ids git computes")
    func blobs() throws {
        try withRepository { repository, url in
            let text = "Hello, prompt\nsecond line ✓\n"
            let id = try repository.createBlob(text)
            #expect(String(decoding: try repository.blobData(id), as: UTF8.self) == text)
            #expect(repository.contains(id))
            try writeFile(text, "hello.txt", in: url)
            #expect(try git("hash-object", "hello.txt", in: url) == id.hex + "\n")
            #expect(try git("cat-file", "-p", id.hex, in: url) == text)

            let binary = Data([0, 1, 2, 0xFF, 0, 10])
            let binaryID = try repository.createBlob(binary)
            #expect(try repository.blobData(binaryID) == binary)

            let empty = try repository.createBlob(Data())
            #expect(empty.hex == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
            #expect(try repository.blobData(empty) == Data())

            let missing = try #require(ObjectID(hex: String(repeating: "ab", count: 20)))
            #expect(!repository.contains(missing))
            #expect(throws: GitError.self) { try repository.blobData(missing) }
        }
    }

    @Test("ObjectID parses only full hex ids and prints them back")
    func objectIDs() throws {
        let hex = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
        let id = try #require(ObjectID(hex: hex))
        #expect(id.hex == hex)
        #expect(id.short == "4b825dc")
        #expect(ObjectID(hex: hex.uppercased())?.hex == hex)
        #expect(ObjectID(hex: "4b825dc") == nil)
        #expect(ObjectID(hex: String(repeating: "z", count: 40)) == nil)
        #expect(ObjectID(hex: hex + "0") == nil)
        #expect(Set([id, ObjectID(hex: hex)!]).count == 1)
    }

    /// ObjectID keeps its bytes as words: equality, hashing and order must still be those of the ids.
    @Test("ObjectIDs differing in any byte are distinct, round-trip through libgit2, and order as their hex does")
    func objectIDsOrderAndRoundTrip() throws {
        try withTemporaryDirectory { url in
            let repository = try Repository.create(at: url)
            let ids = try (0..<200).map { try repository.createBlob("blob \($0)") }
            #expect(Set(ids).count == 200)
            #expect(ids.sorted().map(\.hex) == ids.map(\.hex).sorted())
            for id in ids.prefix(20) {
                #expect(try repository.objectKind(id) == .blob)
                #expect(try git("cat-file", "-t", id.hex, in: url) == "blob\n")
            }
            let base = "00112233445566778899aabbccddeeff00112233"
            for position in [0, 15, 16, 31, 32, 39] {
                var changed = Array(base)
                changed[position] = changed[position] == "f" ? "e" : "f"
                #expect(ObjectID(hex: String(changed)) != ObjectID(hex: base), "hex digit \(position)")
            }
            #expect(try repository.objectKind(try #require(ObjectID(hex: base))) == nil)
            #expect(try repository.objectKind(try repository.emptyTree()) == .tree)
        }
    }

    @Test("updateTree creates nested directories, replaces and removes files, and git lists the same tree")
    func treesWithNestedPaths() throws {
        try withRepository { repository, url in
            #expect(try repository.emptyTree().hex == "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
            let a = try repository.createBlob("a\n"), b = try repository.createBlob("b\n"), c = try repository.createBlob("c\n")
            let tree = try repository.updateTree(nil, applying: [
                .upsert(path: "top.txt", blob: a),
                .upsert(path: "prompts/router.md", blob: b),
                .upsert(path: "deep/er/still/file.txt", blob: c),
            ])
            #expect(try repository.filePaths(inTree: tree).sorted() == ["deep/er/still/file.txt", "prompts/router.md", "top.txt"])
            #expect(try repository.blobID(at: "deep/er/still/file.txt", inTree: tree) == c)
            #expect(try repository.blobID(at: "prompts/missing.md", inTree: tree) == nil)
            #expect(try repository.blobID(at: "prompts", inTree: tree) == nil, "a directory is not a blob")
            let listing = try git("ls-tree", "-r", "--name-only", tree.hex, in: url)
            #expect(lines(listing) == ["deep/er/still/file.txt", "prompts/router.md", "top.txt"])

            let updated = try repository.updateTree(tree, applying: [
                .upsert(path: "prompts/router.md", blob: c),
                .remove(path: "deep/er/still/file.txt"),
            ])
            #expect(try repository.filePaths(inTree: updated).sorted() == ["prompts/router.md", "top.txt"])
            #expect(try repository.blobID(at: "prompts/router.md", inTree: updated) == c)
            // The base tree is unchanged: trees are values.
            #expect(try repository.blobID(at: "prompts/router.md", inTree: tree) == b)
            let entries = try git("ls-tree", updated.hex, in: url)
            #expect(!entries.contains("deep"), "removing the only file removes its empty directories")
        }
    }

    @Test("updateTree rejects paths that are absolute, empty, or contain . or .. or empty components",
          arguments: ["", "/abs.txt", "a/../b.txt", "./a.txt", "a//b.txt", "a/", ".."])
    func invalidTreePaths(path: String) throws {
        try withRepository { repository, _ in
            let blob = try repository.createBlob("x")
            let error = #expect(throws: GitError.self) {
                try repository.updateTree(nil, applying: [.upsert(path: path, blob: blob)])
            }
            #expect(error?.invalidArgumentMessage?.contains("invalid tree path") == true)
        }
    }

    @Test("createCommit writes a root commit and a child to main; git reads them back and fsck passes")
    func commitsToReference() throws {
        try withRepository { repository, url in
            let first = try repository.commitFiles(
                ["prompts/router.md": "v1\n"], message: "Seed prompt\n\nFirst body line.\n\nGrad-Step: 0\n",
                updateReference: "refs/heads/main")
            #expect(try repository.referenceTarget("refs/heads/main") == first)
            let commit = try repository.commit(first)
            #expect(commit.parents.isEmpty)
            #expect(!commit.isMerge)
            #expect(commit.message == "Seed prompt\n\nFirst body line.\n\nGrad-Step: 0\n")
            #expect(commit.summary == "Seed prompt")
            #expect(commit.body.hasPrefix("First body line."))
            #expect(commit.author.name == testSignature.name)
            #expect(commit.author.email == testSignature.email)
            #expect(commit.author.time == testSignature.time)
            #expect(commit.author.timeZoneOffsetMinutes == 60)
            #expect(commit.committer == commit.author, "committer defaults to the author")

            let second = try repository.commitFiles(
                ["prompts/router.md": "v2\n"], parents: [first], message: "Second", updateReference: "refs/heads/main")
            #expect(try repository.commit(second).parents == [first])
            #expect(try repository.text(at: "prompts/router.md", in: second) == "v2\n")
            #expect(try repository.text(at: "prompts/router.md", in: first) == "v1\n")
            #expect(try repository.text(at: "nope", in: second) == nil)

            #expect(try git("log", "--format=%H %s", "main", in: url) == "\(second.hex) Second\n\(first.hex) Seed prompt\n")
            #expect(try git("log", "-1", "--format=%an <%ae> %ad", "--date=raw", first.hex, in: url)
                == "Grad Tester <tester@example.com> 1700000000 +0100\n")
            #expect(try runGit(["fsck", "--full", "--strict"], in: url).status == 0)
        }
    }

    @Test("createCommit without updateReference moves no reference")
    func commitWithoutReference() throws {
        try withRepository { repository, _ in
            let id = try repository.commitFiles(["a": "1"])
            #expect(repository.contains(id))
            #expect(try repository.referenceTarget("refs/heads/main") == nil)
        }
    }

    @Test("createCommit refuses a tree or parent that does not exist")
    func commitRejectsMissingObjects() throws {
        try withRepository { repository, _ in
            let bogus = try #require(ObjectID(hex: String(repeating: "12", count: 20)))
            #expect(throws: GitError.self) {
                try repository.createCommit(message: "x", tree: bogus, parents: [], author: testSignature)
            }
            let tree = try repository.emptyTree()
            #expect(throws: GitError.self) {
                try repository.createCommit(message: "x", tree: tree, parents: [bogus], author: testSignature)
            }
        }
    }

    @Test("a commit whose first parent is no longer the tip of the reference throws referenceMoved and moves nothing")
    func commitRaceIsReferenceMoved() throws {
        try withRepository { repository, _ in
            let base = try repository.commitFiles(["f": "0"], updateReference: "refs/heads/main")
            // Another writer moves main first.
            let winner = try repository.commitFiles(["f": "winner"], parents: [base], updateReference: "refs/heads/main")
            // We still think main is at base.
            let error = #expect(throws: GitError.self) {
                try repository.commitFiles(["f": "loser"], parents: [base], updateReference: "refs/heads/main")
            }
            #expect(error?.movedReference == "refs/heads/main")
            if case .referenceMoved(_, let failure)? = error { #expect(failure.code == -15, "GIT_EMODIFIED") }
            #expect(try repository.referenceTarget("refs/heads/main") == winner)

            // A root commit on a reference that already exists is the same race.
            let rootError = #expect(throws: GitError.self) {
                try repository.commitFiles(["f": "root"], updateReference: "refs/heads/main")
            }
            #expect(rootError?.movedReference == "refs/heads/main")
            #expect(try repository.referenceTarget("refs/heads/main") == winner)
        }
    }

    @Test("resolveCommit understands branch names, main~N, HEAD and short ids; unknown revisions are notFound")
    func resolveRevisions() throws {
        try withRepository { repository, _ in
            let first = try repository.commitFiles(["f": "1"], updateReference: "refs/heads/main")
            let second = try repository.commitFiles(["f": "2"], parents: [first], updateReference: "refs/heads/main")
            #expect(try repository.resolveCommit("main") == second)
            #expect(try repository.resolveCommit("HEAD") == second)
            #expect(try repository.resolveCommit("main~1") == first)
            #expect(try repository.resolveCommit(String(first.hex.prefix(10))) == first)
            #expect(try repository.resolveCommit(first.hex) == first)
            for revision in ["nope", "main~5", "refs/heads/missing", "0000000"] {
                let error = #expect(throws: GitError.self, "\(revision)") { try repository.resolveCommit(revision) }
                #expect(error?.isNotFound == true, "\(revision)")
            }
            // A tree is not a commit.
            let treeID = try repository.commit(first).tree
            #expect(throws: GitError.self) { try repository.resolveCommit(treeID.hex) }
        }
    }

    @Test("objectCount counts the objects written")
    func objectCount() throws {
        try withRepository { repository, _ in
            #expect(try repository.objectCount() == 0)
            _ = try repository.createBlob("one")
            _ = try repository.createBlob("two")
            _ = try repository.createBlob("one")
            #expect(try repository.objectCount() == 2)
        }
    }
}
