import ArgumentParser
import Evaluation
import Foundation
import LLM
import PromptRepo

/// `--provider`, `--base-url`, `--model`, `--optimizer-model`: override grad.toml's models.
struct ModelOptions: ParsableArguments {
    @Option(help: "Provider of the task model: local, openai or anthropic.")
    var provider: ModelSettings.Provider?

    @Option(help: "Base URL of an OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1).")
    var baseURL: String?

    @Option(help: "The task model's name.")
    var model: String?

    @Option(help: "The model that writes gradients and candidates (default: grad.toml's [optimizer], else the task model).")
    var optimizerModel: String?

    @Option(help: "Seconds to wait for one model answer before retrying it (grad.toml: timeout_seconds; default 120).")
    var timeout: Double?

    @Flag(help: "Neither read nor write the response cache.")
    var noCache = false

    @Flag(help: "Log each model request (never keys) to stderr.")
    var verbose = false

    func validate() throws {
        if let baseURL, !ModelSettings.isHTTPURL(baseURL) {
            throw ValidationError("--base-url '\(baseURL)' is not an http(s) URL; give the server's address, e.g. http://127.0.0.1:8000/v1")
        }
        if let timeout, !(timeout > 0 && timeout.isFinite) {
            throw ValidationError("--timeout must be a positive number of seconds")
        }
    }

    func apply(to config: inout GradConfig) {
        config.applyModelOverrides(provider: provider, baseURL: baseURL, model: model, optimizerModel: optimizerModel)
        if let timeout {
            config.model.timeoutSeconds = timeout
            config.optimizerModel.timeoutSeconds = timeout
        }
    }

    /// - Parameter optimizer: whether the optimizer model is needed (optimize, a judge metric); when
    ///   not, its role is served by the task model and no second local server starts.
    func runtime(config: GradConfig, gitDirectory: URL, budget: CallBudget = CallBudget(), quiet: Bool, optimizer: Bool = true) async throws -> ModelRuntime {
        var log: (@Sendable (String) -> Void)? = nil
        if verbose { log = logToStandardError }
        var status: (@Sendable (String) -> Void)? = nil
        if !quiet { status = logToStandardError }
        let cacheDirectory: URL? = noCache ? nil : ModelRuntime.cacheDirectory(gitDirectory: gitDirectory)
        InterruptHandler.install()
        return try await ModelRuntime(
            task: config.model, optimizer: optimizer ? config.optimizerModel : config.model,
            judge: config.metric.needsJudge ? config.judgeModel : nil, prices: config.prices,
            cacheDirectory: cacheDirectory, budget: budget, log: log, status: status)
    }
}

extension ModelSettings.Provider: ExpressibleByArgument {}
extension SearchSettings.Selection: ExpressibleByArgument {}
extension SearchSettings.Feedback: ExpressibleByArgument {}
extension SearchSettings.Gradient: ExpressibleByArgument {}
extension SearchSettings.Labels: ExpressibleByArgument {}
extension SearchSettings.Rule: ExpressibleByArgument {}
extension Split: ExpressibleByArgument {}
