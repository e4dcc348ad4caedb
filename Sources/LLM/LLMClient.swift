import Foundation

/// How failed calls are retried: exponential backoff with full jitter, `Retry-After` honoured,
/// a per-call attempt limit, and a retry budget that grows with the work of the run.
///
/// The budget is `baseRetries + retriesPerCall × calls answered`: a run on a flaky server (30% of
/// requests failing costs about 0.4 retries per call) keeps going however long it is, while a
/// server that answers nothing exhausts it after `baseRetries` retries instead of each call
/// waiting out all its attempts.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    public var baseRetries: Int
    public var retriesPerCall: Double

    public init(maxAttempts: Int = 10, baseDelay: Double = 0.5, maxDelay: Double = 8, baseRetries: Int = 12, retriesPerCall: Double = 1) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.baseRetries = baseRetries
        self.retriesPerCall = retriesPerCall
    }

    /// The delay before attempt `attempt + 1`.
    func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double {
        // The server's own wait is honoured, up to a minute.
        if let retryAfter { return min(retryAfter, 60) }
        let ceiling = min(maxDelay, baseDelay * pow(2, Double(attempt - 1)))
        return Double.random(in: ceiling / 2...ceiling)
    }
}

/// Shared state of one run's calls: accounting limits, the call budget and the retry budget.
public actor CallBudget {
    public let maxCalls: Int?
    public let maxTokens: Int?
    public let maxCost: Double?
    public let retryPolicy: RetryPolicy
    private var retriesUsed = 0
    private var callsStarted = 0
    private var callsAnswered = 0

    public init(maxCalls: Int? = nil, maxTokens: Int? = nil, maxCost: Double? = nil, retryPolicy: RetryPolicy = RetryPolicy()) {
        self.maxCalls = maxCalls
        self.maxTokens = maxTokens
        self.maxCost = maxCost
        self.retryPolicy = retryPolicy
    }

    func startCall(totals: UsageTotals) throws {
        if let maxCalls, callsStarted >= maxCalls {
            throw LLMError.budgetExceeded(.calls(maxCalls))
        }
        if let maxTokens, totals.tokens >= maxTokens {
            throw LLMError.budgetExceeded(.tokens(maxTokens))
        }
        if let maxCost, let cost = totals.cost, cost >= maxCost {
            throw LLMError.budgetExceeded(.cost(maxCost))
        }
        callsStarted += 1
    }

    func recordAnswer() { callsAnswered += 1 }

    /// The retries allowed so far: they grow with the calls answered.
    var retryAllowance: Int {
        retryPolicy.baseRetries + Int((retryPolicy.retriesPerCall * Double(callsAnswered)).rounded(.down))
    }

    /// Takes one retry from the budget, or throws what ran out.
    func takeRetry(last: String) throws {
        guard retriesUsed < retryAllowance else {
            throw LLMError.retryBudgetExhausted(last: last, retries: retriesUsed, calls: callsAnswered)
        }
        retriesUsed += 1
    }
}

/// Everything around a call: cache, concurrency limit, retries, budget and accounting. Shared by
/// all the stages of a run; safe to use from many tasks at once.
public final class LLMClient: Sendable {
    public let provider: any ChatProvider
    public let cache: ResponseCache?
    public let limiter: ConcurrencyLimiter
    public let accounting: Accounting
    public let budget: CallBudget
    /// Receives one line per request attempt (never a key or a header), for `--verbose`.
    public let log: (@Sendable (String) -> Void)?

    public init(
        provider: any ChatProvider, cache: ResponseCache? = nil, limiter: ConcurrencyLimiter? = nil,
        accounting: Accounting = Accounting(), budget: CallBudget = CallBudget(),
        log: (@Sendable (String) -> Void)? = nil
    ) {
        self.provider = provider
        self.cache = cache
        self.limiter = limiter ?? ConcurrencyLimiter(limit: provider.defaultConcurrency)
        self.accounting = accounting
        self.budget = budget
        self.log = log
    }

    public var model: String { provider.model }

    /// Answers from the cache when it can, else calls the provider with retries.
    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let key = ResponseCache.key(kind: provider.kind, model: provider.model, request: request)
        if let cache, let hit = try await cache.lookup(key) {
            await accounting.record(model: provider.model, response: hit)
            return hit
        }
        try await budget.startCall(totals: await accounting.totals)
        let response = try await limiter.run { try await self.completeWithRetries(request) }
        if let cache { try await cache.store(key, kind: provider.kind, model: provider.model, response: response) }
        await accounting.record(model: provider.model, response: response)
        return response
    }

    private func completeWithRetries(_ request: ChatRequest) async throws -> ChatResponse {
        let retryPolicy = budget.retryPolicy
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try await provider.complete(request)
                await budget.recordAnswer()
                log?("\(provider.kind) \(provider.model): ok in \(String(format: "%.2f", response.latencySeconds))s, \(response.promptTokens)+\(response.completionTokens) tokens")
                return response
            } catch let error as LLMError where error.isTransient {
                guard case .transient(let message, let retryAfter) = error else { throw error }
                try Task.checkCancellation()
                guard attempt < retryPolicy.maxAttempts else { throw LLMError.retriesExhausted(last: message, attempts: attempt) }
                try await budget.takeRetry(last: message)
                await accounting.recordRetry()
                let delay = retryPolicy.delay(afterAttempt: attempt, retryAfter: retryAfter)
                log?("\(provider.kind) \(provider.model): \(message); retry \(attempt) in \(String(format: "%.2f", delay))s")
                try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
            }
        }
    }
}
