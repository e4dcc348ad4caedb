import Foundation

/// Dollar prices per million tokens, by model name.
public struct PriceTable: Sendable {
    public var prices: [String: (input: Double, output: Double)]
    public init(_ prices: [String: (input: Double, output: Double)] = [:]) { self.prices = prices }

    public func cost(model: String, promptTokens: Int, completionTokens: Int) -> Double? {
        guard let price = prices[model] else { return nil }
        return (Double(promptTokens) * price.input + Double(completionTokens) * price.output) / 1_000_000
    }
}

/// Totals over a run: what was asked, what it cost, and how much the cache saved.
public struct UsageTotals: Sendable, Equatable, Codable {
    public var calls = 0
    public var cacheHits = 0
    public var promptTokens = 0
    public var completionTokens = 0
    public var latencySeconds = 0.0
    /// Nil when some model has no price in grad.toml.
    public var cost: Double? = 0
    public var retries = 0

    public init() {}

    public var tokens: Int { promptTokens + completionTokens }

    /// What was used after `before` was read (one run's share of a process that runs several).
    public func since(_ before: UsageTotals) -> UsageTotals {
        var delta = UsageTotals()
        delta.calls = calls - before.calls
        delta.cacheHits = cacheHits - before.cacheHits
        delta.promptTokens = promptTokens - before.promptTokens
        delta.completionTokens = completionTokens - before.completionTokens
        delta.latencySeconds = latencySeconds - before.latencySeconds
        delta.cost = cost.flatMap { now in before.cost.map { now - $0 } }
        delta.retries = retries - before.retries
        return delta
    }
}

/// Counts every call of a run, across all clients that share it.
public actor Accounting {
    public private(set) var totals = UsageTotals()
    public private(set) var byModel: [String: UsageTotals] = [:]
    let prices: PriceTable

    public init(prices: PriceTable = PriceTable()) { self.prices = prices }

    func record(model: String, response: ChatResponse) {
        func apply(_ totals: inout UsageTotals) {
            if response.cached {
                totals.cacheHits += 1
                return
            }
            totals.calls += 1
            totals.promptTokens += response.promptTokens
            totals.completionTokens += response.completionTokens
            totals.latencySeconds += response.latencySeconds
            if let cost = prices.cost(model: model, promptTokens: response.promptTokens, completionTokens: response.completionTokens) {
                totals.cost = totals.cost.map { $0 + cost }
            } else {
                totals.cost = nil
            }
        }
        apply(&totals)
        apply(&byModel[model, default: UsageTotals()])
    }

    func recordRetry() { totals.retries += 1 }
}

/// Limits the requests in flight; waiters are served in order.
public actor ConcurrencyLimiter {
    public nonisolated let limit: Int
    private var inFlight = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { self.limit = max(1, limit) }

    public func acquire() async {
        if inFlight < limit {
            inFlight += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func release() {
        if waiters.isEmpty {
            inFlight -= 1
        } else {
            waiters.removeFirst().resume()
        }
    }

    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let value = try await body()
            release()
            return value
        } catch {
            release()
            throw error
        }
    }
}
