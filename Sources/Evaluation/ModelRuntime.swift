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
        accounting = Accounting(prices: PriceTable(prices.mapValues { (input: $0.inputPerMillion, output: $0.outputPerMillion) }))
        cache = try cacheDirectory.map { try ResponseCache(path: $0.appendingPathComponent("cache.sqlite").path) }
        // One llama.cpp server per embedded model, started on first use.
        var localServers: [String: LocalModelServer] = [:]
        var built: [LocalModelServer] = []
        func provider(_ settings: ModelSettings) async throws -> any ChatProvider {
            let defaults = ModelSettings.defaultEndpoint(for: settings.provider)
            let baseURL = settings.baseURL ?? defaults.baseURL
            let keyVariable = settings.apiKeyEnv ?? defaults.keyVariable
            switch settings.provider {
            case .local where settings.baseURL == nil:
                let server: LocalModelServer
                if let running = localServers[settings.name] {
                    server = running
                } else {
                    status?("starting the local model server (\(settings.name))…")
                    let model = LocalModel.named(settings.name)
                    let log = model == .task ? "local-server.log" : "local-server-\(model.name).log"
                    server = try await LocalModelServer.start(
                        LocalModelInstallation(model: model), logFile: cacheDirectory?.appendingPathComponent(log))
                    localServers[settings.name] = server
                    built.append(server)
                }
                return OpenAICompatibleProvider(
                    baseURL: server.baseURL, model: settings.name, apiKey: nil, kind: "local",
                    timeoutSeconds: settings.timeoutSeconds, defaultConcurrency: 1)
            case .local:
                return OpenAICompatibleProvider(
                    baseURL: settings.baseURL!, model: settings.name, apiKey: nil, kind: "local",
                    timeoutSeconds: settings.timeoutSeconds, defaultConcurrency: 2)
            case .openai:
                return OpenAICompatibleProvider(
                    baseURL: baseURL!, model: settings.name,
                    apiKey: try apiKey(fromEnvironment: keyVariable), keyVariable: keyVariable,
                    timeoutSeconds: settings.timeoutSeconds, defaultConcurrency: 8)
            case .anthropic:
                guard let key = try apiKey(fromEnvironment: keyVariable) else {
                    throw LLMError.missingAPIKey(variable: keyVariable ?? "ANTHROPIC_API_KEY")
                }
                return AnthropicProvider(
                    baseURL: baseURL!, model: settings.name, apiKey: key,
                    keyVariable: keyVariable, timeoutSeconds: settings.timeoutSeconds)
            }
        }
        do {
            let taskProvider = try await provider(task)
            let optimizerProvider = try await provider(optimizer)
            let sameEndpoint = task.provider == optimizer.provider && task.baseURL == optimizer.baseURL
                && (task.baseURL != nil || task.name == optimizer.name)
            let taskLimiter = ConcurrencyLimiter(limit: task.maxConcurrency ?? taskProvider.defaultConcurrency)
            // One server serves both roles: share its limit so they do not oversubscribe it.
            let optimizerLimiter = sameEndpoint && optimizer.maxConcurrency == nil
                ? taskLimiter : ConcurrencyLimiter(limit: optimizer.maxConcurrency ?? optimizerProvider.defaultConcurrency)
            taskClient = LLMClient(provider: taskProvider, cache: cache, limiter: taskLimiter, accounting: accounting, budget: budget, log: log)
            optimizerClient = LLMClient(
                provider: optimizerProvider, cache: cache, limiter: optimizerLimiter, accounting: accounting, budget: budget, log: log)
            if let judge, judge != optimizer {
                let judgeProvider = try await provider(judge)
                judgeClient = LLMClient(
                    provider: judgeProvider, cache: cache, limiter: ConcurrencyLimiter(limit: judge.maxConcurrency ?? judgeProvider.defaultConcurrency),
                    accounting: accounting, budget: budget, log: log)
            } else {
                judgeClient = optimizerClient
            }
        } catch {
            built.forEach { $0.stop() }
            throw error
        }
        servers = built
    }

    /// Stops any local server this runtime started.
    /// The evaluator of a configuration: the task model, the metric's scorer (a judge asks the
    /// judge client), the task model's settings.
    public func evaluator(for config: GradConfig, root: URL) -> Evaluator {
        Evaluator(
            client: taskClient, scorer: makeScorer(config.metric, judge: judgeClient, root: root, judgeTemperature: config.judgeModel?.temperature ?? 0),
            settings: config.model)
    }

    public func shutdown() {
        servers.forEach { $0.stop() }
        servers = []
    }

    deinit { shutdown() }
}

/// Builds the scorer grad.toml asks for.
public func makeScorer(_ metric: MetricSettings, judge: LLMClient, root: URL, judgeTemperature: Double = 0) -> any Scorer {
    switch metric.kind {
    case .exact: return ExactScorer(caseSensitive: metric.caseSensitive)
    case .choice: return ChoiceScorer(labels: metric.labels, caseSensitive: metric.caseSensitive)
    case .number: return NumberScorer(tolerance: metric.tolerance)
    case .regex: return RegexScorer(pattern: metric.pattern ?? "", caseSensitive: metric.caseSensitive)
    case .contains: return ContainsScorer(caseSensitive: metric.caseSensitive, labels: metric.labels)
    case .judge:
        return JudgeScorer(
            client: judge, rubric: metric.rubric ?? "", scale: metric.judgeScale, passThreshold: metric.passThreshold, temperature: judgeTemperature)
    case .command: return CommandScorer(command: metric.command, workingDirectory: root, passThreshold: metric.passThreshold)
    }
}
