import Foundation
import LLM
import PromptRepo

/// The one registration point of model providers: the `ChatProvider` for a model's settings. A
/// new provider is a case of `ModelSettings.Provider` (with its default endpoint and model name in
/// Settings.swift), a `ChatProvider` in LLM, and a case here.
///
/// The embedded models need a llama.cpp server each; the registry starts one per model on first
/// use and the runtime stops them.
final class ProviderRegistry {
    let cacheDirectory: URL?
    let status: (@Sendable (String) -> Void)?
    private(set) var servers: [LocalModelServer] = []
    private var serversByModel: [String: LocalModelServer] = [:]

    init(cacheDirectory: URL?, status: (@Sendable (String) -> Void)?) {
        self.cacheDirectory = cacheDirectory
        self.status = status
    }

    func provider(_ settings: ModelSettings) async throws -> any ChatProvider {
        let defaults = ModelSettings.defaultEndpoint(for: settings.provider)
        let baseURL = settings.baseURL ?? defaults.baseURL
        let keyVariable = settings.apiKeyEnv ?? defaults.keyVariable
        switch settings.provider {
        case .local where settings.baseURL == nil:
            let server = try await localServer(settings.name)
            return OpenAICompatibleProvider(
                baseURL: server.baseURL, model: settings.name, apiKey: nil, kind: "local", timeoutSeconds: settings.timeoutSeconds,
                defaultConcurrency: 1)
        case .local:
            return OpenAICompatibleProvider(
                baseURL: settings.baseURL!, model: settings.name, apiKey: nil, kind: "local", timeoutSeconds: settings.timeoutSeconds,
                defaultConcurrency: 2)
        case .openai:
            return OpenAICompatibleProvider(
                baseURL: baseURL!, model: settings.name, apiKey: try apiKey(fromEnvironment: keyVariable), keyVariable: keyVariable,
                timeoutSeconds: settings.timeoutSeconds, defaultConcurrency: 8)
        case .anthropic:
            guard let key = try apiKey(fromEnvironment: keyVariable) else {
                throw LLMError.missingAPIKey(variable: keyVariable ?? "ANTHROPIC_API_KEY")
            }
            return AnthropicProvider(
                baseURL: baseURL!, model: settings.name, apiKey: key, keyVariable: keyVariable, timeoutSeconds: settings.timeoutSeconds)
        }
    }

    /// The embedded model's server, started on first use.
    private func localServer(_ name: String) async throws -> LocalModelServer {
        if let running = serversByModel[name] { return running }
        status?("starting the local model server (\(name))…")
        let model = LocalModel.named(name)
        let log = model == .task ? "local-server.log" : "local-server-\(model.name).log"
        let server = try await LocalModelServer.start(LocalModelInstallation(model: model), logFile: cacheDirectory?.appendingPathComponent(log))
        serversByModel[name] = server
        servers.append(server)
        return server
    }

    func stopAll() {
        servers.forEach { $0.stop() }
        servers = []
        serversByModel = [:]
    }
}
