import FakeLLMServer
import Foundation
import Testing

/// `check --against`, the pre-push hook that runs it, and what they print.
@Suite("git-grad check --against: the regression gate")
struct RegressionGateTests {
    /// The fake model routes correctly only when the prompt states RULES; otherwise it answers
    /// `field` for everything (see `OptimizeCommandTests.answer`).
    static let rulesPrompt = "RULES: route by the Brightwave rules.\nMessage: {{message}}\nQueue:\n"

    @Test("exit 0 on an improvement, exit 1 with one line on a hand-made regression; the table names the flips; --json agrees")
    func improvementPassesRegressionFails() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let seedPrompt = try readFile("prompts/router.md", in: repo)
            try writeFile(Self.rulesPrompt, "prompts/router.md", in: repo)
            try commitAll(repo, "State the rules")

            let improved = try runGrad(["check", "--against", "main~1"] + fakeModel(server), in: repo)
            #expect(improved.status == 0, "\(improved.stderr)")
            #expect(improved.stdout.contains("verdict: passed: not worse than the base"))
            #expect(improved.stdout.contains("flipped: "))
            #expect(improved.stdout.contains(" fixed, 0 broken"))
            #expect(improved.stdout.contains("recall safety"))

            // A hand-made regression: back to the prompt that answers `field` everywhere.
            try writeFile(seedPrompt, "prompts/router.md", in: repo)
            try commitAll(repo, "Shorter prompt")
            let before = try repositoryState(repo)
            let regressed = try runGrad(["check", "--against", "main~1", "HEAD"] + fakeModel(server), in: repo)
            #expect(regressed.status == 1)
            let errorLines = lines(regressed.stderr).filter { $0.contains("error:") }
            #expect(errorLines.count == 1)
            #expect(errorLines.first?.contains("fails the regression gate against") == true, "\(regressed.stderr)")
            #expect(regressed.stdout.contains("broken  holdout-"))
            #expect(regressed.stdout.contains("verdict: rejected"))
            #expect(try repositoryState(repo) == before, "check changes nothing")

            let json = try runGrad(["check", "--against", "main~1", "--json"] + fakeModel(server), in: repo)
            #expect(json.status == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(object["passed"] as? Bool == false)
            #expect((object["regressions"] as? Int ?? 0) > 0)
            #expect((object["flips"] as? [Any])?.isEmpty == false)
        }
    }

    @Test("a change that loosens grad.toml's rule is still judged by the base's rule")
    func baseRuleJudges() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            try writeFile(Self.rulesPrompt, "prompts/router.md", in: repo)
            try commitAll(repo, "State the rules")
            let good = try git("rev-parse", "HEAD", in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
            try git("checkout", "-q", "main~1", "--", "prompts/router.md", in: repo)
            let toml = try readFile("grad.toml", in: repo)
            try writeFile(toml.replacingOccurrences(of: "[search]", with: "[search]\nlambda = 100\nprevalence = \"off\""), "grad.toml", in: repo)
            try commitAll(repo, "Regress and loosen the rule")
            #expect(try readFile("grad.toml", in: repo).contains("lambda = 100"))
            let result = try runGrad(["check", "--against", good] + fakeModel(server), in: repo)
            #expect(result.status == 1, "\(result.stdout)")
        }
    }

    @Test("hooks/pre-push refuses to push a regressing main to a remote and lets an improvement through")
    func prePushHook() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let parent = repo.deletingLastPathComponent()
            let remote = parent.appendingPathComponent("remote.git").path
            try git("init", "-q", "--bare", remote, in: parent)
            try git("push", "-q", remote, "main", in: repo)
            let hook = repo.appendingPathComponent(".git/hooks/pre-push")
            try FileManager.default.copyItem(at: packageRoot.appendingPathComponent("hooks/pre-push"), to: hook)
            // `git grad` finds git-grad on PATH, as it would on a developer's machine.
            let binDirectory = URL(fileURLWithPath: gitGradBinary).deletingLastPathComponent().path
            let environment = [
                "PATH": binDirectory + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
                "GIT_GRAD_CHECK_OPTIONS": fakeModel(server).joined(separator: " "),
            ]
            func push() throws -> ProcessResult {
                try runProcess("/usr/bin/git", ["push", "-q", remote, "main"], in: repo, environment: environment)
            }

            try writeFile(Self.rulesPrompt, "prompts/router.md", in: repo)
            try commitAll(repo, "State the rules")
            let improved = try push()
            #expect(improved.status == 0, "\(improved.stderr)")

            try writeFile("Queue for: {{message}}\n", "prompts/router.md", in: repo)
            try commitAll(repo, "Terse prompt")
            let regressed = try push()
            #expect(regressed.status != 0)
            #expect(regressed.stderr.contains("fails the regression gate against"))
            let remoteMain = try git("--git-dir", remote, "rev-parse", "main", in: parent)
            #expect(remoteMain == (try git("rev-parse", "main~1", in: repo)), "the remote keeps the improvement")
        }
    }
}
