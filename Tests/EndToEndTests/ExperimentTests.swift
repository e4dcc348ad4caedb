import FakeLLMServer
import Foundation
import Testing

/// `git grad experiment` and `git grad report` through the built binary against the fake model
/// server, read back with the real git CLI (and the report with headless Chromium).
@Suite struct ExperimentTests {
    /// Two operators × two selections: with the fake model only `rewrite` finds the prompt that
    /// answers right (RULES), `demos` never does, so the cells differ clearly.
    static let vary = ["--vary", "operators=demos,rewrite", "--vary", "selection=validated,naive"]

    static func modelFlags(_ server: FakeLLMServer) -> [String] { ["--provider", "local", "--base-url", server.baseURL] }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// A run's recorded score on `split`: the note on its trunk's tip, read with git.
    static func recordedScore(run: String, split: String, in repo: URL) throws -> Double {
        let note = try json(try git("notes", "--ref=grad", "show", "grad/\(run)/main", in: repo))
        let splits = try #require(note["splits"] as? [[String: Any]])
        return try #require(splits.last { $0["split"] as? String == split }?["score"] as? Double)
    }

    @Test func cellsMatchTheRunsRecordedScoresAndDifferSignificantly() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let mainBefore = try git("rev-parse", "main", in: repo)
            let output = try grad(
                ["experiment", "--name", "ops", "--seeds", "1-2", "--steps", "1", "--json"] + Self.vary + Self.modelFlags(server), in: repo)
            let report = try Self.json(output)
            #expect(report["complete"] as? Bool == true)
            #expect(try git("rev-parse", "main", in: repo) == mainBefore)  // main untouched
            let cells = try #require(report["cells"] as? [[String: Any]])
            #expect(cells.map { $0["cell"] as? String } == [
                "operators=demos,selection=validated", "operators=demos,selection=naive",
                "operators=rewrite,selection=validated", "operators=rewrite,selection=naive",
            ])
            for (index, cell) in cells.enumerated() {
                // Mean and σ are those of the runs' recorded test scores (notes on each run's branch).
                let scores = try [1, 2].map { try Self.recordedScore(run: "ops-c\(index + 1)-s\($0)", split: "test", in: repo) }
                let mean = scores.reduce(0, +) / 2
                let sd = (scores.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 1).squareRoot()
                let test = try #require(cell["test"] as? [String: Any])
                #expect(abs((test["mean"] as? Double ?? -1) - mean) < 1e-9)
                #expect(abs((test["standardDeviation"] as? Double ?? -1) - sd) < 1e-9)
                #expect(cell["runsFinished"] as? Int == 2)
            }
            // The baseline is the first cell; rewrite finds the right prompt, demos does not.
            #expect(cells[0]["comparison"] == nil)
            let demosNaive = try #require(cells[1]["comparison"] as? [String: Any])
            let rewrite = try #require(cells[2]["comparison"] as? [String: Any])
            #expect(demosNaive["pValue"] as? Double == 1)
            #expect((rewrite["pValue"] as? Double ?? 1) < 0.001)
            #expect((rewrite["meanDifference"] as? Double ?? 0) > 0.3)
            // Bonferroni across the three cells compared with the baseline.
            let p = try #require(rewrite["pValue"] as? Double)
            #expect(abs((rewrite["adjustedPValue"] as? Double ?? 0) - min(1, 3 * p)) < 1e-12)
            // At the seed level two seeds cannot be significant, however large the gain: the
            // sign-flip test over seeds has 4 patterns, and both seeds' gains give p = 2/4.
            let seedDifferences = try #require(rewrite["seedDifferences"] as? [Double])
            #expect(seedDifferences.count == 2 && seedDifferences.allSatisfy { $0 > 0.3 })
            #expect(rewrite["seedPValue"] as? Double == 0.5)
            let interval = try #require(rewrite["seedInterval"] as? [String: Any])
            #expect((interval["low"] as? Double ?? 1) <= (interval["mean"] as? Double ?? 0))
            // Every cell × seed is an ordinary run, listed and recorded like any other.
            let runs = try grad("runs", in: repo)
            for cell in 1...4 { for seed in 1...2 { #expect(runs.contains("ops-c\(cell)-s\(seed)")) } }
            #expect(try git("for-each-ref", "refs/grad/experiments", in: repo).contains("refs/grad/experiments/ops"))

            // The table, from git again: identical figures without a single model call.
            let requests = server.requests.count
            let table = try grad(["experiment", "--resume", "ops"] + Self.modelFlags(server), in: repo)
            #expect(server.requests.count == requests)
            #expect(table.contains("p seeds (Bonf.)") && table.contains("p pooled"))
            #expect(table.contains("operators=rewrite,selection=validated"))
        }
    }

    @Test func anInterruptedExperimentResumesWithoutRepeatingFinishedRuns() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let flags = ["--vary", "operators=demos,rewrite"] + Self.modelFlags(server)
            let first = try grad(["experiment", "--name", "cut", "--seeds", "1-2", "--steps", "1", "--stop-after-runs", "1"] + flags, in: repo)
            #expect(first.contains("experiment --resume cut"))
            let finished = try git("cat-file", "-p", "refs/grad/runs/cut-c1-s1:manifest.json", in: repo)
            #expect(finished.contains("\"outcome\" : \"finished\""))
            #expect(try git("for-each-ref", "refs/grad/runs", in: repo).split(separator: "\n").count == 1)
            let resumed = try grad(["experiment", "--resume", "cut", "--json"] + Self.modelFlags(server), in: repo)
            let report = try Self.json(resumed)
            #expect(report["complete"] as? Bool == true)
            #expect(try git("cat-file", "-p", "refs/grad/runs/cut-c1-s1:manifest.json", in: repo) == finished)  // not run again
            #expect(try git("for-each-ref", "refs/grad/runs", in: repo).split(separator: "\n").count == 4)
            let again = try runGrad(["experiment", "--name", "cut", "--vary", "operators=rewrite"] + Self.modelFlags(server), in: repo)
            #expect(again.status != 0)
            #expect(again.stderr.contains("experiment cut exists"))
        }
    }

    @Test func theBudgetStopsAnExperimentWithTheResumeCommand() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let result = try runGrad(
                ["experiment", "--name", "tight", "--seeds", "1-2", "--steps", "1", "--budget", "150", "--vary", "operators=demos,rewrite"]
                    + Self.modelFlags(server), in: repo)
            #expect(result.status != 0)
            #expect(result.stderr.contains("git grad experiment --resume tight"))
            #expect(result.stderr.split(separator: "\n").count == 1)
            let done = try grad(["experiment", "--resume", "tight", "--json"] + Self.modelFlags(server), in: repo)
            #expect(try Self.json(done)["complete"] as? Bool == true)
        }
    }

    @Test func badGridsGetOneClearLine() throws {
        try withSampleRepository { repo in
            let before = try repositoryState(repo)
            try "seeds = [1, 2]\n[[cell]]\nname = \"a\"\nselection = \"sometimes\"\n".write(
                to: repo.appendingPathComponent("grid.toml"), atomically: true, encoding: .utf8)
            for (arguments, expected) in [
                (["--grid", "grid.toml"], "grid.toml: cell[0].selection: 'sometimes' is not one of"),
                (["--vary", "temperature=1,2"], "--vary: temperature: not a setting a cell can vary"),
                (["--vary", "selection=naive", "--seeds", "x"], "--seeds: 'x' is not a seed"),
                (["--preset", "nope"], "--preset 'nope' is not one of"),
                (["--vary", "selection=naive", "--baseline", "zz"], "baseline 'zz' is not a cell"),
                (["--resume", "missing"], "no experiment named missing"),
            ] {
                let result = try runGrad(["experiment"] + arguments, in: repo)
                #expect(result.status != 0)
                #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1)
            }
            try FileManager.default.removeItem(at: repo.appendingPathComponent("grid.toml"))
            #expect(try repositoryState(repo) == before)
        }
    }

    @Test func theReportIsSelfContainedAndRendersInHeadlessChromium() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            try grad(["experiment", "--name", "rep", "--seeds", "1-2", "--steps", "2", "--vary", "operators=demos,rewrite"] + Self.modelFlags(server), in: repo)
            try grad(["optimize", "--steps", "1", "--run", "plain"] + Self.modelFlags(server), in: repo)
            let experimentOut = try grad("report", "--experiment", "rep", "-o", "experiment.html", in: repo)
            #expect(experimentOut.contains("wrote experiment.html"))
            try grad("report", "-o", "run.html", in: repo)
            for file in ["experiment.html", "run.html"] {
                let html = try readFile(file, in: repo)
                for external in ["http://", "https://", "src=", "url(", "@import", "<script", "<link"] {
                    #expect(!html.contains(external), "\(file) contains \(external)")
                }
                #expect(html.contains("<svg"))
                #expect(html.contains("Lineage"))
            }
            let experiment = try readFile("experiment.html", in: repo)
            #expect(experiment.contains("p seeds (Bonferroni)") && experiment.contains("p pooled"))
            #expect(experiment.contains("Run rep-c2-s1"))
            let run = try readFile("run.html", in: repo)
            #expect(run.contains("Run plain"))
            #expect(run.contains("State the queue rules"))  // the accepted step's summary and diff
            #expect(run.contains("<span class=\"add\">+RULES"))

            let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
            if ProcessInfo.processInfo.environment["CI"] != nil { try #require(chromium != nil, "CI installs Debian's chromium") }
            guard let chromium else { return }
            try "<!DOCTYPE html><html><body></body></html>".write(to: repo.appendingPathComponent("blank.html"), atomically: true, encoding: .utf8)
            var sizes: [String: Int] = [:]
            for page in ["experiment", "run", "blank"] {
                let shot = repo.appendingPathComponent("\(page).png")
                let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1600"]
                let result = try runProcess(chromium, flags + ["--screenshot=\(shot.path)", repo.appendingPathComponent("\(page).html").absoluteString], in: repo)
                #expect(result.status == 0, "\(result.stderr)")
                sizes[page] = (try? FileManager.default.attributesOfItem(atPath: shot.path)[.size] as? Int) ?? 0
            }
            // GIT_GRAD_KEEP_REPORTS=DIR keeps the pages and screenshots to look at.
            if let keep = ProcessInfo.processInfo.environment["GIT_GRAD_KEEP_REPORTS"] {
                for file in ["experiment.html", "run.html", "experiment.png", "run.png"] {
                    let target = URL(fileURLWithPath: keep).appendingPathComponent(file)
                    try? FileManager.default.removeItem(at: target)
                    try FileManager.default.copyItem(at: repo.appendingPathComponent(file), to: target)
                }
            }
            // A blank page compresses to almost nothing; charts and tables do not.
            #expect((sizes["blank"] ?? 0) > 0)
            #expect((sizes["experiment"] ?? 0) > 8 * (sizes["blank"] ?? 1))
            #expect((sizes["run"] ?? 0) > 8 * (sizes["blank"] ?? 1))
            // The DOM Chromium built holds the charts' elements.
            let dom = try runProcess(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", repo.appendingPathComponent("experiment.html").absoluteString], in: repo)
            #expect(dom.stdout.components(separatedBy: "<svg").count - 1 >= 4)
            #expect(dom.stdout.components(separatedBy: "<circle").count - 1 >= 16)
        }
    }
}

/// The seed's holdout results are read back from its note when it was evaluated before (by `eval`
/// or by an earlier run of an experiment); the prevalence audit must see the same labels then.
@Suite struct AuditFromNoteTests {
    /// Like the sample fake, but every answer carries a prefix, so raw answer and label differ.
    @Sendable static func answer(_ request: FakeLLMServer.RecordedRequest) -> FakeLLMServer.Reply {
        let reply = OptimizeCommandTests.answer(request)
        guard case .completion(let text) = reply, text == "field" else { return reply }
        return .completion("Queue: field")
    }

    @Test func theAuditOfACandidateSeesTheParentsLabelsWhenTheyComeFromANote() throws {
        let server = FakeLLMServer(threads: 2, script: Self.answer)
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let flags = ["--provider", "local", "--base-url", server.baseURL]
            try grad(["eval", "--split", "holdout"] + flags, in: repo)
            try grad(["optimize", "--steps", "1", "--variants", "1"] + flags, in: repo)
            // The seed answers field everywhere: recall 1 for field, 0 for the four other queues.
            let trailers = try git("log", "-1", "--format=%(trailers:key=Balanced-Accuracy,valueonly)", "main", in: repo)
            #expect(trailers.hasPrefix("0.200 -> "), "\(trailers)")
        }
    }
}
