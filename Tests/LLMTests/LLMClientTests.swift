import FakeLLMServer
import Foundation
import LLM
import NIOCore
import Testing
import TestSupport

func withServer<T>(_ server: FakeLLMServer, _ body: (FakeLLMServer) async throws -> T) async throws -> T {
    try server.start()
    defer { server.stop() }
    return try await body(server)
}

func fastRetries(maxAttempts: Int = 5, baseRetries: Int = 50, retriesPerCall: Double = 1) -> RetryPolicy {
    RetryPolicy(maxAttempts: maxAttempts, baseDelay: 0.01, maxDelay: 0.05, baseRetries: baseRetries, retriesPerCall: retriesPerCall)
}

func client(_ server: FakeLLMServer, key: String? = nil, cache: ResponseCache? = nil, concurrency: Int = 4,
            retry: RetryPolicy = fastRetries(), timeout: Double = 5, log: (@Sendable (String) -> Void)? = nil) -> LLMClient {
    let provider = OpenAICompatibleProvider(
        baseURL: server.baseURL, model: "fake-model", apiKey: key, keyVariable: "FAKE_KEY", timeoutSeconds: timeout,
        defaultConcurrency: concurrency)
    return LLMClient(
        provider: provider, cache: cache, limiter: ConcurrencyLimiter(limit: concurrency), budget: CallBudget(retryPolicy: retry), log: log)
}

func ask(_ text: String, sample: Int = 0) -> ChatRequest {
    ChatRequest(messages: [ChatMessage(.user, text)], temperature: 0, maxTokens: 16, sampleIndex: sample)
}

@Suite struct LLMClientTests {
    @Test func completionTravelsOverHTTP() async throws {
        try await withServer(FakeLLMServer(answer: "ledger")) { server in
            let response = try await client(server).complete(ask("route this"))
            #expect(response.text == "ledger")
            #expect(response.promptTokens > 0)
            let request = try #require(server.requests.first)
            #expect(request.path == "/v1/chat/completions")
            #expect(request.model == "fake-model")
            #expect(request.lastUserMessage == "route this")
        }
    }

    @Test func retriesServerErrorsThenSucceeds() async throws {
        try await withServer(FakeLLMServer(answer: "ok")) { server in
            server.inject([.status(500), .status(503), .malformedJSON, .emptyChoices, .truncated])
            let llm = client(server, retry: fastRetries(maxAttempts: 8))
            let response = try await llm.complete(ask("hello"))
            #expect(response.text == "ok")
            #expect(server.requests.count == 6)
            #expect(await llm.accounting.totals.retries == 5)
        }
    }

    @Test func givesUpAfterTheAttemptLimitNamingIt() async throws {
        try await withServer(FakeLLMServer(answer: "never")) { server in
            server.inject(Array(repeating: .status(500), count: 10))
            await #expect {
                _ = try await client(server, retry: fastRetries(maxAttempts: 3)).complete(ask("x"))
            } throws: { error in
                guard case LLMError.retriesExhausted(_, let attempts) = error else { return false }
                return attempts == 3 && "\(error)".contains("failed one request 3 times in a row") && "\(error)".contains("answered 500")
            }
            #expect(server.requests.count == 3)
        }
    }

    @Test func retryBudgetGrowsWithTheCallsAndNamesWhatRanOut() async throws {
        try await withServer(FakeLLMServer(answer: "x")) { server in
            // Base 2 + 1 per call answered: a server that answers nothing gets two retries.
            let llm = client(server, retry: fastRetries(maxAttempts: 10, baseRetries: 2, retriesPerCall: 1))
            server.inject(Array(repeating: .status(429), count: 20))
            await #expect { _ = try await llm.complete(ask("a")) } throws: { error in
                guard case LLMError.retryBudgetExhausted(_, let retries, let calls) = error else { return false }
                return retries == 2 && calls == 0 && "\(error)".contains("retry budget is spent (2 retries, 0 calls answered)")
            }
            #expect(server.requests.count == 3)  // the first try and the two retries the budget allows
        }
        try await withServer(FakeLLMServer(answer: "x")) { server in
            // Every call of a long run may fail once: the budget keeps pace with the work.
            let llm = client(server, retry: fastRetries(maxAttempts: 10, baseRetries: 1, retriesPerCall: 1))
            for index in 0..<40 {
                server.inject([.status(500)])
                let answer = try await llm.complete(ask("q\(index)"))
                #expect(answer.text == "x")
            }
            #expect(await llm.accounting.totals.retries == 40)
        }
    }

    @Test func honoursRetryAfter() async throws {
        let lines = LogLines()
        try await withServer(FakeLLMServer(answer: "after")) { server in
            server.inject([.status(429, retryAfter: "1")])
            let response = try await client(server, log: { lines.append($0) }).complete(ask("wait"))
            #expect(response.text == "after")
            // Backoff here is at most 0.05 s; the wait chosen is the server's Retry-After.
            #expect(lines.all.contains { $0.contains("retry 1 in 1.00s") })
        }
    }

    @Test func hangingServerTimesOutAndIsRetried() async throws {
        try await withServer(FakeLLMServer(answer: "late but fine")) { server in
            server.inject([.hang])
            let response = try await client(server, timeout: 0.5).complete(ask("hang"))
            #expect(response.text == "late but fine")
            // The hang and at least one retry; on a loaded 2-core machine (the suite runs tests in
            // parallel) a retry can pass the 0.5 s timeout too, which made `== 2` fail once in CI.
            #expect(server.requests.count >= 2)
        }
    }

    @Test func unauthorizedNotFoundAndRefusedHaveTheirOwnErrors() async throws {
        try await withServer(FakeLLMServer(answer: "x")) { server in
            server.inject([.status(401), .status(404)])
            let llm = client(server, key: "sk-secret")
            await #expect { _ = try await llm.complete(ask("a")) } throws: { error in
                guard case LLMError.unauthorized = error else { return false }
                return "\(error)".contains("FAKE_KEY") && !"\(error)".contains("sk-secret")
            }
            await #expect { _ = try await llm.complete(ask("b")) } throws: { error in
                guard case LLMError.modelNotFound(let model, _) = error else { return false }
                return model == "fake-model"
            }
            #expect(server.requests.count == 2)  // neither is retried
        }
        // A port nobody listens on.
        let closed = FakeLLMServer(answer: "x")
        try closed.start()
        let url = closed.baseURL
        closed.stop()
        let provider = OpenAICompatibleProvider(baseURL: url, model: "m", apiKey: nil)
        await #expect { _ = try await LLMClient(provider: provider, budget: CallBudget(retryPolicy: fastRetries())).complete(ask("c")) } throws: { error in
            guard case LLMError.connectionRefused = error else { return false }
            return true
        }
    }

    @Test func concurrencyLimitHoldsOnTheServer() async throws {
        try await withServer(FakeLLMServer(latency: .milliseconds(50), threads: 2) { _ in .completion("x") }) { server in
            let llm = client(server, concurrency: 3)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<24 { group.addTask { _ = try await llm.complete(ask("q\(index)")) } }
                try await group.waitForAll()
            }
            #expect(server.requests.count == 24)
            #expect(server.maxInFlight == 3)
        }
    }

    @Test func secondRunIsServedFromTheCache() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.url.appendingPathComponent("cache.sqlite").path
        try await withServer(FakeLLMServer(answer: "cached answer")) { server in
            let first = client(server, cache: try ResponseCache(path: path))
            for index in 0..<5 { _ = try await first.complete(ask("q\(index)")) }
            #expect(server.requests.count == 5)
            server.resetRecord()
            let second = client(server, cache: try ResponseCache(path: path))
            for index in 0..<5 {
                let response = try await second.complete(ask("q\(index)"))
                #expect(response.cached)
                #expect(response.text == "cached answer")
            }
            #expect(server.requests.isEmpty)
            #expect(await second.accounting.totals.cacheHits == 5)
            #expect(await second.accounting.totals.calls == 0)
        }
    }

    @Test func samplesAtTemperatureAreCachedApart() async throws {
        let directory = try TemporaryDirectory()
        let cache = try ResponseCache(path: directory.url.appendingPathComponent("c.sqlite").path)
        let counter = Counter()
        try await withServer(FakeLLMServer { _ in .completion("answer \(counter.next())") }) { server in
            let llm = client(server, cache: cache)
            var hot = ask("write a prompt")
            hot.temperature = 0.8
            var texts: [String] = []
            for sample in 0..<3 {
                hot.sampleIndex = sample
                texts.append(try await llm.complete(hot).text)
            }
            #expect(Set(texts).count == 3)
            hot.sampleIndex = 1
            #expect(try await llm.complete(hot).text == texts[1])
            #expect(server.requests.count == 3)
        }
    }

    @Test func apiKeyNeverReachesCacheOrLog() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.url.appendingPathComponent("cache.sqlite").path
        let secret = "sk-test-\(UUID().uuidString)"
        let lines = LogLines()
        try await withServer(FakeLLMServer(answer: "fine")) { server in
            server.inject([.status(500)])
            let llm = client(server, key: secret, cache: try ResponseCache(path: path), log: { lines.append($0) })
            _ = try await llm.complete(ask("hello"))
            let header = server.requests.last?.headers.first { $0.0.lowercased() == "authorization" }?.1
            #expect(header == "Bearer \(secret)")
        }
        // The database and, while it is open, its write-ahead log (where fresh rows live first).
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.url.path).filter { $0.hasPrefix("cache.sqlite") }
        #expect(files.contains("cache.sqlite"))
        for file in files {
            let bytes = try Data(contentsOf: directory.url.appendingPathComponent(file))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(file)")
        }
        #expect(!lines.all.isEmpty)
        #expect(!lines.all.joined().contains(secret))
    }

    @Test func callBudgetStopsBeforeTheLimit() async throws {
        try await withServer(FakeLLMServer(answer: "x")) { server in
            let provider = OpenAICompatibleProvider(baseURL: server.baseURL, model: "m", apiKey: nil)
            let llm = LLMClient(provider: provider, budget: CallBudget(maxCalls: 2))
            _ = try await llm.complete(ask("1"))
            _ = try await llm.complete(ask("2"))
            await #expect { _ = try await llm.complete(ask("3")) } throws: { error in
                guard case LLMError.budgetExceeded = error else { return false }
                return true
            }
            #expect(server.requests.count == 2)
        }
    }

    @Test func costComesFromThePriceTable() async throws {
        try await withServer(FakeLLMServer(answer: "abcdefgh")) { server in
            let provider = OpenAICompatibleProvider(baseURL: server.baseURL, model: "priced", apiKey: nil)
            let accounting = Accounting(prices: PriceTable(["priced": (input: 1_000_000, output: 2_000_000)]))
            let llm = LLMClient(provider: provider, accounting: accounting)
            let response = try await llm.complete(ask("0123456789abcdef"))
            let totals = await accounting.totals
            #expect(totals.calls == 1)
            #expect(totals.cost == Double(response.promptTokens) * 1 + Double(response.completionTokens) * 2)
        }
    }

    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256Digest.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Digest.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Digest.hex(String(repeating: "a", count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { value += 1; return value } }
}

final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

@Suite struct CancellationTests {
    @Test func aCancelledCallIsNotRetried() async throws {
        // The server never answers, so the call is in flight (and then timing out) when cancelled.
        try await withServer(FakeLLMServer { _ in .hang }) { server in
            let llm = client(server, timeout: 1)
            let task = Task { try await llm.complete(ask("cancel me")) }
            try await Task.sleep(nanoseconds: 100_000_000)
            task.cancel()
            await #expect(throws: CancellationError.self) { _ = try await task.value }
            try await Task.sleep(nanoseconds: 1_500_000_000)
            #expect(server.requests.count == 1)
            #expect(await llm.accounting.totals.retries == 0)
        }
    }
}
