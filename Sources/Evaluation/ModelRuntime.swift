import Foundation
import LLM
import PromptRepo

/// The models of one command: task and optimizer clients built from grad.toml (and command-line
/// overrides), sharing one cache, one accounting and one budget; a local server when needed.
public final class ModelRuntime: @unchecked Sendable {
    public let taskClient: LLMClient
    public let optimizerClient: LLMClient
    /// The client a `judge` metric asks: `[judge]`'s model, or the optimizer's.
    public let judgeClient: LLMClient
    public let accounting: Accounting
    public let cache: ResponseCache?
    private var servers: [LocalModelServer] = []

    /// - Parameters:
    ///   - cacheDirectory: where `cache.sqlite` lives (`.git/grad`); nil disables the cache.
    public init(
        task: ModelSettings, optimizer: ModelSettings, judge: ModelSettings? = nil, prices: [String: ModelPrice], cacheDirectory: URL?,
        budget: CallBudget = CallBudget(), log: (@Sendable (String) -> Void)? = nil,
        status: (@Sendable (String) -> Void)? = nil
    ) async throws {
        let accounting = Accounting(prices: PriceTable(prices.mapValues { (input: $0.inputPerMillion, output: $0.outputPerMillion) }))
        let cache = try cacheDirectory.map { try ResponseCache(path: $0.appendingPathComponent("cache.sqlite").path) }
        self.accounting = accounting
        self.cache = cache
        let registry = ProviderRegistry(cacheDirectory: cacheDirectory, status: status)
        do {
            let taskProvider = try await registry.provider(task)
            let optimizerProvider = try await registry.provider(optimizer)
            let sameEndpoint = task.provider == optimizer.provider && task.baseURL == optimizer.baseURL
                && (task.baseURL != nil || task.name == optimizer.name)
            let taskLimiter = ConcurrencyLimiter(limit: task.maxConcurrency ?? taskProvider.defaultConcurrency)
            // One server serves both roles: share its limit so they do not oversubscribe it.
            let optimizerLimiter = sameEndpoint && optimizer.maxConcurrency == nil
                ? taskLimiter : ConcurrencyLimiter(limit: optimizer.maxConcurrency ?? optimizerProvider.defaultConcurrency)
            func client(_ provider: any ChatProvider, _ limiter: ConcurrencyLimiter) -> LLMClient {
                LLMClient(provider: provider, cache: cache, limiter: limiter, accounting: accounting, budget: budget, log: log)
            }
            taskClient = client(taskProvider, taskLimiter)
            optimizerClient = client(optimizerProvider, optimizerLimiter)
            if let judge, judge != optimizer {
                let judgeProvider = try await registry.provider(judge)
                judgeClient = client(judgeProvider, ConcurrencyLimiter(limit: judge.maxConcurrency ?? judgeProvider.defaultConcurrency))
            } else {
                judgeClient = optimizerClient
            }
        } catch {
            registry.stopAll()
            throw error
        }
        servers = registry.servers
    }

    /// The evaluator of a configuration: the task model, the metric's scorer (a judge asks the
    /// judge client), the task model's settings.
    public func evaluator(for config: GradConfig, root: URL) -> Evaluator {
        Evaluator(
            client: taskClient, scorer: config.metric.makeScorer(judge: judgeClient, root: root, judgeTemperature: config.judgeModel?.temperature ?? 0),
            settings: config.model)
    }

    /// Stops any local server this runtime started.
    public func shutdown() {
        servers.forEach { $0.stop() }
        servers = []
    }

    deinit { shutdown() }
}
