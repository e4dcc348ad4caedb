import Foundation
import TOMLKit

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
    /// The classes per-class statistics and the prevalence audit look at: the label set of a
    /// `choice` metric, none for the others.
    public var classLabels: [String] { kind == .choice ? labels : [] }
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
    /// Preservation rule: pass when improvements - lambda * regressions > 0.
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

/// The contents of a prompt repository's `grad.toml`.
public struct GradConfig: Sendable, Equatable {
    public static let fileName = "grad.toml"

    public var task: TaskSettings
    public var metric: MetricSettings
    public var model: ModelSettings
    /// The model that writes gradients and candidates; the task model when not set.
    public var optimizerModel: ModelSettings
    public var search: SearchSettings
    public var prices: [String: ModelPrice]
    /// Overrides for the optimizer's meta-prompt files, by role (`gradient`, `propose`, ...).
    public var metaPrompts: [String: String]

    /// Parses grad.toml text; `file` names the file in errors.
    public static func parse(_ text: String, file: String = GradConfig.fileName) throws -> GradConfig {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PromptRepoError.configSyntax(
                file: file, line: error.source.begin.line, column: error.source.begin.column, message: error.description)
        }
        var root = TOMLReader(table, path: "", file: file)

        guard var taskReader = try root.subtable("task") else {
            throw PromptRepoError.configValue(file: file, key: "task", message: "missing [task] table; add one with prompt, train and holdout")
        }
        let task = try readTask(&taskReader)
        try taskReader.rejectUnknownKeys()

        var metricReader = try root.subtable("metric") ?? TOMLReader(TOMLTable(), path: "metric", file: file)
        let metric = try readMetric(&metricReader)
        try metricReader.rejectUnknownKeys()

        var modelReader = try root.subtable("model") ?? TOMLReader(TOMLTable(), path: "model", file: file)
        let model = try readModel(&modelReader, defaults: ModelSettings(maxTokens: 64))
        try modelReader.rejectUnknownKeys()

        var optimizerModel = model
        optimizerModel.maxTokens = 1024
        optimizerModel.temperature = 0.7
        if model.provider == .local, model.baseURL == nil, model.name == ModelSettings.localModelName {
            optimizerModel.name = ModelSettings.localOptimizerModelName
        }
        if var optimizerReader = try root.subtable("optimizer") {
            optimizerModel = try readModel(&optimizerReader, defaults: optimizerModel)
            try optimizerReader.rejectUnknownKeys()
        }

        var search = SearchSettings()
        if var searchReader = try root.subtable("search") {
            search = try readSearch(&searchReader)
            try searchReader.rejectUnknownKeys()
        }

        var prices: [String: ModelPrice] = [:]
        if let pricesReader = try root.subtable("prices") {
            for key in pricesReader.table.keys {
                var reader = pricesReader
                guard var entry = try reader.subtable(key) else { continue }
                guard let input = try entry.double("input_per_million"), let output = try entry.double("output_per_million") else {
                    throw PromptRepoError.configValue(
                        file: file, key: "prices.\(key)", message: "needs input_per_million and output_per_million")
                }
                try entry.rejectUnknownKeys()
                prices[key] = ModelPrice(inputPerMillion: input, outputPerMillion: output)
            }
        }

        var metaPrompts: [String: String] = [:]
        if var metaReader = try root.subtable("meta_prompts") {
            for role in ["gradient", "critique", "propose", "rewrite", "rules", "judge"] {
                if let path = try metaReader.string(role) { metaPrompts[role] = path }
            }
            try metaReader.rejectUnknownKeys()
        }

        try root.rejectUnknownKeys()
        return GradConfig(
            task: task, metric: metric, model: model, optimizerModel: optimizerModel, search: search, prices: prices,
            metaPrompts: metaPrompts)
    }

    /// Reads `grad.toml` from a directory.
    public static func load(from directory: URL) throws -> GradConfig {
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PromptRepoError.notAPromptRepository(
                "\(url.path): no grad.toml; run `git grad init` to create a prompt repository")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: fileName)
    }

    private static func readTask(_ reader: inout TOMLReader) throws -> TaskSettings {
        let task = TaskSettings(
            prompt: try reader.requiredString("prompt"),
            system: try reader.string("system"),
            train: try reader.requiredString("train"),
            holdout: try reader.requiredString("holdout"),
            test: try reader.string("test"),
            inputFields: try reader.strings("input") ?? ["input"],
            targetField: try reader.string("target") ?? "target",
            idField: try reader.string("id"))
        if task.inputFields.isEmpty { throw reader.fail("input", "needs at least one field name") }
        return task
    }

    private static func readMetric(_ reader: inout TOMLReader) throws -> MetricSettings {
        let kind = try reader.choice("kind", as: MetricSettings.Kind.self) ?? .exact
        let metric = MetricSettings(
            kind: kind,
            labels: try reader.strings("labels") ?? [],
            tolerance: try reader.double("tolerance") ?? 1e-6,
            pattern: try reader.string("pattern"),
            rubric: try reader.string("rubric"),
            judgeScale: try reader.choice("scale", as: MetricSettings.JudgeScale.self) ?? .binary,
            passThreshold: try reader.double("pass_threshold") ?? 0.5,
            command: try reader.strings("command") ?? [],
            caseSensitive: try reader.bool("case_sensitive") ?? false)
        switch kind {
        case .choice where metric.labels.isEmpty:
            throw reader.fail("labels", "metric 'choice' needs a label set, e.g. labels = [\"yes\", \"no\"]")
        case .regex where metric.pattern == nil:
            throw reader.fail("pattern", "metric 'regex' needs a pattern")
        case .judge where metric.rubric == nil:
            throw reader.fail("rubric", "metric 'judge' needs a rubric")
        case .command where metric.command.isEmpty:
            throw reader.fail("command", "metric 'command' needs the scorer program, e.g. command = [\"python3\", \"score.py\"]")
        default:
            break
        }
        if let pattern = metric.pattern, (try? NSRegularExpression(pattern: pattern)) == nil {
            throw reader.fail("pattern", "'\(pattern)' is not a valid regular expression")
        }
        return metric
    }

    private static func readModel(_ reader: inout TOMLReader, defaults: ModelSettings) throws -> ModelSettings {
        var model = defaults
        if let provider = try reader.choice("provider", as: ModelSettings.Provider.self) {
            if provider != model.provider { model.name = ModelSettings.defaultName(for: provider) }
            model.provider = provider
        }
        if let name = try reader.string("name") { model.name = name }
        if let baseURL = try reader.string("base_url") {
            guard ModelSettings.isHTTPURL(baseURL) else { throw reader.fail("base_url", "'\(baseURL)' is not an http(s) URL") }
            model.baseURL = baseURL
        }
        if let env = try reader.string("api_key_env") {
            // Not echoed: if a key was pasted here by mistake, the error must not print it.
            guard env.range(of: #"^[A-Za-z_][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
                throw reader.fail("api_key_env", "must be the name of an environment variable (e.g. OPENAI_API_KEY), not the key itself")
            }
            model.apiKeyEnv = env
        }
        if let temperature = try reader.double("temperature") {
            guard (0...2).contains(temperature) else { throw reader.fail("temperature", "must be between 0 and 2") }
            model.temperature = temperature
        }
        if let maxTokens = try reader.int("max_tokens") {
            guard maxTokens > 0 else { throw reader.fail("max_tokens", "must be positive") }
            model.maxTokens = maxTokens
        }
        if let seed = try reader.int("seed") { model.seed = seed }
        if let concurrency = try reader.int("max_concurrency") {
            guard concurrency > 0 else { throw reader.fail("max_concurrency", "must be positive") }
            model.maxConcurrency = concurrency
        }
        if let timeout = try reader.double("timeout_seconds") {
            guard timeout > 0 else { throw reader.fail("timeout_seconds", "must be positive") }
            model.timeoutSeconds = timeout
        }
        let defaults = ModelSettings.defaultEndpoint(for: model.provider)
        model.baseURL = model.baseURL ?? defaults.baseURL
        model.apiKeyEnv = model.apiKeyEnv ?? defaults.keyVariable
        return model
    }

    private static func readSearch(_ reader: inout TOMLReader) throws -> SearchSettings {
        var search = SearchSettings()
        func positive(_ key: String, _ value: Int?) throws -> Int? {
            if let value, value <= 0 { throw reader.fail(key, "must be positive") }
            return value
        }
        search.steps = try positive("steps", try reader.int("steps")) ?? search.steps
        search.batchSize = try positive("batch_size", try reader.int("batch_size")) ?? search.batchSize
        search.variants = try positive("variants", try reader.int("variants")) ?? search.variants
        search.selection = try reader.choice("selection", as: SearchSettings.Selection.self) ?? search.selection
        search.feedback = try reader.choice("feedback", as: SearchSettings.Feedback.self) ?? search.feedback
        search.gradient = try reader.choice("gradient", as: SearchSettings.Gradient.self) ?? search.gradient
        search.labels = try reader.choice("labels", as: SearchSettings.Labels.self) ?? search.labels
        search.seed = try reader.int("seed") ?? search.seed
        search.lambda = try reader.double("lambda") ?? search.lambda
        if search.lambda < 0 { throw reader.fail("lambda", "must not be negative") }
        search.maxRegressions = try reader.int("max_regressions")
        if let drop = try reader.double("max_recall_drop") {
            guard (0...1).contains(drop) else { throw reader.fail("max_recall_drop", "must be between 0 and 1") }
            search.maxRecallDrop = drop
        }
        search.redraws = try reader.int("redraws") ?? search.redraws
        search.patience = try positive("patience", try reader.int("patience"))
        search.maxCalls = try positive("max_calls", try reader.int("max_calls"))
        search.maxTokens = try positive("max_tokens", try reader.int("max_tokens"))
        search.maxCost = try reader.double("max_cost")
        if let names = try reader.strings("operators") {
            guard !names.isEmpty else { throw reader.fail("operators", "needs at least one of: rules, demos, rewrite, merge") }
            do {
                search.operators = try SearchSettings.Operator.parse(names)
            } catch {
                throw reader.fail("operators", error.description)
            }
        }
        search.prevalence = try reader.choice("prevalence", as: SearchSettings.Prevalence.self) ?? search.prevalence
        if let share = try reader.double("collapse_share") {
            guard share > 0.3, share <= 1 else { throw reader.fail("collapse_share", "must be in (0.3, 1]") }
            search.collapseShare = share
        }
        search.maxRules = try positive("max_rules", try reader.int("max_rules")) ?? search.maxRules
        search.maxDemos = try positive("max_demos", try reader.int("max_demos")) ?? search.maxDemos
        search.demoTokens = try positive("demo_tokens", try reader.int("demo_tokens")) ?? search.demoTokens
        return search
    }
}

extension GradConfig {
    /// Applies `--provider`, `--base-url`, `--model` and `--optimizer-model`. Another provider
    /// drops grad.toml's server and key variable with it, so a key is never sent to a server
    /// configured for something else.
    public mutating func applyModelOverrides(provider: ModelSettings.Provider?, baseURL: String?, model: String?, optimizerModel: String?) {
        if let provider, provider != self.model.provider || provider != self.optimizerModel.provider {
            let defaults = ModelSettings.defaultEndpoint(for: provider)
            for keyPath in [\GradConfig.model, \GradConfig.optimizerModel] {
                self[keyPath: keyPath].provider = provider
                self[keyPath: keyPath].name = ModelSettings.defaultName(for: provider)
                self[keyPath: keyPath].baseURL = defaults.baseURL
                self[keyPath: keyPath].apiKeyEnv = defaults.keyVariable
            }
        }
        if let baseURL {
            self.model.baseURL = baseURL
            self.optimizerModel.baseURL = baseURL
        }
        if let model {
            self.model.name = model
            if optimizerModel == nil, provider != nil || baseURL != nil { self.optimizerModel.name = model }
        }
        if let optimizerModel { self.optimizerModel.name = optimizerModel }
    }
}
