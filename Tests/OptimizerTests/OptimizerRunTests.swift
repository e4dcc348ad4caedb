import Evaluation
import FakeLLMServer
import Foundation
import GitKit
import LLM
import Optimizer
import PromptRepo
import Testing

@Suite struct OptimizerRunTests {
    let task = ToyTask()
    static let good = "Label the item as a or b. MAGIC: items divisible by three are b.\n\nItem: {{text}}\n\nLabel:"
    static let weak = "Label the item.\n\nItem: {{text}}\n\nLabel:"

    func gradientRequests(_ server: FakeLLMServer) -> [FakeLLMServer.RecordedRequest] {
        server.requests.filter { $0.lastUserMessage.contains("Explain what in the prompt caused") }
    }

    func taskRequests(_ server: FakeLLMServer) -> [FakeLLMServer.RecordedRequest] {
        server.requests.filter { $0.lastUserMessage.hasPrefix("Label the item") }
    }

    @Test func errorFeedbackSendsOnlyWrongExamplesToTheGradient() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        let server = FakeLLMServer(script: task.script(candidates: [Self.good, Self.weak]))
        try server.start()
        defer { server.stop() }
        _ = try await runOptimizer(repo: repo, server: server)
        let gradients = gradientRequests(server)
        #expect(gradients.count == 1)
        let text = try #require(gradients.first).lastUserMessage
        // The seed prompt answers odd items wrong and even items right.
        let shown = text.matches(of: /item #(\d+)/).map { Int($0.1)! }
        #expect(!shown.isEmpty)
        #expect(shown.allSatisfy { $0 % 2 == 1 }, "a correctly answered example reached the gradient: \(shown)")
    }

    @Test func allFeedbackSendsCorrectExamplesToo() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory, search: #"feedback = "all""#)
        let server = FakeLLMServer(script: task.script(candidates: [Self.good, Self.weak]))
        try server.start()
        defer { server.stop() }
        _ = try await runOptimizer(repo: repo, server: server)
        let text = try #require(gradientRequests(server).first).lastUserMessage
        let shown = text.matches(of: /item #(\d+)/).map { Int($0.1)! }
        #expect(shown.count == 6)
        #expect(shown.contains { $0 % 2 == 0 })
    }

    @Test func validatedRunMergesTheVerifiedCandidateAndRecordsEverything() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        let server = FakeLLMServer(script: task.script(candidates: [Self.good, Self.weak]))
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        #expect(summary.accepted == 1)
        #expect(summary.finalHoldout > summary.seedHoldout)
        #expect(summary.finalHoldout == 1.0)

        // Read it all back with the real git CLI.
        let branches = try git(["branch", "--list", "grad/*", "--format=%(refname:short)"], in: repo)
            .split(separator: "\n").map(String.init)
        #expect(branches.count == 2)
        #expect(branches.allSatisfy { $0.hasPrefix("grad/\(summary.run)/s1v") })
        let mainParents = try git(["log", "-1", "--format=%P", "main"], in: repo).split(separator: " ")
        #expect(mainParents.count == 2)
        let trailers = try git(["log", "-1", "--format=%(trailers)", "main"], in: repo)
        #expect(trailers.contains("Grad-Run: \(summary.run)"))
        #expect(trailers.contains("Grad-Step: 1"))
        #expect(trailers.contains("Verdict: accepted"))
        #expect(trailers.contains("Score-Holdout: 0.500 -> 1.000"))
        // A non-embedded optimizer model rewrites whole prompts, as before operators existed.
        #expect(trailers.contains("Operator: rewrite"))
        #expect(summary.acceptedSteps.map(\.operatorName) == ["rewrite"])
        #expect(trailers.contains("Calls: "))
        let body = try git(["log", "-1", "--format=%b", "main"], in: repo)
        #expect(body.contains("divisible by three"))
        for branch in branches {
            let verdict = try git(["log", "-1", "--format=%(trailers:key=Verdict,valueonly)", branch], in: repo)
            #expect(!verdict.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
            let candidateTrailers = try git(["log", "-1", "--format=%(trailers)", "\(branch)~1"], in: repo)
            #expect(candidateTrailers.contains("Grad-Kind: candidate"))
            #expect(candidateTrailers.contains("Grad-Errors: "))
        }
        let note = try git(["notes", "--ref=grad", "show", "main"], in: repo)
        let decoded = try EvaluationNote.decode(note)
        #expect(decoded.split("holdout")?.score == 1.0)
        // Only the prompt file changed; the working tree followed main.
        #expect(try git(["diff", "--name-only", "main~1", "main"], in: repo) == "prompts/p.md\n")
        #expect(try git(["status", "--porcelain"], in: repo).isEmpty)
        #expect(try String(contentsOf: repo.appendingPathComponent("prompts/p.md"), encoding: .utf8).contains("MAGIC"))
        _ = try git(["fsck", "--full"], in: repo)
    }

    @Test func aCandidateWithTooManyRegressionsIsRejectedDespiteAHigherScore() async throws {
        let directory = try TemporaryDirectory()
        // Holdout 101...124: the seed gets the 12 odd items wrong. BREAK breaks the last two even items, so the candidate is evaluated in full.
        let repo = try task.makeRepository(in: directory, search: "max_regressions = 1\nvariants = 1")
        let breaking = Self.good + " BREAK"
        let server = FakeLLMServer(script: task.script(candidates: [breaking], breakIDs: [122, 124]))
        try server.start()
        defer { server.stop() }
        let (summary, events) = try await runOptimizer(repo: repo, server: server)
        #expect(summary.accepted == 0)
        let verdicts = events.compactMap { event -> (Bool, String, Double?)? in
            if case .verdict(_, _, let passed, let text, _, let after) = event { return (passed, text, after) }
            return nil
        }
        let verdict = try #require(verdicts.first)
        #expect(!verdict.0)
        #expect(verdict.1.contains("regressions"))
        #expect((verdict.2 ?? 0) > summary.seedHoldout)  // its score was higher, and still rejected
        #expect(try git(["log", "-1", "--format=%P", "main"], in: repo).split(separator: " ").count == 1)
    }

    @Test func naiveSelectionAcceptsWithoutVerification() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory, search: "selection = \"naive\"\nvariants = 1")
        // The only candidate is worse than the seed: naive selection takes it anyway.
        let worse = "Label the item as b. MAGIC BREAK\n\nItem: {{text}}"
        let server = FakeLLMServer(script: task.script(candidates: [worse], breakIDs: Set(task.holdout)))
        try server.start()
        defer { server.stop() }
        let (summary, events) = try await runOptimizer(repo: repo, server: server)
        #expect(summary.accepted == 1)
        #expect(summary.finalHoldout < summary.seedHoldout)
        #expect(events.contains { if case .verdict(_, _, true, let text, _, nil) = $0 { return text.contains("naive") }; return false })

        let validatedDirectory = try TemporaryDirectory()
        let validatedRepo = try task.makeRepository(in: validatedDirectory, search: "variants = 1")
        let validatedServer = FakeLLMServer(script: task.script(candidates: [worse], breakIDs: Set(task.holdout)))
        try validatedServer.start()
        defer { validatedServer.stop() }
        let (validated, _) = try await runOptimizer(repo: validatedRepo, server: validatedServer)
        #expect(validated.accepted == 0)
        #expect(validated.finalHoldout == validated.seedHoldout)
    }

    @Test func shuffledLabelsReachTheGradientButNotVerification() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory, search: "labels = \"shuffled\"")
        let server = FakeLLMServer(script: task.script(candidates: [Self.good, Self.weak]))
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        let text = try #require(gradientRequests(server).first).lastUserMessage
        let pairs = text.matches(of: /item #(\d+)\nModel answer: [^\n]*\nCorrect answer: (\w+)/).map { (Int($0.1)!, String($0.2)) }
        #expect(!pairs.isEmpty)
        #expect(pairs.allSatisfy { task.label($0.0) != $0.1 }, "every label shown to the gradient is wrong")
        // Verification used the true labels: the good candidate still scores 1.0 on the holdout set.
        #expect(summary.accepted == 1)
        #expect(summary.finalHoldout == 1.0)
        let note = try EvaluationNote.decode(try git(["notes", "--ref=grad", "show", "main"], in: repo))
        #expect(note.split("holdout")!.examples.allSatisfy { $0.expected == task.label(Int($0.id.dropFirst())!) })
    }

    @Test func twoStepGradientCritiquesEachErrorFirst() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory, search: "gradient = \"two-step\"")
        let server = FakeLLMServer(script: task.script(candidates: [Self.good, Self.weak]))
        try server.start()
        defer { server.stop() }
        _ = try await runOptimizer(repo: repo, server: server)
        let critiques = server.requests.filter { $0.lastUserMessage.contains("In one or two sentences") }
        let errors = critiques.count
        #expect(errors > 0)
        #expect(server.requests.contains { $0.lastUserMessage.contains("Critiques of the model's wrong answers") })
    }

    @Test func resumeAfterACrashBetweenCandidateAndVerdict() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        let server = FakeLLMServer(script: task.script(candidates: [Self.good, Self.weak]))
        try server.start()
        defer { server.stop() }
        let mainBefore = try git(["rev-parse", "main"], in: repo)
        var first = OptimizeRequest()
        first.stopAfterCandidates = 1
        let (stopped, _) = try await runOptimizer(repo: repo, server: server, request: first)
        #expect(stopped.stoppedBecause != nil)
        // The candidate is committed, its verdict is not, and main has not moved.
        let run = stopped.run
        let tip = try git(["rev-parse", "grad/\(run)/s1v1"], in: repo)
        #expect(try git(["log", "-1", "--format=%(trailers:key=Grad-Kind,valueonly)", "grad/\(run)/s1v1"], in: repo).contains("candidate"))
        #expect(try git(["rev-parse", "main"], in: repo) == mainBefore)

        var resume = OptimizeRequest()
        resume.resume = true
        let (finished, _) = try await runOptimizer(repo: repo, server: server, request: resume)
        #expect(finished.run == run)
        #expect(finished.accepted == 1)
        // The same candidate commit got its verdict on top; nothing was committed twice.
        #expect(try git(["rev-parse", "grad/\(run)/s1v1~1"], in: repo) == tip)
        #expect(try git(["log", "-1", "--format=%(trailers:key=Grad-Kind,valueonly)", "grad/\(run)/s1v1"], in: repo).contains("verdict"))
        #expect(try git(["rev-list", "--count", "grad/\(run)/s1v2"], in: repo).trimmingCharacters(in: .whitespacesAndNewlines) == "3")
        #expect(try git(["log", "-1", "--format=%P", "main"], in: repo).split(separator: " ").count == 2)
    }

    @Test func secondRunIsAnsweredFromTheCache() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        let server = FakeLLMServer(script: task.script(candidates: [Self.weak, Self.weak]))
        try server.start()
        defer { server.stop() }
        _ = try await runOptimizer(repo: repo, server: server)
        let firstCount = server.requests.count
        server.resetRecord()
        _ = try await runOptimizer(repo: repo, server: server)
        #expect(firstCount > 0)
        #expect(server.requests.isEmpty, "a repeated run made \(server.requests.count) new calls")
    }

    /// The run seed reaches every optimizer request, so seeds of an experiment differ in their
    /// rewrites and not only in their minibatches.
    @Test func theRunSeedReachesOptimizerRequests() async throws {
        func optimizerSeeds(runSeed: Int) async throws -> Set<Int> {
            let directory = try TemporaryDirectory()
            let repo = try task.makeRepository(in: directory)
            let server = FakeLLMServer(script: task.script(candidates: [Self.weak, Self.weak]))
            try server.start()
            defer { server.stop() }
            var request = OptimizeRequest()
            try request.settings.set("seed", String(runSeed), describe: "test")
            _ = try await runOptimizer(repo: repo, server: server, request: request)
            let bodies = server.requests.filter { $0.lastUserMessage.contains("Rewrite the prompt below") || $0.lastUserMessage.contains("Explain what") }
            #expect(!bodies.isEmpty)
            return Set(try bodies.map { request in
                let object = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
                return try #require(object["seed"] as? Int, "an optimizer request without a seed: \(request.body)")
            })
        }
        let three = try await optimizerSeeds(runSeed: 3)
        let four = try await optimizerSeeds(runSeed: 4)
        #expect(three.isDisjoint(with: four), "seeds 3 and 4 sent the same optimizer seeds: \(three) \(four)")
    }

    @Test func refusesToStartWithUncommittedPromptEdits() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        try "edited\n{{text}}\n".write(to: repo.appendingPathComponent("prompts/p.md"), atomically: true, encoding: .utf8)
        let server = FakeLLMServer(script: task.script(candidates: [Self.good]))
        try server.start()
        defer { server.stop() }
        await #expect { _ = try await runOptimizer(repo: repo, server: server) } throws: { error in
            "\(error)".contains("prompts/p.md") && "\(error)".contains("uncommitted")
        }
        #expect(server.requests.isEmpty)
    }

    @Test func callBudgetStopsTheRunWithMainVerified() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        let server = FakeLLMServer(script: task.script(candidates: [Self.good, Self.weak]))
        try server.start()
        defer { server.stop() }
        let repository = try PromptRepository.open(repo)
        var config = try repository.config(at: try repository.mainTip())
        let store = RunStore(repository: repository)
        config.model.baseURL = server.baseURL
        config.optimizerModel.baseURL = server.baseURL
        let runtime = try await ModelRuntime(task: config.model, optimizer: config.optimizerModel, prices: [:], cacheDirectory: nil,
                                             budget: CallBudget(maxCalls: 15))
        let run = OptimizerRun(store: store, runtime: runtime, config: config, metaPrompts: .defaults, emit: { _ in })
        let summary = try await run.run(OptimizeRequest())
        #expect(summary.stoppedBecause?.contains("budget") == true)
        // Never more than the budget (a call cancelled with its task group may never reach the server).
        #expect(server.requests.count <= 15 && server.requests.count >= 10)
        #expect(try git(["log", "-1", "--format=%s", "main"], in: repo) == "Seed prompt\n")
    }
}

@Suite struct OptimizerSafetyTests {
    let task = ToyTask()

    @Test func aCandidateThatReadsTheAnswerIsRejectedNotFatal() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory, search: "variants = 1")
        // {{label}} would paste the gold answer into the prompt: it is not an input field.
        let cheat = "MAGIC The answer is {{label}}.\n\nItem: {{text}}"
        let server = FakeLLMServer(script: task.script(candidates: [cheat]))
        try server.start()
        defer { server.stop() }
        let (summary, events) = try await runOptimizer(repo: repo, server: server)
        #expect(summary.accepted == 0)
        #expect(events.contains { if case .verdict(_, _, false, let text, _, _) = $0 { return text.contains("{{label}}") }; return false })
        #expect(!server.requests.contains { $0.lastUserMessage.contains("MAGIC The answer is") })
    }

    @Test func resumeRefusesCandidatesMadeFromAnOlderMain() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        let server = FakeLLMServer(script: task.script(candidates: [OptimizerRunTests.good, OptimizerRunTests.weak]))
        try server.start()
        defer { server.stop() }
        var first = OptimizeRequest()
        first.stopAfterCandidates = 1
        _ = try await runOptimizer(repo: repo, server: server, request: first)
        // Someone commits to main meanwhile.
        try writeFile("edited by hand\n", "notes.txt", in: repo)
        try git("commit", "-q", "-am", "hand edit", in: repo)
        let mainBefore = try git("rev-parse", "main", in: repo)
        var resume = OptimizeRequest()
        resume.resume = true
        await #expect { _ = try await runOptimizer(repo: repo, server: server, request: resume) } throws: { error in
            "\(error)".contains("main is now at") && !"\(error)".contains("\n")
        }
        #expect(try git("rev-parse", "main", in: repo) == mainBefore)
    }

    @Test func badDataRecordsNoRun() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        try writeFile("not json\n", "data/holdout.jsonl", in: repo)
        try git("commit", "-q", "-am", "break the holdout set", in: repo)
        let server = FakeLLMServer(script: task.script(candidates: [OptimizerRunTests.good]))
        try server.start()
        defer { server.stop() }
        await #expect { _ = try await runOptimizer(repo: repo, server: server) } throws: { error in
            "\(error)".contains("data/holdout.jsonl:1")
        }
        #expect(try git("for-each-ref", "refs/grad/", in: repo).isEmpty)
        #expect(server.requests.isEmpty)
    }
}
