import Foundation
import Testing

/// A failing command must exit non-zero, print exactly one line on stderr that starts with
/// `git-grad: error:`, print nothing on stdout, and leave the repository as it was.
func expectCleanFailure(_ arguments: [String], in repo: URL, mentioning fragment: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
    let state = try repositoryState(repo)
    let result = try runGrad(arguments, in: repo)
    #expect(result.status != 0, "git-grad \(arguments.joined(separator: " ")) succeeded", sourceLocation: sourceLocation)
    #expect(lines(result.stderr).count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderr.hasPrefix("git-grad: error: "), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderr.contains(fragment), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "stdout: \(result.stdout)", sourceLocation: sourceLocation)
    #expect(try repositoryState(repo) == state, "the repository changed", sourceLocation: sourceLocation)
}

@Suite("git-grad on bad input")
struct BadInputTests {
    /// A sample repository with a second commit to revert.
    func repositoryWithEdit(_ body: (URL) throws -> Void) throws {
        try withSampleRepository { repo in
            try writeFile("Edited prompt {{message}}\n", "prompts/router.md", in: repo)
            try commitAll(repo, "Edit prompt")
            try body(repo)
        }
    }

    @Test("revert with a grad.toml syntax error names the file and line")
    func brokenTOMLSyntax() throws {
        try repositoryWithEdit { repo in
            var text = try readFile("grad.toml", in: repo)
            text = text.replacingOccurrences(of: "steps = 3", with: "steps = = 3")
            try writeFile(text, "grad.toml", in: repo)
            let line = text.components(separatedBy: "\n").firstIndex(of: "steps = = 3")! + 1
            try expectCleanFailure(["-C", repo.path, "revert", "HEAD"], in: repo, mentioning: "grad.toml:\(line):")
        }
    }

    @Test("revert with an unknown key in grad.toml names the dotted key")
    func unknownKey() throws {
        try repositoryWithEdit { repo in
            let text = try readFile("grad.toml", in: repo).replacingOccurrences(of: "[search]\n", with: "[search]\nstepz = 4\n")
            try writeFile(text, "grad.toml", in: repo)
            try expectCleanFailure(["-C", repo.path, "revert", "HEAD"], in: repo, mentioning: "search.stepz")
        }
    }

    @Test("commands that read grad.toml from a commit report its errors too")
    func brokenCommittedConfig() throws {
        try withSampleRepository { repo in
            let text = try readFile("grad.toml", in: repo).replacingOccurrences(of: "[task]\n", with: "[task]\nbogus = 1\n")
            try writeFile(text, "grad.toml", in: repo)
            try commitAll(repo, "Break config")
            try expectCleanFailure(["-C", repo.path, "show", "main"], in: repo, mentioning: "task.bogus")
            try expectCleanFailure(["-C", repo.path, "diff", "main~1", "main"], in: repo, mentioning: "task.bogus")
        }
    }

    @Test("an unknown revision is reported by every command that takes one", arguments: [
        ["show", "no-such-rev"], ["log", "no-such-rev"], ["diff", "no-such-rev", "main"], ["diff", "main", "main~9"], ["revert", "no-such-rev"],
    ])
    func unknownRevision(arguments: [String]) throws {
        try withSampleRepository { repo in
            let revision = arguments.first { $0 == "no-such-rev" || $0 == "main~9" }!
            try expectCleanFailure(["-C", repo.path] + arguments, in: repo, mentioning: "unknown revision '\(revision)'")
        }
    }

    @Test("-C naming a directory that is not a repository, or does not exist, fails without creating anything",
          arguments: ["log", "show", "revert"])
    func notARepository(command: String) throws {
        try withTemporaryDirectory { temp in
            let plain = temp.appendingPathComponent("plain")
            try FileManager.default.createDirectory(at: plain, withIntermediateDirectories: true)
            let arguments = command == "log" ? [] : ["main"]
            for (directory, fragment) in [(plain.path, "not a git repository"), (temp.appendingPathComponent("missing").path, "no such directory")] {
                let result = try runGrad(["-C", directory, command] + arguments, in: temp)
                #expect(result.status != 0)
                #expect(lines(result.stderr).count == 1, "\(result.stderr)")
                #expect(result.stderr.hasPrefix("git-grad: error: "))
                #expect(result.stderr.contains(fragment), "\(result.stderr)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: plain.path).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: temp.appendingPathComponent("missing").path))
        }
    }

    @Test("init --from a template with a broken grad.toml fails before writing anything")
    func initFromBrokenTemplate() throws {
        try withTemporaryDirectory { temp in
            let template = temp.appendingPathComponent("template")
            for path in ["prompts/router.md", "data/train.jsonl", "data/holdout.jsonl", "data/test.jsonl"] {
                try writeFile(try readFile(path, in: sampleRepo), path, in: template)
            }
            try writeFile(try readFile("grad.toml", in: sampleRepo) + "\n[surprise]\nkey = 1\n", "grad.toml", in: template)
            let target = temp.appendingPathComponent("target")
            let result = try runGrad(["init", target.path, "--from", template.path], in: temp)
            #expect(result.status != 0)
            #expect(lines(result.stderr).count == 1)
            #expect(result.stderr.hasPrefix("git-grad: error: "))
            #expect(result.stderr.contains("surprise"))
            #expect(!FileManager.default.fileExists(atPath: target.path), "nothing is created")

            let noConfig = temp.appendingPathComponent("no-config")
            try FileManager.default.createDirectory(at: noConfig, withIntermediateDirectories: true)
            let missing = try runGrad(["init", target.path, "--from", noConfig.path], in: temp)
            #expect(missing.status != 0)
            #expect(missing.stderr.hasPrefix("git-grad: error: "))
            #expect(lines(missing.stderr).count == 1)
            #expect(!FileManager.default.fileExists(atPath: target.path))
        }
    }

    @Test("init refuses a directory that is already a prompt repository and changes nothing")
    func initTwice() throws {
        try withSampleRepository { repo in
            try expectCleanFailure(["init", repo.path, "--from", sampleRepo.path], in: repo, mentioning: "already has a grad.toml")
            try expectCleanFailure(["init", repo.path], in: repo, mentioning: "already has a grad.toml")
        }
    }
}

@Suite struct CheckCommandTests {
    @Test func checkPassesOnTheSampleAndNamesTheBrokenLine() throws {
        try withSampleRepository { repo in
            let output = try grad("check", in: repo)
            #expect(output.contains("train 48") && output.contains("holdout 64") && output.contains("test 64"))
            try writeFile("{\"id\": \"x\", \"message\": \"hi\", \"label\": \"desk\"}\nnot json\n", "data/train.jsonl", in: repo)
            let broken = try runGrad(["check"], in: repo)
            #expect(broken.status != 0)
            #expect(lines(broken.stderr) == ["git-grad: error: data/train.jsonl:2: not valid JSON; each line must be one JSON object"])
            try git("checkout", "--", "data/train.jsonl", in: repo)
            try writeFile("Route {{mesage}}\n", "prompts/router.md", in: repo)
            let typo = try runGrad(["check"], in: repo)
            #expect(typo.status != 0)
            #expect(typo.stderr.contains("{{mesage}}") && typo.stderr.contains("prompts/router.md"))
        }
    }
}

@Suite struct SecretSafetyTests {
    @Test func initFromATemplateCopiesNoHiddenFiles() throws {
        try withTemporaryDirectory { temp in
            let template = temp.appendingPathComponent("template")
            for path in ["grad.toml", "RULES.md", "prompts/router.md", "data/train.jsonl", "data/holdout.jsonl", "data/test.jsonl"] {
                try writeFile(try readFile(path, in: sampleRepo), path, in: template)
            }
            try writeFile("OPENAI_API_KEY=sk-should-never-be-committed\n", ".env", in: template)
            try grad("init", "repo", "--from", template.path, in: temp)
            let repo = temp.appendingPathComponent("repo")
            #expect(!(try git("ls-tree", "-r", "--name-only", "main", in: repo)).contains(".env"))
            #expect(!FileManager.default.fileExists(atPath: repo.appendingPathComponent(".env").path))
        }
    }
}
