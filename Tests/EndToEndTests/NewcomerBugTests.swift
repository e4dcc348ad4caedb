import FakeLLMServer
import Foundation
import Testing

@Suite("newcomer bugs: -C at every depth, pull into a fresh clone, a lock file left by a killed writer")
struct NewcomerBugTests {
    /// Every command path of the tree, read from `--help`'s SUBCOMMANDS sections.
    func commandPaths(_ prefix: [String] = [], in directory: URL) throws -> [[String]] {
        let help = try grad(prefix + ["--help"], in: directory)
        guard let start = help.range(of: "SUBCOMMANDS:") else { return [prefix] }
        var paths: [[String]] = []
        // Entries are "  name   abstract"; wrapped abstracts are indented further; a blank line ends the list.
        for line in help[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropFirst() {
            if line.trimmingCharacters(in: .whitespaces).isEmpty { break }
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first.map(String.init) else { continue }
            if name == "help" { continue }
            paths += try commandPaths(prefix + [name], in: directory)
        }
        return paths.isEmpty ? [prefix] : paths
    }

    @Test("git-grad -C DIR works before every subcommand at every depth")
    func directoryOptionEverywhere() throws {
        try withSampleRepository { repo in
            let outside = repo.deletingLastPathComponent()
            let paths = try commandPaths(in: outside)
            #expect(paths.count > 20, "\(paths)")
            #expect(paths.contains(["label", "list"]) && paths.contains(["runs", "drop"]) && paths.contains(["model", "status"]))
            for path in paths {
                let result = try runGrad(["-C", repo.path] + path + ["--help"], in: outside)
                #expect(result.status == 0, "-C before \(path.joined(separator: " ")): \(result.stderr)")
            }
            // And for real, from outside the repository.
            try grad("label", "set", "production", "main", in: repo)
            #expect(try grad("-C", repo.path, "label", "list", in: outside).contains("production"))
            let drop = try runGrad(["-C", repo.path, "runs", "drop", "no-such-run"], in: outside)
            #expect(drop.status != 0 && drop.stderr.contains("no-such-run") && !drop.stderr.contains("Unknown option"), "\(drop.stderr)")
            let status = try runGrad(["-C", repo.path, "model", "status"], in: outside)
            #expect(!status.stderr.contains("Unknown option"), "\(status.stderr)")
            // Relative -C pairs chain as git's do.
            #expect(try grad("-C", repo.deletingLastPathComponent().lastPathComponent, "-C", repo.lastPathComponent, "label", "list",
                             in: outside.deletingLastPathComponent()).contains("production"))
            let missing = try runGrad(["-C", "/no/such/dir", "log"], in: outside)
            #expect(missing.status != 0 && lines(missing.stderr).count == 1 && missing.stderr.contains("/no/such/dir"))
        }
    }

    @Test("git grad pull into a fresh clone (remote HEAD not main) or a git init + remote add creates main and checks it out")
    func pullIntoAFreshClone() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            try grad(["optimize", "--steps", "1", "--variants", "2"] + fakeModel(server), in: repo)
            let parent = repo.deletingLastPathComponent()
            let remote = parent.appendingPathComponent("remote.git").path
            // A bare remote whose HEAD names a branch that does not exist (git's old default).
            try git("init", "-q", "--bare", "-b", "master", remote, in: parent)
            try grad("push", remote, in: repo)
            try git("clone", "-q", remote, "fresh", in: parent)
            let fresh = parent.appendingPathComponent("fresh")
            let pulled = try runGrad(["pull"], in: fresh)
            #expect(pulled.status == 0, "\(pulled.stderr)")
            #expect(try git("rev-parse", "main", in: fresh) == (try git("rev-parse", "main", in: repo)))
            #expect(try git("symbolic-ref", "HEAD", in: fresh).trimmingCharacters(in: .whitespacesAndNewlines) == "refs/heads/main")
            #expect(try readFile("prompts/router.md", in: fresh) == (try readFile("prompts/router.md", in: repo)))
            #expect(try grad("log", in: fresh).contains("accepted"))
            #expect(try runGit(["fsck", "--full"], in: fresh).status == 0)

            // git init, git remote add, git grad pull: HEAD names main, which has no commits yet.
            let empty = parent.appendingPathComponent("empty")
            try git("init", "-q", "-b", "main", empty.path, in: parent)
            try git("remote", "add", "origin", remote, in: empty)
            let first = try runGrad(["pull"], in: empty)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(try readFile("grad.toml", in: empty) == (try readFile("grad.toml", in: repo)))
            #expect(try git("status", "--porcelain", in: empty).isEmpty, "index and working tree match main")
        }
    }

    @Test("a .lock file a killed writer left under git-grad's references is broken by the next writer, and the run resumes")
    func staleLockFileAfterKill() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            // Stop after the first candidate, as a crash would, then leave the lock files a
            // writer killed between creating and renaming them leaves behind.
            try grad(["optimize", "--steps", "1", "--variants", "2", "--stop-after-candidates", "1"] + fakeModel(server), in: repo)
            let git = repo.appendingPathComponent(".git")
            let locks = ["refs/notes/grad.lock", "refs/heads/main.lock"]
            for lock in locks {
                try FileManager.default.createDirectory(
                    at: git.appendingPathComponent(lock).deletingLastPathComponent(), withIntermediateDirectories: true)
                try "".write(to: git.appendingPathComponent(lock), atomically: false, encoding: .utf8)
            }
            // Left by a killed writer a minute ago: old enough to be stale.
            for lock in locks {
                try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: git.appendingPathComponent(lock).path)
            }
            // A lock file of a reference git-grad does not own is left alone.
            try "".write(to: git.appendingPathComponent("refs/heads/feature.lock"), atomically: false, encoding: .utf8)
            let resumed = try runGrad(["optimize", "--resume"] + fakeModel(server), in: repo)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            for lock in locks { #expect(!FileManager.default.fileExists(atPath: git.appendingPathComponent(lock).path), "\(lock) is still there") }
            #expect(FileManager.default.fileExists(atPath: git.appendingPathComponent("refs/heads/feature.lock").path))
            #expect(try grad("runs", in: repo).contains("finished"))
            #expect(try runGit(["notes", "--ref=grad", "show", "main"], in: repo).status == 0)
            #expect(FileManager.default.fileExists(atPath: git.appendingPathComponent("grad/writer.lock").path))
            try FileManager.default.removeItem(at: git.appendingPathComponent("refs/heads/feature.lock"))
            #expect(try runGit(["fsck", "--full"], in: repo).status == 0)
        }
    }
}
