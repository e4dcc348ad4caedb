import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import LLM
import FakeLLMServer
import Testing

/// The real embedded model, answering a real chat completion. In CI (CI=true) a missing runtime or
/// model fails the test; on a developer machine without them it is skipped.
/// Serialized: two llama.cpp servers loading at once beside the rest of the suite starve a 2-core machine.
@Suite(.serialized) struct LocalModelTests {
    static let installation = LocalModelInstallation()
    static let available = (try? installation.validate()) != nil
    static let required = ProcessInfo.processInfo.environment["CI"] != nil

    @Test(.enabled(if: available || required, "local model not installed; run scripts/install-local-model.sh"))
    func realLocalModelAnswersAChatCompletion() async throws {
        try Self.installation.validate()
        let server = try await LocalModelServer.start(Self.installation)
        defer { server.stop() }
        let provider = OpenAICompatibleProvider(baseURL: server.baseURL, model: "local", apiKey: nil, kind: "local", defaultConcurrency: 1)
        let client = LLMClient(provider: provider)
        let response = try await client.complete(ChatRequest(
            messages: [ChatMessage(.user, "What is the capital of France? Answer with one word.")], temperature: 0, maxTokens: 8))
        #expect(response.text.lowercased().contains("paris"))
        #expect(response.completionTokens > 0)
    }

    /// Another process can take the chosen port while the weights load (it happened in CI, beside
    /// the tests' loopback servers); the server then starts on another port instead of failing.
    @Test(.enabled(if: available || required, "local model not installed; run scripts/install-local-model.sh"))
    func aPortTakenDuringStartUpIsRetriedOnAnother() async throws {
        let taken = try ListeningSocket()
        defer { taken.close() }
        let server = try await LocalModelServer.start(Self.installation, firstPort: taken.port)
        defer { server.stop() }
        #expect(server.port != taken.port)
    }

    @Test func missingInstallationSaysWhatToRun() throws {
        let empty = LocalModelInstallation(environment: ["GIT_GRAD_HOME": "/nonexistent/git-grad-home"])
        #expect { try empty.validate() } throws: { error in
            "\(error)".contains("install-local-model.sh")
        }
    }
}

/// A loopback socket bound and listening on a kernel-chosen port, to stand for "someone else's".
private struct ListeningSocket {
    let fd: Int32
    let port: Int

    init() throws {
        (fd, port) = try boundLoopbackSocket()
        guard listen(fd, 1) == 0 else { throw POSIXError(.EADDRINUSE) }
    }

    func close() { _ = Glibc.close(fd) }
}

/// The start-up wait, against servers that answer, refuse, stay silent or are gone.
@Suite struct ReadinessWaitTests {
    @Test func aServerThatAnswersIsReady() async throws {
        let server = FakeLLMServer(answer: "unused")
        try server.start()
        defer { server.stop() }
        let outcome = await ReadinessWait(port: server.port, isRunning: { true }, timeout: 10).outcome()
        #expect(outcome == .answering)
    }

    @Test func aPortNobodyListensOnTimesOutSayingItWasRefused() async throws {
        let port = try freeLoopbackPort()
        let outcome = await ReadinessWait(port: port, isRunning: { true }, timeout: 0.6, interval: 0.1).outcome()
        guard case .timedOut(let probes, let last) = outcome else { Issue.record("got \(outcome)"); return }
        #expect(probes >= 2)
        #expect(last == .refused)
        #expect("\(last)" == "was refused")
    }

    @Test func aListenerThatNeverRepliesIsNamedAsSilent() async throws {
        let silent = try ListeningSocket()
        defer { silent.close() }
        let wait = ReadinessWait(port: silent.port, isRunning: { true }, timeout: 0.5, interval: 0.05, probeTimeout: 0.2)
        guard case .timedOut(_, let last) = await wait.outcome() else { Issue.record("expected a time-out"); return }
        #expect(last == .noReply(seconds: 0.2))
    }

    @Test func aServerProcessThatEndedStopsTheWait() async {
        let outcome = await ReadinessWait(port: 9, isRunning: { false }, timeout: 30).outcome()
        #expect(outcome == .exited)
    }
}
