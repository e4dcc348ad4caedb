import Foundation
import TOMLKit

/// The contents of a prompt repository's `grad.toml`.
public struct GradConfig: Sendable, Equatable {
    public static let fileName = "grad.toml"

    public var task: TaskSettings
    public var metric: MetricSettings
    public var model: ModelSettings
    /// The model that writes gradients and candidates; the task model when not set.
    public var optimizerModel: ModelSettings
    /// The model a `judge` metric asks (`[judge]`); nil asks the optimizer model. A separate judge
    /// keeps the model that writes prompts from grading them.
    public var judgeModel: ModelSettings?
    public var search: SearchSettings
    public var prices: [String: ModelPrice]
    /// Overrides for the optimizer's meta-prompt files, by role (`gradient`, `propose`, ...).
    public var metaPrompts: [String: String]

    /// The task's name under `[tasks.NAME]`; nil for a file with one `[task]`.
    public var taskName: String?

    /// Parses grad.toml text for one task: `task` names it (by name or by its prompt's path),
    /// and may be nil when the file has one. `readFile` reads a file of the same version (the
    /// prompt file, whose own settings fill in what grad.toml leaves out); `file` names grad.toml
    /// in errors.
    public static func parse(
        _ text: String, file: String = GradConfig.fileName, task selector: String? = nil, readFile: ((String) throws -> Data?)? = nil
    ) throws -> GradConfig {
        let fileRoot = try table(text, file: file)
        let tasks = try GradTasks.tables(fileRoot, file: file)
        let chosen = try GradTasks(entries: tasks.map { name, table in
            GradTasks.Entry(name: name, prompt: table["prompt"]?.string ?? "")
        }).select(selector, file: file)
        let taskTable = tasks.first { $0.0 == chosen.name }!.1
        let view = chosen.name == nil ? fileRoot : GradTasks.view(of: taskTable, root: fileRoot)
        var root = TOMLReader(view, path: "", file: file)
        _ = root.take("task")
        _ = root.take("tasks")
        var taskReader = TOMLReader(view["task"]?.table ?? TOMLTable(), path: chosen.name.map { "tasks.\($0)" } ?? "task", file: file)
        let promptPath = try taskReader.requiredString("prompt")
        let promptText = try readFile?(promptPath).map { String(decoding: $0, as: UTF8.self) }
        let fileSettings = try promptText.map { try PromptFileSettings.read($0, path: promptPath) } ?? PromptFileSettings()
        let task = try readTask(&taskReader, prompt: promptPath, promptText: promptText, fileSettings: fileSettings)
        try taskReader.rejectUnknownKeys()

        var metricReader = try root.subtable("metric") ?? TOMLReader(TOMLTable(), path: "metric", file: file)
        let metric = try readMetric(&metricReader, evaluators: fileSettings.evaluators)
        try metricReader.rejectUnknownKeys()

        let (model, optimizerModel, judgeModel) = try readModels(&root, file: file, fileSettings: fileSettings)
        var search = SearchSettings()
        if var searchReader = try root.subtable("search") {
            search = try SearchSettings.read(&searchReader)
            try searchReader.rejectUnknownKeys()
        }
        let prices = try readPrices(&root, file: file)
        let metaPrompts = try readMetaPrompts(&root)
        try root.rejectUnknownKeys()
        var config = GradConfig(
            task: task, metric: metric, model: model, optimizerModel: optimizerModel, judgeModel: judgeModel, search: search,
            prices: prices, metaPrompts: metaPrompts)
        config.taskName = chosen.name
        return config
    }

    /// grad.toml's text as a TOML table, with a syntax error naming line and column.
    static func table(_ text: String, file: String) throws -> TOMLTable {
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PromptRepoError.configSyntax(
                file: file, line: error.source.begin.line, column: error.source.begin.column, message: error.description)
        }
    }

    /// Reads `grad.toml` (and the prompt files it names) from a directory.
    public static func load(from directory: URL, task: String? = nil) throws -> GradConfig {
        let url = directory.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw PromptRepoError.notAPromptRepository(
                "\(url.path): no grad.toml; run `git grad init` to create a prompt repository")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: fileName, task: task) { path in
            FileManager.default.contents(atPath: directory.appendingPathComponent(path).path)
        }
    }

    /// `[model]`, `[optimizer]` (the task model's settings with the optimizer's defaults unless
    /// given) and `[judge]`.
    private static func readModels(
        _ root: inout TOMLReader, file: String, fileSettings: PromptFileSettings
    ) throws -> (ModelSettings, ModelSettings, ModelSettings?) {
        var modelReader = try root.subtable("model") ?? TOMLReader(TOMLTable(), path: "model", file: file)
        // The prompt file's own parameters are the task model's defaults; grad.toml's keys win.
        var defaults = ModelSettings(maxTokens: fileSettings.maxTokens ?? 64)
        if let temperature = fileSettings.temperature, (0...2).contains(temperature) { defaults.temperature = temperature }
        var model = try readModel(&modelReader, defaults: defaults)
        // A hosted model named in the file is the default name; the embedded provider runs its own model.
        if let name = fileSettings.modelName, model.provider != .local, modelReader.table["name"] == nil { model.name = name }
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

        var judgeModel: ModelSettings?
        if var judgeReader = try root.subtable("judge") {
            var defaults = optimizerModel
            defaults.temperature = 0
            defaults.maxTokens = 200
            judgeModel = try readModel(&judgeReader, defaults: defaults)
            try judgeReader.rejectUnknownKeys()
        }
        return (model, optimizerModel, judgeModel)
    }

    private static func readPrices(_ root: inout TOMLReader, file: String) throws -> [String: ModelPrice] {
        var prices: [String: ModelPrice] = [:]
        guard let pricesReader = try root.subtable("prices") else { return prices }
        for key in pricesReader.table.keys {
            var reader = pricesReader
            guard var entry = try reader.subtable(key) else { continue }
            guard let input = try entry.double("input_per_million"), let output = try entry.double("output_per_million") else {
                throw PromptRepoError.configValue(file: file, key: "prices.\(key)", message: "needs input_per_million and output_per_million")
            }
            try entry.rejectUnknownKeys()
            prices[key] = ModelPrice(inputPerMillion: input, outputPerMillion: output)
        }
        return prices
    }

    private static func readMetaPrompts(_ root: inout TOMLReader) throws -> [String: String] {
        var metaPrompts: [String: String] = [:]
        guard var metaReader = try root.subtable("meta_prompts") else { return metaPrompts }
        for role in ["gradient", "critique", "propose", "rewrite", "rules", "glossary", "judge"] {
            if let path = try metaReader.string(role) { metaPrompts[role] = path }
        }
        try metaReader.rejectUnknownKeys()
        return metaPrompts
    }

    private static func readTask(
        _ reader: inout TOMLReader, prompt: String, promptText: String?, fileSettings: PromptFileSettings
    ) throws -> TaskSettings {
        // A `.prompt.yml` file with testData is its own dataset (see `TestDataSplit`).
        let ownData = fileSettings.testData != nil
        func dataPath(_ key: String, split: Split) throws -> String? {
            if let path = try reader.string(key) { return path }
            return ownData ? TestDataSplit.path(prompt: prompt, split: split) : nil
        }
        guard let train = try dataPath("train", split: .train) else { throw reader.fail("train", "missing; add it to grad.toml") }
        guard let holdout = try dataPath("holdout", split: .holdout) else { throw reader.fail("holdout", "missing; add it to grad.toml") }
        var defaultInputs = fileSettings.inputNames
        if defaultInputs.isEmpty, PromptFormat.of(path: prompt) == .promptYAML, let promptText {
            // A file whose messages cannot be read says so here, before its rows are checked against them.
            let file = try PromptFile.read(promptText, path: prompt)
            defaultInputs = file.blocks.flatMap { PromptFile.placeholderNames(in: $0.content) }.reduce(into: []) { names, name in
                if !names.contains(name) { names.append(name) }
            }
        }
        let task = TaskSettings(
            prompt: prompt,
            system: try reader.string("system"),
            train: train,
            holdout: holdout,
            test: try dataPath("test", split: .test),
            inputFields: try reader.strings("input") ?? (defaultInputs.isEmpty ? ["input"] : defaultInputs),
            targetField: try reader.string("target") ?? (ownData ? "expected" : "target"),
            idField: try reader.string("id"),
            inputDefaults: fileSettings.inputDefaults)
        if task.inputFields.isEmpty { throw reader.fail("input", "needs at least one field name") }
        return task
    }

    private static func readMetric(_ reader: inout TOMLReader, evaluators: [PromptEvaluator]) throws -> MetricSettings {
        // A `.prompt.yml` file's evaluators are the metric unless grad.toml names another.
        let kind = try reader.choice("kind", as: MetricSettings.Kind.self) ?? (evaluators.isEmpty ? .exact : .evaluators)
        let metric = MetricSettings(
            kind: kind,
            labels: try reader.strings("labels") ?? [],
            tolerance: try reader.double("tolerance") ?? 1e-6,
            pattern: try reader.string("pattern"),
            rubric: try reader.string("rubric"),
            judgeScale: try reader.choice("scale", as: MetricSettings.JudgeScale.self) ?? .binary,
            passThreshold: try reader.double("pass_threshold") ?? 0.5,
            command: try reader.strings("command") ?? [],
            caseSensitive: try reader.bool("case_sensitive") ?? false,
            evaluators: kind == .evaluators ? evaluators : [])
        switch kind {
        case .evaluators where evaluators.isEmpty:
            throw reader.fail("kind", "metric 'evaluators' needs a .prompt.yml prompt file with evaluators")
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
            if provider != model.provider {
                // Another provider starts from its own defaults: the inherited server and key
                // variable belong to the other one, and a key must never go to a server it is not for.
                model.name = ModelSettings.defaultName(for: provider)
                model.baseURL = nil
                model.apiKeyEnv = nil
            }
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
