import Foundation
import Testing

@Suite("git-grad init, log, show")
struct InitLogShowTests {
    @Test("init --from sample-repo makes a repository git accepts: one seed commit with Grad-Step: 0, clean status")
    func initFromSample() throws {
        try withTemporaryDirectory { temp in
            let repo = temp.appendingPathComponent("new-repo")
            let output = try grad("init", repo.path, "--from", sampleRepo.path, in: temp)
            #expect(output.contains("Initialized prompt repository in \(repo.path)"))

            #expect(try git("log", "--format=%(trailers)", in: repo) == "Grad-Step: 0\n\n")
            #expect(try git("log", "--format=%s", in: repo) == "Seed prompt\n")
            #expect(try git("rev-list", "--count", "main", in: repo) == "1\n")
            #expect(try git("symbolic-ref", "--short", "HEAD", in: repo) == "main\n")
            let fsck = try runGit(["fsck", "--full"], in: repo)
            #expect(fsck.status == 0, "\(fsck.stderr)")
            #expect(try git("status", "--porcelain", in: repo).isEmpty)
            let main = try git("rev-parse", "--short=7", "main", in: repo)
            #expect(output.contains("main at \(main.trimmingCharacters(in: .whitespacesAndNewlines))"))

            // Every template file is committed, byte for byte.
            let tracked = lines(try git("ls-files", in: repo))
            #expect(tracked == ["RULES.md", "data/holdout.jsonl", "data/test.jsonl", "data/train.jsonl", "grad.toml", "prompts/router.md"])
            for path in tracked {
                #expect(try git("show", "main:\(path)", in: repo) == (try readFile(path, in: sampleRepo)), "\(path)")
                #expect(try readFile(path, in: repo) == (try readFile(path, in: sampleRepo)), "\(path)")
            }
        }
    }

    @Test("init without --from writes the minimal example, which log and show can read")
    func initMinimal() throws {
        try withTemporaryDirectory { temp in
            try grad("init", "minimal", in: temp)
            let repo = temp.appendingPathComponent("minimal")
            #expect(try git("log", "--format=%(trailers)", in: repo) == "Grad-Step: 0\n\n")
            #expect(try git("status", "--porcelain", in: repo).isEmpty)
            #expect(try grad("-C", repo.path, "show", "main", in: temp).contains("Prompt (prompts/classify.md)"))
        }
    }

    @Test("log works with -C before or after the subcommand and from inside the repository")
    func logDirectoryOption() throws {
        try withSampleRepository { repo in
            let short = try git("rev-parse", "--short=7", "main", in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
            let before = try grad("-C", repo.path, "log", in: FileManager.default.temporaryDirectory)
            let after = try grad("log", "-C", repo.path, in: FileManager.default.temporaryDirectory)
            let inside = try grad("log", in: repo.appendingPathComponent("prompts"))
            #expect(before.contains(short))
            #expect(before.contains("seed"))
            #expect(before.contains("Seed prompt"))
            #expect(after == before)
            #expect(inside == before)
            #expect(!before.contains("\u{1B}["), "no colour codes when piped")
        }
    }

    @Test("log --json is a JSON array describing the seed commit")
    func logJSON() throws {
        try withSampleRepository { repo in
            let output = try grad("-C", repo.path, "log", "--json", in: repo)
            let entries = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]])
            #expect(entries.count == 1)
            let seed = try #require(entries.first)
            #expect(seed["kind"] as? String == "seed")
            #expect(seed["commit"] as? String == (try git("rev-parse", "main", in: repo).trimmingCharacters(in: .newlines)))
            #expect(seed["subject"] as? String == "Seed prompt")
            #expect(seed["step"] as? Int == 0)
            #expect((seed["trailers"] as? [String: String])?["Grad-Step"] == "0")
        }
    }

    @Test("show main prints the commit, its trailers and the prompt; --json has the prompt text")
    func show() throws {
        try withSampleRepository { repo in
            let sha = try git("rev-parse", "main", in: repo).trimmingCharacters(in: .newlines)
            let output = try grad("-C", repo.path, "show", "main", in: repo)
            #expect(output.contains("commit \(sha)"))
            #expect(output.contains("Seed prompt"))
            #expect(output.contains("Grad-Step: 0"))
            #expect(output.contains("Prompt (prompts/router.md)"))
            #expect(output.contains("Classify this customer support message into one of these queues"))

            let json = try grad("-C", repo.path, "show", "--json", sha, in: repo)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(object["commit"] as? String == sha)
            #expect(object["promptPath"] as? String == "prompts/router.md")
            #expect(object["prompt"] as? String == (try readFile("prompts/router.md", in: sampleRepo)))
            #expect((object["trailers"] as? [String: String]) == ["Grad-Step": "0"])
        }
    }
}

@Suite("git-grad revert")
struct RevertCommandTests {
    static let edited = "Route each message to exactly one queue: safety, retention, field, ledger, desk.\n\nMessage: {{message}}\n\nQueue:\n"

    /// Commits an edit of prompts/router.md with the git CLI and returns its sha.
    func commitPromptEdit(_ repo: URL, subject: String = "Tighten the router prompt") throws -> String {
        try writeFile(Self.edited, "prompts/router.md", in: repo)
        try commitAll(repo, subject)
        return try git("rev-parse", "HEAD", in: repo).trimmingCharacters(in: .newlines)
    }

    @Test("revert HEAD writes git's revert message with a Reverts trailer and restores the file")
    func revertHead() throws {
        try withSampleRepository { repo in
            let original = try readFile("prompts/router.md", in: repo)
            let sha = try commitPromptEdit(repo)
            let output = try grad("-C", repo.path, "revert", "HEAD", in: repo)
            #expect(output.contains("Reverted \(sha.prefix(7)) on main"))

            #expect(try git("log", "-1", "--format=%s", in: repo) == "Revert \"Tighten the router prompt\"\n")
            #expect(try git("log", "-1", "--format=%b", in: repo).contains("This reverts commit \(sha)."))
            #expect(try git("log", "-1", "--format=%(trailers)", in: repo) == "Reverts: \(sha)\n\n")
            #expect(try git("rev-parse", "main~1", in: repo) == sha + "\n")
            #expect(try git("show", "main:prompts/router.md", in: repo) == original)
            #expect(try readFile("prompts/router.md", in: repo) == original, "the working tree follows main")
            #expect(try git("status", "--porcelain", in: repo).isEmpty)
            #expect(try runGit(["fsck", "--full"], in: repo).status == 0)
            #expect(try grad("-C", repo.path, "log", in: repo).contains("revert"))

            // Reverting the same commit again would change nothing: refused, nothing moves.
            let state = try repositoryState(repo)
            let again = try runGrad(["-C", repo.path, "revert", sha], in: repo)
            #expect(again.status != 0)
            #expect(again.stderr.hasPrefix("git-grad: error: "))
            #expect(again.stderr.contains("changes nothing"))
            #expect(try repositoryState(repo) == state)
        }
    }

    @Test("revert is refused while prompts/router.md has an uncommitted edit; main and the edit stay")
    func revertRefusedWithEdits() throws {
        try withSampleRepository { repo in
            _ = try commitPromptEdit(repo)
            try writeFile("my unsaved work\n", "prompts/router.md", in: repo)
            let state = try repositoryState(repo)
            let result = try runGrad(["-C", repo.path, "revert", "HEAD"], in: repo)
            #expect(result.status != 0)
            #expect(lines(result.stderr).count == 1)
            #expect(result.stderr.hasPrefix("git-grad: error: prompts/router.md: uncommitted edits"))
            #expect(result.stdout.isEmpty)
            #expect(try repositoryState(repo) == state)
            #expect(try readFile("prompts/router.md", in: repo) == "my unsaved work\n")
        }
    }
}
