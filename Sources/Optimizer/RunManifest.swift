import Foundation
import LLM
import PromptRepo

/// Settings of a run, stored under `refs/grad/runs/<run>` (a `ManifestStore` commit holding
/// manifest.json) so `--resume` continues with exactly the settings the run started with.
public struct RunManifest: Codable, Sendable, Equatable {
    public var run: String
    public var started: Date
    public var steps: Int
    public var batchSize: Int
    public var variants: Int
    // Typed: a manifest with a value this version does not know is an error naming the run,
    // never a silent default.
    public var selection: SearchSettings.Selection
    public var feedback: SearchSettings.Feedback
    public var gradient: SearchSettings.Gradient
    public var labels: SearchSettings.Labels
    public var seed: Int
    public var lambda: Double
    /// Absent in manifests written before the significance test: those runs used the net rule.
    public var rule: SearchSettings.Rule?
    public var alpha: Double?
    public var maxBrokenRatio: Double?
    public var maxRegressions: Int?
    public var maxRecallDrop: Double?
    public var redraws: Int
    public var patience: Int?
    public var taskModel: String
    public var optimizerModel: String
    /// Absent in manifests written before operators existed: those runs rewrote whole prompts.
    public var operators: [SearchSettings.Operator]?
    public var prevalence: SearchSettings.Prevalence?
    public var collapseShare: Double?
    public var maxRules: Int?
    public var maxDemos: Int?
    public var demoTokens: Int?
    /// When the run ended, and how: `finished`, or `stopped: <why>` when it cannot go on (main
    /// moved under it). Nil while the run can be resumed.
    public var ended: Date?
    public var outcome: String?
    /// The branch the run merges into; nil means main. Runs of an experiment merge into their own
    /// `grad/<run>/main`, so main stays untouched.
    public var trunk: String?
    /// The branch the run merges into, main included.
    public var trunkBranch: String { trunk ?? GradRefs.mainBranch }
    /// What the run cost in the process that finished it, written when it ends.
    public var usage: UsageTotals?
    public var wallSeconds: Double?

    public static func reference(_ run: String) -> String { "refs/grad/runs/\(run)" }

    /// `unfinished` (resumable), `finished`, or `stopped: <why>`.
    public var status: String { ended == nil ? "unfinished" : outcome ?? "finished" }

    /// Manifests are JSON with millisecond times, so runs started in the same second still order.
    static let encoder: JSONEncoder = {
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

    static let decoder: JSONDecoder = {
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

    public var search: SearchSettings {
        var search = SearchSettings()
        search.steps = steps
        search.batchSize = batchSize
        search.variants = variants
        search.selection = selection
        search.feedback = feedback
        search.gradient = gradient
        search.labels = labels
        search.seed = seed
        search.lambda = lambda
        search.rule = rule ?? .net
        if let alpha { search.alpha = alpha }
        search.maxBrokenRatio = maxBrokenRatio ?? .infinity
        search.maxRegressions = maxRegressions
        search.maxRecallDrop = maxRecallDrop
        search.redraws = redraws
        search.patience = patience
        search.operators = operators ?? [.rewrite]
        search.prevalence = prevalence ?? .off
        if let collapseShare { search.collapseShare = collapseShare }
        if let maxRules { search.maxRules = maxRules }
        if let maxDemos { search.maxDemos = maxDemos }
        if let demoTokens { search.demoTokens = demoTokens }
        return search
    }

    /// The `Grad-Settings` trailer value.
    public var settingsTrailer: String {
        var parts = [
            "selection=\(selection.rawValue)", "feedback=\(feedback.rawValue)", "gradient=\(gradient.rawValue)", "labels=\(labels.rawValue)",
            "variants=\(variants)", "batch=\(batchSize)",
        ]
        switch rule ?? .net {
        case .net: parts.append("rule=net lambda=\(lambda)")
        case .significant:
            parts.append("rule=significant alpha=\(alpha ?? 0.05)")
            if let maxBrokenRatio { parts.append("max-broken-ratio=\(maxBrokenRatio)") }
        }
        if let maxRegressions { parts.append("max-regressions=\(maxRegressions)") }
        if let maxRecallDrop { parts.append("max-recall-drop=\(maxRecallDrop)") }
        if let operators { parts.append("operators=\(operators.map(\.rawValue).joined(separator: ","))") }
        if let prevalence { parts.append("prevalence=\(prevalence.rawValue)") }
        return parts.joined(separator: " ")
    }
}
