import FakeLLMServer
import Foundation
import Testing

/// The two questions of `check --against` on the built binary, against a loopback server whose
/// answers are fixed per prompt version and holdout row, so the flips are exactly the issue's:
/// an unchanged prompt, a one-label collapse on a 60/10/10/10/10 holdout, +1/-0, a 25-fixed /
/// 19-broken swap and +12/-0 on 100 examples.
@Suite("check --against: verified means significant")
struct SignificanceGateTests {
    /// A prompt repository with `rows` holdout rows `r0…` labelled by `label(row)`, a prompt that
    /// names its version (`VERSION: …`) so the server knows what to answer.
    static func makeRepository(in temp: URL, labels: [String], rows: Int, label: (Int) -> String) throws -> URL {
        let template = temp.appendingPathComponent("template")
        let holdout = (0..<rows).map { #"{"id": "r\#($0)", "text": "row \#($0)", "label": "\#(label($0))"}"# }.joined(separator: "\n") + "\n"
        let train = (0..<8).map { #"{"id": "t\#($0)", "text": "train \#($0)", "label": "\#(label($0))"}"# }.joined(separator: "\n") + "\n"
        let files = [
            "grad.toml": """
                [task]
                prompt = "prompts/p.md"
                train = "data/train.jsonl"
                holdout = "data/holdout.jsonl"
                input = "text"
                target = "label"
                id = "id"

                [metric]
                kind = "choice"
                labels = [\(labels.map { "\"\($0)\"" }.joined(separator: ", "))]

                [model]
                provider = "local"
                base_url = "http://127.0.0.1:1/v1"
                name = "fake-task"
                """,
            "prompts/p.md": "VERSION: base\nClassify: {{text}}\nLabel:\n",
            "data/train.jsonl": train,
            "data/holdout.jsonl": holdout,
        ]
        for (path, text) in files {
            let url = template.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let repo = temp.appendingPathComponent("repo")
        try grad("init", repo.path, "--from", template.path, in: temp)
        return repo
    }

    /// A server answering `answers[version](row)` for a prompt `VERSION: version` and a row `row N`.
    static func server(_ answers: [String: @Sendable (Int) -> String]) -> FakeLLMServer {
        FakeLLMServer { request in
            let text = request.allContent
            guard let version = text.firstMatch(of: /VERSION: (\w+)/).map({ String($0.1) }),
                  let row = text.firstMatch(of: /row (\d+)/).flatMap({ Int($0.1) }), let answer = answers[version]
            else { return .completion("?") }
            return .completion(answer(row))
        }
    }

    func commitVersion(_ version: String, in repo: URL) throws {
        try writeFile("VERSION: \(version)\nClassify: {{text}}\nLabel:\n", "prompts/p.md", in: repo)
        try commitAll(repo, "Prompt \(version)")
    }

    @Test("an unchanged prompt passes the regression gate with no model call; --as-step refuses it")
    func unchangedPromptPasses() throws {
        try withTemporaryDirectory { temp in
            let repo = try Self.makeRepository(in: temp, labels: ["yes", "no"], rows: 20) { $0 % 2 == 0 ? "yes" : "no" }
            // grad.toml points at 127.0.0.1:1, where nothing listens: a model call would fail.
            let same = try runGrad(["check", "--against", "HEAD", "HEAD"], in: repo)
            #expect(same.status == 0, "\(same.stderr)")
            #expect(same.stdout.contains("unchanged"))
            // A commit that touches only the data keeps the prompt: still no call, still a pass.
            try writeFile("A note for reviewers.\n", "README.md", in: repo)
            try git("add", "README.md", in: repo)
            try commitAll(repo, "Docs only")
            let docsOnly = try runGrad(["check", "--against", "main~1"], in: repo)
            #expect(docsOnly.status == 0, "\(docsOnly.stderr)")
            let asStep = try runGrad(["check", "--against", "main~1", "--as-step"], in: repo)
            #expect(asStep.status == 1)
            #expect(asStep.stderr.contains("would not be merged as a step"))
        }
    }

    @Test("a one-label collapse on a 60/10/10/10/10 holdout is refused, naming the collapse")
    func oneLabelCollapseIsRefused() throws {
        let labels = ["big", "s1", "s2", "s3", "s4"]
        // Rows 0-59 big, then 10 rows of each small class.
        let label: @Sendable (Int) -> String = { $0 < 60 ? "big" : labels[1 + ($0 - 60) / 10] }
        let server = Self.server([
            // The parent: right on 30 of the big class and the first row of each small class.
            "base": { row in row < 30 ? "big" : row < 60 ? "s1" : ((row - 60) % 10 == 0 ? label(row) : "big") },
            "onelabel": { _ in "big" },
        ])
        try server.start()
        defer { server.stop() }
        try withTemporaryDirectory { temp in
            let repo = try Self.makeRepository(in: temp, labels: labels, rows: 100, label: label)
            try commitVersion("onelabel", in: repo)
            let before = try repositoryState(repo)
            let result = try runGrad(["check", "--against", "main~1"] + fakeModel(server), in: repo)
            #expect(result.status == 1, "\(result.stdout)")
            #expect(result.stdout.contains("0.340") && result.stdout.contains("0.600"), "accuracy rose: \(result.stdout)")
            let errors = lines(result.stderr).filter { $0.contains("error:") }
            #expect(errors.count == 1)
            #expect(errors.first?.contains("class collapse") == true, "\(result.stderr)")
            #expect(errors.first?.contains("'big' predicted for 100%") == true)
            #expect(try repositoryState(repo) == before)
        }
    }

    @Test("--as-step refuses +1/-0 and a 25-fixed/19-broken swap and accepts +12/-0; the plain gate refuses only the swap")
    func asStepIsTheOptimizersTest() throws {
        // The parent gets rows 0-29 of 100 right.
        let label: @Sendable (Int) -> String = { $0 % 2 == 0 ? "yes" : "no" }
        let other: @Sendable (Int) -> String = { $0 % 2 == 0 ? "no" : "yes" }
        func rightOn(_ rows: @escaping @Sendable (Int) -> Bool) -> @Sendable (Int) -> String { { rows($0) ? label($0) : other($0) } }
        let server = Self.server([
            "base": rightOn { $0 < 30 },
            "plusone": rightOn { $0 < 31 },
            "swap": rightOn { (19..<55).contains($0) },
            "plustwelve": rightOn { $0 < 42 },
        ])
        try server.start()
        defer { server.stop() }
        try withTemporaryDirectory { temp in
            let repo = try Self.makeRepository(in: temp, labels: ["yes", "no"], rows: 100, label: label)
            let base = try git("rev-parse", "HEAD", in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
            for (version, accepted, fragment) in [
                ("plusone", false, "not significant: +1/-0"), ("swap", false, "not significant: +25/-19"), ("plustwelve", true, "sign test"),
            ] {
                try commitVersion(version, in: repo)
                let step = try runGrad(["check", "--against", base, "--as-step"] + fakeModel(server), in: repo)
                #expect((step.status == 0) == accepted, "\(version): \(step.stdout) \(step.stderr)")
                #expect((step.stdout + step.stderr).contains(fragment), "\(version): \(step.stdout) \(step.stderr)")
                let json = try runGrad(["check", "--against", base, "--as-step", "--json"] + fakeModel(server), in: repo)
                let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
                #expect(object["question"] as? String == "as-step")
                #expect(object["test"] as? String == "sign test")
                #expect((object["pValue"] as? Double).map { accepted ? $0 <= 0.05 : $0 > 0.05 } == true)
                // Not significantly worse: the regression gate lets +1/-0 and +12/-0 through, and
                // refuses the swap for breaking 19 examples for 25 fixed (preservation).
                let gate = try runGrad(["check", "--against", base] + fakeModel(server), in: repo)
                #expect((gate.status == 0) == (version != "swap"), "\(version): \(gate.stdout) \(gate.stderr)")
                if version == "swap" { #expect(gate.stderr.contains("breaks 19 examples the parent got right for 25 fixed")) }
            }
        }
    }

    @Test("the regression gate refuses a significant regression and says which test")
    func significantRegressionFails() throws {
        let label: @Sendable (Int) -> String = { $0 % 2 == 0 ? "yes" : "no" }
        let server = Self.server([
            "base": { row in row < 60 ? label(row) : (row % 2 == 0 ? "no" : "yes") },
            "worse": { row in row < 50 ? label(row) : (row % 2 == 0 ? "no" : "yes") },
        ])
        try server.start()
        defer { server.stop() }
        try withTemporaryDirectory { temp in
            let repo = try Self.makeRepository(in: temp, labels: ["yes", "no"], rows: 100, label: label)
            try commitVersion("worse", in: repo)
            let result = try runGrad(["check", "--against", "main~1"] + fakeModel(server), in: repo)
            #expect(result.status == 1)
            #expect(result.stderr.contains("significantly worse: +0/-10"), "\(result.stderr)")
            #expect(result.stdout.contains("test: sign test p="), "\(result.stdout)")
        }
    }
}
