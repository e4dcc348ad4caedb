import Foundation

/// What a run cost in the process that finished it (the model layer's usage totals, as recorded).
public struct RunUsage: Sendable, Equatable, Codable {
    public var calls: Int
    public var cacheHits: Int
    public var promptTokens: Int
    public var completionTokens: Int
    /// Nil when some model has no price in grad.toml.
    public var cost: Double?

    public init(calls: Int, cacheHits: Int, promptTokens: Int, completionTokens: Int, cost: Double?) {
        self.calls = calls
        self.cacheHits = cacheHits
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cost = cost
    }

    public var tokens: Int { promptTokens + completionTokens }
}

/// Settings of a run, stored under `refs/grad/runs/<run>` (a `ManifestStore` commit holding
/// manifest.json) so `--resume` continues with exactly the settings the run started with.
public struct RunManifest: Sendable, Equatable {
    public var run: String
    public var started: Date
    /// The run's search settings, by their one name (`SearchSetting.all`). A manifest with a value
    /// this version does not know is an error naming the run, never a silent default.
    public var search: SearchSettings
    public var taskModel: String
    public var optimizerModel: String
    /// When the run ended, and how: `finished`, or `stopped: <why>` when it cannot go on (main
    /// moved under it). Nil while the run can be resumed.
    public var ended: Date?
    public var outcome: String?
    /// The branch the run merges into; nil means main. Runs of an experiment merge into their own
    /// `grad/<run>/main`, so main stays untouched.
    public var trunk: String?
    /// What the run cost in the process that finished it, written when it ends.
    public var usage: RunUsage?
    public var wallSeconds: Double?
    /// The task the run optimizes (`[tasks.NAME]`); nil for the one task of a `[task]` file.
    public var task: String?

    public init(
        run: String, started: Date = Date(), search: SearchSettings, taskModel: String, optimizerModel: String, trunk: String? = nil,
        task: String? = nil
    ) {
        self.task = task
        self.run = run
        self.started = started
        self.search = search
        self.taskModel = taskModel
        self.optimizerModel = optimizerModel
        self.trunk = trunk
    }

    /// The branch the run merges into, main included.
    public var trunkBranch: String { trunk ?? GradRefs.mainBranch }

    public static func reference(_ run: String) -> String { "refs/grad/runs/\(run)" }

    /// `unfinished` (resumable), `finished`, or `stopped: <why>`.
    public var status: String { ended == nil ? "unfinished" : outcome ?? "finished" }
}

extension RunManifest: Codable {
    enum CodingKeys: String, CodingKey {
        case run, started, search, taskModel, optimizerModel, ended, outcome, trunk, usage, wallSeconds, task
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        run = try container.decode(String.self, forKey: .run)
        started = try container.decode(Date.self, forKey: .started)
        search = container.contains(.search)
            ? try container.decode(SearchSettings.self, forKey: .search) : try Self.legacySearch(from: decoder)
        taskModel = try container.decode(String.self, forKey: .taskModel)
        optimizerModel = try container.decode(String.self, forKey: .optimizerModel)
        ended = try container.decodeIfPresent(Date.self, forKey: .ended)
        outcome = try container.decodeIfPresent(String.self, forKey: .outcome)
        trunk = try container.decodeIfPresent(String.self, forKey: .trunk)
        usage = try container.decodeIfPresent(RunUsage.self, forKey: .usage)
        wallSeconds = try container.decodeIfPresent(Double.self, forKey: .wallSeconds)
        task = try container.decodeIfPresent(String.self, forKey: .task)
    }

    /// Manifests written before settings had one spelling kept them beside the run's fields, and
    /// left out what did not exist yet: such runs used the net rule without a preservation bound,
    /// whole-prompt rewrites and no prevalence audit, and resume that way.
    static func legacySearch(from decoder: Decoder) throws -> SearchSettings {
        var search = try SearchSettings(from: decoder)
        let flat = try decoder.container(keyedBy: SettingKey.self)
        func absent(_ name: String) -> Bool { !flat.contains(.legacy(name)) }
        if absent("rule") { search.rule = .net }
        if absent("max_broken_ratio") { search.maxBrokenRatio = nil }
        if absent("operators") { search.operators = [.rewrite] }
        if absent("prevalence") { search.prevalence = .off }
        return search
    }
}

/// The JSON of run and experiment manifests: sorted keys and millisecond times, so runs started
/// in the same second still order.
public enum ManifestJSON {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            var container = encoder.singleValueContainer()
            try container.encode(formatter.string(from: date))
        }
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return date }
            formatter.formatOptions = [.withInternetDateTime]
            if let date = formatter.date(from: text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO 8601 time"))
        }
        return decoder
    }()
}
