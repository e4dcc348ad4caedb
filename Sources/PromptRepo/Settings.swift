import Foundation

/// How a model is reached: which provider, which model, and its sampling settings.
public struct ModelSettings: Sendable, Equatable, Codable {
    public enum Provider: String, Sendable, Codable, CaseIterable { case local, openai, anthropic }

    public var provider: Provider
    public var name: String
    public var baseURL: String?
    /// The name of the environment variable holding the API key; the key itself is never stored.
    public var apiKeyEnv: String?
    public var temperature: Double
    public var maxTokens: Int
    public var seed: Int?
    /// Requests in flight at once; nil picks the provider's default.
    public var maxConcurrency: Int?
    public var timeoutSeconds: Double

    public static let localModelName = "qwen2.5-coder-0.5b-instruct"
    /// The embedded optimizer model: writes one-line rules from errors far better than the 0.5B.
    public static let localOptimizerModelName = "qwen2.5-coder-1.5b-instruct"

    public init(
        provider: Provider = .local, name: String = ModelSettings.localModelName, baseURL: String? = nil, apiKeyEnv: String? = nil,
        temperature: Double = 0, maxTokens: Int = 256, seed: Int? = nil, maxConcurrency: Int? = nil, timeoutSeconds: Double = 120
    ) {
        self.provider = provider
        self.name = name
        self.baseURL = baseURL
        self.apiKeyEnv = apiKeyEnv
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.seed = seed
        self.maxConcurrency = maxConcurrency
        self.timeoutSeconds = timeoutSeconds
    }

    /// Where a hosted provider is reached and which variable holds its key, unless grad.toml says.
    /// Whether `text` is an http(s) URL with a host: what `base_url` and `--base-url` accept.
    public static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased() else { return false }
        return (scheme == "http" || scheme == "https") && !(url.host ?? "").isEmpty
    }

    public static func defaultEndpoint(for provider: Provider) -> (baseURL: String?, keyVariable: String?) {
        switch provider {
        case .local: return (nil, nil)
        case .openai: return ("https://api.openai.com/v1", "OPENAI_API_KEY")
        case .anthropic: return ("https://api.anthropic.com", "ANTHROPIC_API_KEY")
        }
    }

    public static func defaultName(for provider: Provider) -> String {
        switch provider {
        case .local: return localModelName
        case .openai: return "gpt-4o-mini"
        case .anthropic: return "claude-3-5-haiku-latest"
        }
    }
}

/// What is being optimized and on which data.
public struct TaskSettings: Sendable, Equatable {
    /// The prompt template the optimizer rewrites (the user message).
    public var prompt: String
    /// An optional system-message template, rendered but not optimized.
    public var system: String?
    public var train: String
    public var holdout: String
    public var test: String?
    /// Row fields the template may use; each must be present in every row.
    public var inputFields: [String]
    public var targetField: String
    /// The row field that holds a stable id; nil uses the line number.
    public var idField: String?
    /// Values of input fields a row may leave out (a Prompty file's input defaults).
    public var inputDefaults: [String: String]

    public init(
        prompt: String, system: String? = nil, train: String, holdout: String, test: String? = nil, inputFields: [String] = ["input"],
        targetField: String = "target", idField: String? = nil, inputDefaults: [String: String] = [:]
    ) {
        self.prompt = prompt
        self.system = system
        self.train = train
        self.holdout = holdout
        self.test = test
        self.inputFields = inputFields
        self.targetField = targetField
        self.idField = idField
        self.inputDefaults = inputDefaults
    }

    /// The files that optimization may change: only the prompt.
    public var promptFiles: [String] { [prompt] }
}

/// How an output is scored against the target.
public struct MetricSettings: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case exact, choice, number, regex, contains, judge, command, evaluators }
    public enum JudgeScale: String, Sendable, CaseIterable { case binary, percent = "0-100" }

    public var kind: Kind
    /// For `choice`: the label set.
    public var labels: [String]
    // The classes per-class statistics and the audit look at: `classLabels(targets:)` (Evaluation).
    /// For `number`: allowed absolute difference.
    public var tolerance: Double
    /// For `regex`: the pattern, with `{{target}}` replaced by the escaped target.
    public var pattern: String?
    /// For `judge`: the rubric and the scale; a score at or above `passThreshold` counts as correct.
    public var rubric: String?
    public var judgeScale: JudgeScale
    public var passThreshold: Double
    /// For `command`: the scorer program and its arguments.
    public var command: [String]
    public var caseSensitive: Bool
    /// For `evaluators`: a `.prompt.yml` file's evaluators; an answer passes when all of them pass.
    public var evaluators: [PromptEvaluator]

    /// Whether scoring asks a judge model: a `judge` metric, or an llm evaluator among `evaluators`.
    public var needsJudge: Bool {
        kind == .judge || (kind == .evaluators && evaluators.contains { if case .llm = $0.check { return true } else { return false } })
    }

    public init(
        kind: Kind, labels: [String] = [], tolerance: Double = 0, pattern: String? = nil, rubric: String? = nil,
        judgeScale: JudgeScale = .binary, passThreshold: Double = 0.5, command: [String] = [], caseSensitive: Bool = false,
        evaluators: [PromptEvaluator] = []
    ) {
        self.evaluators = evaluators
        self.kind = kind
        self.labels = labels
        self.tolerance = tolerance
        self.pattern = pattern
        self.rubric = rubric
        self.judgeScale = judgeScale
        self.passThreshold = passThreshold
        self.command = command
        self.caseSensitive = caseSensitive
    }
}

/// Dollar price per million tokens of one model.
public struct ModelPrice: Sendable, Equatable, Codable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double
}
