import Foundation

/// One chat message.
public struct ChatMessage: Codable, Sendable, Hashable {
    public enum Role: String, Codable, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String
    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// A provider-independent chat completion request.
public struct ChatRequest: Codable, Sendable, Hashable {
    public var messages: [ChatMessage]
    public var temperature: Double
    public var maxTokens: Int
    public var seed: Int?
    public var stop: [String]
    public var jsonMode: Bool
    /// Distinguishes the n samples of one request at temperature > 0, so each is cached on its
    /// own and a repeated run gets the same n answers back.
    public var sampleIndex: Int

    public init(
        messages: [ChatMessage], temperature: Double = 0, maxTokens: Int = 256, seed: Int? = nil, stop: [String] = [],
        jsonMode: Bool = false, sampleIndex: Int = 0
    ) {
        self.messages = messages
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.seed = seed
        self.stop = stop
        self.jsonMode = jsonMode
        self.sampleIndex = sampleIndex
    }
}

/// A completion and what it cost.
public struct ChatResponse: Codable, Sendable, Equatable {
    public var text: String
    public var promptTokens: Int
    public var completionTokens: Int
    /// True when the answer came from the cache and no request was made.
    public var cached: Bool
    public var latencySeconds: Double

    public init(text: String, promptTokens: Int, completionTokens: Int, cached: Bool = false, latencySeconds: Double = 0) {
        self.text = text
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cached = cached
        self.latencySeconds = latencySeconds
    }
}

/// Something that answers chat requests: an HTTP API, or a fake in tests.
public protocol ChatProvider: Sendable {
    /// `openai`, `anthropic`, `local`: part of the cache key.
    var kind: String { get }
    var model: String { get }
    /// Requests in flight this provider handles well when the user sets no limit.
    var defaultConcurrency: Int { get }
    func complete(_ request: ChatRequest) async throws -> ChatResponse
}

/// Why a call failed, with what to do about it.
public enum LLMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A failure worth retrying (429, 5xx, timeout, dropped connection, garbled answer).
    case transient(String, retryAfter: Double?)
    case unauthorized(provider: String, keyVariable: String?)
    case modelNotFound(model: String, baseURL: String)
    case connectionRefused(baseURL: String)
    case missingAPIKey(variable: String)
    case badRequest(status: Int, message: String)
    /// One request failed `attempts` times in a row; `last` is its last failure.
    case retriesExhausted(last: String, attempts: Int)
    /// The run's retry budget is spent: `retries` retries while `calls` calls were answered.
    case retryBudgetExhausted(last: String, retries: Int, calls: Int)
    /// A spending limit of the run was reached.
    case budgetExceeded(SpendingLimit)
    case localModelUnavailable(String)
    /// The response cache cannot be read or written.
    case cacheUnavailable(path: String, reason: String)

    public var description: String {
        switch self {
        case .transient(let message, _):
            return message
        case .unauthorized(let provider, let variable):
            return "\(provider) rejected the API key (401); check the key in $\(variable ?? "the API key variable")"
        case .modelNotFound(let model, let baseURL):
            return "model '\(model)' not found at \(baseURL) (404); check the model's name"
        case .connectionRefused(let baseURL):
            return "cannot connect to \(baseURL): connection refused; is the server running at that address?"
        case .missingAPIKey(let variable):
            return "environment variable \(variable) is not set; export your API key in it (it is never stored)"
        case .badRequest(let status, let message):
            return "the model server answered \(status): \(oneLine(message))"
        case .retriesExhausted(let last, let attempts):
            return "the model server failed one request \(attempts) times in a row (last: \(last))"
        case .retryBudgetExhausted(let last, let retries, let calls):
            return "the model server failed too often: the retry budget is spent (\(retries) retries, \(calls) calls answered) (last: \(last))"
        case .budgetExceeded(let limit):
            return limit.description
        case .localModelUnavailable(let message):
            return message
        case .cacheUnavailable(let path, let reason):
            return "cannot use the response cache \(path): \(reason); fix that, or run without the cache"
        }
    }

    /// Whether the server, not the user's settings, failed: the run can be resumed as it is.
    public var isServerFailure: Bool {
        switch self {
        case .transient, .retriesExhausted, .retryBudgetExhausted: return true
        default: return false
        }
    }

    var isTransient: Bool { if case .transient = self { return true } else { return false } }
}

/// A spending limit of a run.
public enum SpendingLimit: Sendable, Equatable, CustomStringConvertible {
    case calls(Int)
    case tokens(Int)
    case cost(Double)

    public var description: String {
        switch self {
        case .calls(let calls): return "the call budget of \(calls) calls is spent"
        case .tokens(let tokens): return "the token budget of \(tokens) tokens is spent"
        case .cost(let cost): return String(format: "the cost budget of $%.2f is spent", cost)
        }
    }
}

/// Folds server text (pretty-printed JSON, tracebacks) into one short line for an error message.
func oneLine(_ text: String, limit: Int = 200) -> String {
    let folded = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    return folded.count > limit ? String(folded.prefix(limit - 1)) + "…" : folded
}
