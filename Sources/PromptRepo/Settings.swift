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

    /// The files that optimization may change: only the prompt.
    public var promptFiles: [String] { [prompt] }
}

/// How an output is scored against the target.
public struct MetricSettings: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case exact, choice, number, regex, contains, judge, command }
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

    public init(
        kind: Kind, labels: [String] = [], tolerance: Double = 0, pattern: String? = nil, rubric: String? = nil,
        judgeScale: JudgeScale = .binary, passThreshold: Double = 0.5, command: [String] = [], caseSensitive: Bool = false
    ) {
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

/// The optimizer's search settings (see the seed papers for what each option reproduces).
public struct SearchSettings: Sendable, Equatable {
    public enum Selection: String, Sendable, CaseIterable, Codable { case validated, naive }
    public enum Feedback: String, Sendable, CaseIterable, Codable { case errors, all, none }
    public enum Gradient: String, Sendable, CaseIterable, Codable { case oneStep = "one-step", twoStep = "two-step" }
    public enum Labels: String, Sendable, CaseIterable, Codable { case correct, shuffled }
    /// How a candidate is made from the current prompt (see the Optimizer's operators).
    public enum Operator: String, Sendable, CaseIterable, Codable {
        case rules, demos, rewrite, merge

        /// Operators by name, for grad.toml and `--operators`; throws `unknown(name)` for the first bad one.
        public static func parse(_ names: [String]) throws(UnknownOperator) -> [Operator] {
            try names.map { name throws(UnknownOperator) in
                guard let op = Operator(rawValue: name) else { throw UnknownOperator(name: name) }
                return op
            }
        }
    }

    /// A name that is no operator; `description` says which names are.
    public struct UnknownOperator: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            let names = Operator.allCases.map(\.rawValue)
            return "'\(name)' is not an operator; use \(names.dropLast().joined(separator: ", ")) or \(names.last!)"
        }
    }
    /// How a verified candidate is accepted: by a significance test (the default) or by the
    /// papers' net rule `improvements - lambda * regressions > 0`.
    public enum Rule: String, Sendable, CaseIterable, Codable { case significant, net }
    /// What the prevalence audit does with a candidate whose gain comes with a class collapse.
    public enum Prevalence: String, Sendable, CaseIterable, Codable { case reject, flag, off }

    public var steps = 3
    public var batchSize = 8
    public var variants = 2
    public var selection = Selection.validated
    public var feedback = Feedback.errors
    public var gradient = Gradient.oneStep
    public var labels = Labels.correct
    public var seed = 7
    /// The acceptance rule: a significance test, or the net rule with `lambda`.
    public var rule = Rule.significant
    /// The test's level: the chance of merging a candidate no better than its parent, per step.
    public var alpha = 0.05
    /// Preservation (significant rule): at most this many broken examples per fixed one.
    public var maxBrokenRatio = 0.5
    /// The net rule: pass when improvements - lambda * regressions > 0.
    public var lambda = 1.0
    public var maxRegressions: Int?
    /// No class's holdout recall may fall by more than this (0...1).
    public var maxRecallDrop: Double?
    /// Extra minibatches drawn when a batch has no errors.
    public var redraws = 3
    /// Steps in a row without an accepted candidate before stopping.
    public var patience: Int?
    public var maxCalls: Int?
    public var maxTokens: Int?
    public var maxCost: Double?
    /// The operators variants are spread across; nil picks the default for the optimizer model.
    public var operators: [Operator]?
    /// Prevalence audit: reject (default), flag only, or off.
    public var prevalence = Prevalence.reject
    /// A label predicted for at least this share of the holdout counts as a collapse.
    public var collapseShare = 0.8
    /// The `rules` operator keeps at most this many rules.
    public var maxRules = 8
    /// The `demos` operator places at most this many worked examples ...
    public var maxDemos = 10
    /// ... and at most about this many tokens of them.
    public var demoTokens = 1200

    public init() {}

    /// The operators for an optimizer model: the measured default for the embedded local model
    /// (which cannot rewrite a whole prompt), a whole-prompt rewrite for any other.
    public static func defaultOperators(for optimizer: ModelSettings) -> [Operator] {
        optimizer.provider == .local && optimizer.baseURL == nil ? [.demos, .rules, .merge] : [.rewrite]
    }
}

/// Dollar price per million tokens of one model.
public struct ModelPrice: Sendable, Equatable, Codable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double
}
