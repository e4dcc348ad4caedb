import Foundation
import Testing

@Suite("git-grad push, pull and remote setup")
struct SharingTests {
    /// A bare remote holding the sample repository's main, and two clones of it.
    func twoClones(_ repo: URL) throws -> (remote: String, a: URL, b: URL) {
        let parent = repo.deletingLastPathComponent()
        let remote = parent.appendingPathComponent("remote.git").path
        try git("init", "-q", "--bare", "-b", "main", remote, in: parent)
        try git("push", "-q", remote, "main", in: repo)
        for name in ["a", "b"] {
            try git("clone", "-q", remote, name, in: parent)
            // `git grad init` would have made main the branch; a clone already is on it.
        }
        return (remote, parent.appendingPathComponent("a"), parent.appendingPathComponent("b"))
    }

    @Test("push and pull carry main, grad/* branches, run manifests, labels and notes; the run is seen and not redone in the other clone")
    func pushAndPull() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let (remote, a, b) = try twoClones(repo)
            try grad(["optimize", "--steps", "2", "--variants", "2"] + fakeModel(server), in: a)
            try grad("label", "set", "production", "main", in: a)
            // A manifest an earlier git-grad stored as a bare blob is pushed too (as a commit).
            let run = try #require(lines(try git("for-each-ref", "--format=%(refname:lstrip=3)", "refs/grad/runs/", in: a)).first)
            let older = try git("cat-file", "-p", "refs/grad/runs/\(run):manifest.json", in: a)
                .replacingOccurrences(of: "\"run\" : \"\(run)\"", with: "\"run\" : \"older\"")
            let blob = try git(["hash-object", "-w", "--stdin"], in: a, stdin: older).trimmingCharacters(in: .whitespacesAndNewlines)
            try git("update-ref", "refs/grad/runs/older", blob, in: a)
            let pushed = try grad("push", in: a)
            #expect(pushed.contains("pushed origin: "))
            #expect(try git("--git-dir", remote, "cat-file", "-p", "refs/grad/runs/older:manifest.json", in: a).contains("\"run\" : \"older\""))
            for pattern in ["refs/heads/grad/", "refs/grad/runs/", "refs/grad/labels/production", "refs/notes/grad"] {
                #expect(!(try git("--git-dir", remote, "for-each-ref", pattern, in: a)).isEmpty, "\(pattern) on the remote")
            }

            let pulled = try grad("pull", in: b)
            #expect(pulled.contains("main: "), "\(pulled)")
            #expect(try git("rev-parse", "main", in: b) == (try git("rev-parse", "main", in: a)))
            #expect(try readFile("prompts/router.md", in: b) == (try readFile("prompts/router.md", in: a)))
            #expect(try git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/grad/", "refs/grad/", in: b)
                == (try git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/grad/", "refs/grad/", in: a)))
            #expect(try git("notes", "--ref=grad", "show", "main", in: b) == (try git("notes", "--ref=grad", "show", "main", in: a)))
            #expect(try grad("runs", in: b).contains("finished"))
            #expect(try grad("log", in: b).contains("accepted"))
            #expect(try grad("label", "show", "production", in: b).contains("label production"))
            // The finished run is not redone: there is nothing to resume.
            let resume = try runGrad(["optimize", "--resume"] + fakeModel(server), in: b)
            #expect(resume.status != 0)
            #expect(try git("for-each-ref", "refs/heads/grad/", in: b) == (try git("for-each-ref", "refs/heads/grad/", in: a)))
            #expect(try runGit(["fsck", "--full"], in: b).status == 0)
            // Pulling again changes nothing.
            let before = try repositoryState(b)
            try grad("pull", in: b)
            #expect(try repositoryState(b) == before)
        }
    }

    @Test("two clones optimize at once: the first push wins, the second gets one clear refusal for main and loses nothing; notes merge")
    func concurrentRuns() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let (remote, a, b) = try twoClones(repo)
            try grad(["optimize", "--steps", "1", "--variants", "2"] + fakeModel(server), in: a)
            try grad(["optimize", "--steps", "1", "--variants", "2", "--seed", "5"] + fakeModel(server), in: b)
            try grad(["eval", "--split", "test"] + fakeModel(server), in: b)
            try grad("push", in: a)

            let loser = try runGrad(["push"], in: b)
            #expect(loser.status == 1)
            let errors = lines(loser.stderr).filter { $0.contains("error:") }
            #expect(errors.count == 1)
            #expect(errors.first?.contains("main was not pushed") == true, "\(loser.stderr)")
            // Nothing lost: both runs' branches and manifests are on the remote, main is A's.
            for clone in [a, b] {
                for line in lines(try git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/grad/", "refs/grad/runs/", in: clone)) {
                    let parts = line.split(separator: " ")
                    #expect(try git("--git-dir", remote, "rev-parse", String(parts[0]), in: clone).hasPrefix(String(parts[1])), "\(parts[0])")
                }
            }
            #expect(try git("--git-dir", remote, "rev-parse", "main", in: a) == (try git("rev-parse", "main", in: a)))
            #expect(try git("rev-parse", "main", in: b) != (try git("rev-parse", "main", in: a)), "B's main stays at its own verified merge")
            // The notes of both clones were merged on the remote: A's main and B's test evaluation.
            let remoteNotes = try git("--git-dir", remote, "notes", "--ref=grad", "list", in: a)
            #expect(remoteNotes.contains(try git("rev-parse", "main", in: a).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(remoteNotes.contains(try git("rev-parse", "main", in: b).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(try runGit(["--git-dir", remote, "fsck", "--full"], in: a).status == 0)
            #expect(try runGit(["fsck", "--full"], in: b).status == 0)
        }
    }

    @Test("remote setup writes refspecs so plain git push and git fetch carry the record")
    func remoteSetup() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let (remote, a, b) = try twoClones(repo)
            #expect(try grad("remote", "setup", in: a).contains("refspec(s) added"))
            #expect(try grad("remote", "setup", in: a).contains("0 refspec(s) added"))
            try grad(["optimize", "--steps", "1", "--variants", "2"] + fakeModel(server), in: a)
            try git("push", "-q", "origin", in: a)
            #expect(!(try git("--git-dir", remote, "for-each-ref", "refs/grad/runs/", in: a)).isEmpty)
            try grad("remote", "setup", in: b)
            try git("fetch", "-q", "origin", in: b)
            #expect(!(try git("for-each-ref", "refs/grad/runs/", "refs/heads/grad/", in: b)).isEmpty)
            let missing = try runGrad(["remote", "setup", "nowhere"], in: b)
            #expect(missing.status != 0 && missing.stderr.contains("no remote 'nowhere'"))
        }
    }
}
