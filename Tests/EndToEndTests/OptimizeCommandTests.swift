import FakeLLMServer
import Foundation
import NIOCore
import Testing

/// `git grad eval` and `git grad optimize` through the built binary, against the loopback fake
/// model server, read back with the real git CLI.
@Suite struct OptimizeCommandTests {
    /// Labels of the sample repository's messages, so the fake task model can answer right.
    static let truth: [String: String] = {
        var labels: [String: String] = [:]
        for split in ["train", "holdout", "test"] {
            let text = (try? String(contentsOf: sampleRepo.appendingPathComponent("data/\(split).jsonl"), encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let message = object["message"] as? String, let label = object["label"] as? String else { continue }
                labels[message] = label
            }
        }
        return labels
    }()

    /// The fake model: the seed prompt always answers "field"; a prompt with RULES answers right.
    static func server(latency: TimeAmount = .zero) -> FakeLLMServer {
        FakeLLMServer(latency: latency, threads: 2, script: answer)
    }

    /// The fake model's answer to one request.
    @Sendable static func answer(_ request: FakeLLMServer.RecordedRequest) -> FakeLLMServer.Reply {
        let content = request.lastUserMessage
        if content.contains("Explain what in the prompt caused") {
            return .completion("- The prompt never states the queue rules; cancellations go to retention.")
        }
        if content.contains("Rewrite the prompt below") {
            return .completion("<summary>State the queue rules</summary>\n<prompt>\nRULES: route by the Brightwave rules.\nMessage: {{message}}\nQueue:\n</prompt>")
        }
        guard let message = truth.keys.first(where: { content.contains($0) }) else { return .completion("desk") }
        return .completion(content.contains("RULES") ? "Queue: \(truth[message]!)" : "field")
    }

    @Test func evalWritesStatisticsAndANote() throws {
        let server = Self.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let output = try grad("eval", "--split", "holdout", "--provider", "local", "--base-url", server.baseURL, in: repo)
            #expect(output.contains("majority-class baseline"))
            #expect(output.contains("confusion"))
            let note = try git("notes", "--ref=grad", "show", "main", in: repo)
            #expect(note.contains("\"split\" : \"holdout\""))
            let json = try grad("eval", "--split", "holdout", "--json", "--provider", "local", "--base-url", server.baseURL, in: repo)
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            let usage = object?["usage"] as? [String: Any]
            #expect(usage?["cacheHits"] as? Int == 64)  // the second evaluation is paid by the cache
        }
    }

    @Test func optimizeRecordsStepsAndMergesAVerifiedWinner() throws {
        let server = Self.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let output = try grad(
                "optimize", "--steps", "2", "--variants", "2", "--provider", "local", "--base-url", server.baseURL, in: repo)
            #expect(output.contains("accepted 1"))
            let graph = try git("log", "--graph", "--oneline", "--all", in: repo)
            #expect(graph.contains("Step 1: State the queue rules"))
            #expect(try git("log", "-1", "--format=%(trailers:key=Verdict,valueonly)", "main", in: repo).contains("accepted"))
            #expect(try git("rev-list", "--merges", "main", in: repo).split(separator: "\n").count == 1)
            #expect(try readFile("prompts/router.md", in: repo).contains("RULES"))
            #expect(try git("status", "--porcelain", in: repo).isEmpty)
            _ = try git("fsck", "--full", in: repo)
            let log = try grad("log", in: repo)
            #expect(log.contains("accepted"))
            #expect(log.contains("cancellations go to retention"))
            // Step 2 starts from the perfect prompt: no minibatch has an error to learn from.
            #expect(output.contains("skipped 1"))
            // Only the merged candidate is "accepted"; the other passed but lost the selection.
            #expect(log.components(separatedBy: "  accepted").count - 1 == 1)
            let json = try grad("optimize", "--steps", "1", "--json", "--provider", "local", "--base-url", server.baseURL, in: repo)
            #expect(json.split(separator: "\n").allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil })
            #expect(json.contains("\"event\":\"summary\""))
        }
    }

    /// Starts `optimize` (2 steps, 2 variants) and returns once its first candidate branch exists,
    /// before that candidate's verdict: the moment the interruption tests stop it at.
    static func optimizeUntilFirstCandidate(in repo: URL, server: FakeLLMServer, standardError: Any) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gitGradBinary)
        process.arguments = ["optimize", "--steps", "2", "--variants", "2", "--provider", "local", "--base-url", server.baseURL]
        process.currentDirectoryURL = repo
        process.standardOutput = FileHandle.nullDevice
        process.standardError = standardError
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if !(try git("for-each-ref", "refs/heads/grad/", in: repo)).isEmpty { break }
            usleep(20_000)
        }
        return process
    }

    @Test func killedRunLeavesMainVerifiedAndResumes() throws {
        let server = Self.server(latency: .milliseconds(15))
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let seed = try git("rev-parse", "main", in: repo)
            // Kill -9 as soon as the first candidate is committed, before its verdict.
            let process = try Self.optimizeUntilFirstCandidate(in: repo, server: server, standardError: FileHandle.nullDevice)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            #expect(try git("rev-parse", "main", in: repo) == seed, "main moved to an unverified prompt")
            _ = try git("fsck", "--full", in: repo)

            let resumed = try grad("optimize", "--resume", "--provider", "local", "--base-url", server.baseURL, in: repo)
            #expect(resumed.contains("accepted 1"))
            let branches = lines(try git("for-each-ref", "--format=%(refname:short)", "refs/heads/grad/", in: repo))
            #expect(branches.count == 2)  // step 2 has nothing to learn from (the prompt is perfect) and is skipped
            for branch in branches {
                let kind = try git("log", "-1", "--format=%(trailers:key=Grad-Kind,valueonly)", branch, in: repo)
                #expect(kind.contains("verdict"), "\(branch) has no verdict")
                // One candidate commit under each verdict: nothing was committed twice.
                #expect(try git("rev-list", "--count", "main..\(branch)", in: repo).trimmingCharacters(in: .whitespacesAndNewlines) == "2"
                        || (try git("merge-base", "--is-ancestor", branch, "main", in: repo)).isEmpty)
            }
            #expect(try git("log", "-1", "--format=%P", "main", in: repo).split(separator: " ").count == 2)
        }
    }

    /// Ctrl-C is the command line's: one line on stderr saying what is kept, exit 130, main at
    /// a verified commit, loose objects intact, and `--resume` finishes the run.
    @Test func ctrlCSaysWhatIsKeptAndTheRunResumes() throws {
        let server = Self.server(latency: .milliseconds(15))
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let seed = try git("rev-parse", "main", in: repo)
            let stderr = Pipe()
            let process = try Self.optimizeUntilFirstCandidate(in: repo, server: server, standardError: stderr)
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 130)
            #expect(message.contains("git-grad: interrupted; finished steps are kept"), "\(message)")
            #expect(try git("rev-parse", "main", in: repo) == seed)
            _ = try git("fsck", "--full", in: repo)
            let resumed = try grad("optimize", "--resume", "--provider", "local", "--base-url", server.baseURL, in: repo)
            #expect(resumed.contains("accepted 1"))
            // The finished run packed its objects: nothing is left loose.
            #expect(try git("count-objects", "-v", in: repo).contains("count: 0\n"))
        }
    }

    @Test func refusedProviderErrorIsOneLine() throws {
        try withSampleRepository { repo in
            let before = try repositoryState(repo)
            let result = try runGrad(["eval", "--provider", "local", "--base-url", "http://127.0.0.1:9/v1"], in: repo)
            #expect(result.status != 0)
            #expect(lines(result.stderr).count == 1)
            #expect(result.stderr.contains("connection refused"))
            #expect(try repositoryState(repo) == before)
        }
    }
}
