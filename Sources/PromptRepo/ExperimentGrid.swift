import Foundation
import TOMLKit

/// Loop settings that override grad.toml's `[search]` for one run (from `optimize`'s flags or an
/// experiment's cell); nil keeps grad.toml's value.
public struct SearchOverrides: Codable, Sendable, Equatable {
    public var selection: SearchSettings.Selection?
    public var variants: Int?
    public var batchSize: Int?
    public var feedback: SearchSettings.Feedback?
    public var gradient: SearchSettings.Gradient?
    public var labels: SearchSettings.Labels?
    public var operators: [SearchSettings.Operator]?
    public var lambda: Double?
    public var maxRegressions: Int?
    public var prevalence: SearchSettings.Prevalence?
    public var rule: SearchSettings.Rule?
    public var alpha: Double?

    public init() {}

    /// grad.toml's settings with these overrides applied.
    public func apply(to search: inout SearchSettings) {
        if let selection { search.selection = selection }
        if let variants { search.variants = variants }
        if let batchSize { search.batchSize = batchSize }
        if let feedback { search.feedback = feedback }
        if let gradient { search.gradient = gradient }
        if let labels { search.labels = labels }
        if let operators { search.operators = operators }
        if let lambda { search.lambda = lambda }
        if let maxRegressions { search.maxRegressions = maxRegressions }
        if let prevalence { search.prevalence = prevalence }
        if let rule { search.rule = rule }
        if let alpha { search.alpha = alpha }
    }

    /// `key=value` pairs, for the table and `--vary` names.
    public var summary: String {
        var parts: [String] = []
        if let selection { parts.append("selection=\(selection.rawValue)") }
        if let variants { parts.append("variants=\(variants)") }
        if let batchSize { parts.append("batch_size=\(batchSize)") }
        if let feedback { parts.append("feedback=\(feedback.rawValue)") }
        if let gradient { parts.append("gradient=\(gradient.rawValue)") }
        if let labels { parts.append("labels=\(labels.rawValue)") }
        if let operators { parts.append("operators=\(operators.map(\.rawValue).joined(separator: "+"))") }
        if let lambda { parts.append("lambda=\(lambda)") }
        if let maxRegressions { parts.append("max_regressions=\(maxRegressions)") }
        if let prevalence { parts.append("prevalence=\(prevalence.rawValue)") }
        if let rule { parts.append("rule=\(rule.rawValue)") }
        if let alpha { parts.append("alpha=\(alpha)") }
        return parts.isEmpty ? "grad.toml" : parts.joined(separator: " ")
    }

    /// The names `--vary` and grid files accept.
    public static let keys = ["selection", "variants", "batch_size", "feedback", "gradient", "labels", "operators", "lambda", "max_regressions", "prevalence", "rule", "alpha"]

    /// Sets one setting from its text; `describe` names where the text came from in errors.
    public mutating func set(_ key: String, _ text: String, describe: String) throws {
        func fail(_ message: String) -> PromptRepoError { .format("\(describe): \(message)") }
        func choice<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: text) else {
                throw fail("'\(text)' is not one of \(T.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", "))")
            }
            return value
        }
        func positive() throws -> Int {
            guard let value = Int(text), value > 0 else { throw fail("expected a positive integer, found '\(text)'") }
            return value
        }
        switch key {
        case "selection": selection = try choice(SearchSettings.Selection.self)
        case "variants": variants = try positive()
        case "batch_size": batchSize = try positive()
        case "feedback": feedback = try choice(SearchSettings.Feedback.self)
        case "gradient": gradient = try choice(SearchSettings.Gradient.self)
        case "labels": labels = try choice(SearchSettings.Labels.self)
        case "prevalence": prevalence = try choice(SearchSettings.Prevalence.self)
        case "rule": rule = try choice(SearchSettings.Rule.self)
        case "alpha":
            guard let value = Double(text), value > 0, value < 0.5 else { throw fail("expected a number between 0 and 0.5, found '\(text)'") }
            alpha = value
        case "operators":
            do {
                operators = try SearchSettings.Operator.parse(text.split(whereSeparator: { $0 == "+" || $0 == "," }).map(String.init))
            } catch {
                throw fail(error.description)
            }
        case "lambda":
            guard let value = Double(text), value.isFinite, value >= 0 else { throw fail("expected a non-negative number, found '\(text)'") }
            lambda = value
        case "max_regressions":
            guard let value = Int(text), value >= 0 else { throw fail("expected a non-negative integer, found '\(text)'") }
            maxRegressions = value
        default:
            throw fail("'\(key)' is not a setting an experiment can vary; use one of \(Self.keys.joined(separator: ", "))")
        }
    }
}

/// One cell of an experiment: a name and the settings it changes.
public struct ExperimentCell: Codable, Sendable, Equatable {
    public var name: String
    public var settings: SearchOverrides

    public init(name: String, settings: SearchOverrides) {
        self.name = name
        self.settings = settings
    }
}

/// What an experiment compares: cells × seeds, each an ordinary run of `steps` steps, and the
/// cell the others are tested against.
public struct ExperimentGrid: Codable, Sendable, Equatable {
    public var cells: [ExperimentCell]
    public var seeds: [Int]
    public var steps: Int
    public var baseline: String

    public init(cells: [ExperimentCell], seeds: [Int], steps: Int, baseline: String? = nil) throws {
        self.cells = cells
        self.seeds = seeds
        self.steps = steps
        self.baseline = baseline ?? cells.first?.name ?? ""
        try validate(describe: "the experiment")
    }

    func validate(describe: String) throws {
        guard !cells.isEmpty else { throw PromptRepoError.format("\(describe) has no cells; add [[cell]] tables or --vary KEY=A,B") }
        guard !seeds.isEmpty else { throw PromptRepoError.format("\(describe) has no seeds; add seeds = [1, 2, 3] or --seeds 1-3") }
        guard Set(seeds).count == seeds.count else { throw PromptRepoError.format("\(describe) lists a seed twice") }
        guard steps > 0 else { throw PromptRepoError.format("\(describe): steps must be positive") }
        var names = Set<String>()
        for cell in cells {
            guard !cell.name.isEmpty, names.insert(cell.name).inserted else {
                throw PromptRepoError.format("\(describe) has two cells named '\(cell.name)'; give each cell its own name")
            }
        }
        guard names.contains(baseline) else {
            throw PromptRepoError.format("\(describe): baseline '\(baseline)' is not a cell; use one of \(cells.map(\.name).joined(separator: ", "))")
        }
    }

    /// Every combination of `--vary KEY=A,B` values, one cell each, named by its settings.
    public static func cells(varying: [(key: String, values: [String])]) throws -> [ExperimentCell] {
        var cells = [ExperimentCell(name: "", settings: SearchOverrides())]
        for (key, values) in varying {
            guard !values.isEmpty else { throw PromptRepoError.format("--vary \(key)= needs at least one value") }
            cells = try cells.flatMap { cell in
                try values.map { value in
                    var next = cell
                    try next.settings.set(key, value, describe: "--vary \(key)")
                    next.name = cell.name.isEmpty ? "\(key)=\(value)" : "\(cell.name),\(key)=\(value)"
                    return next
                }
            }
        }
        return cells.map { $0.name.isEmpty ? ExperimentCell(name: "grad.toml", settings: $0.settings) : $0 }
    }

    /// Seeds from `1-3` or `1,2,5`.
    public static func parseSeeds(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var seeds: [Int] = []
        for part in parts {
            // A range's dash comes after its first character (so "-2" stays a seed).
            let dash = part.dropFirst().firstIndex(of: "-")
            if let dash, let low = Int(part[..<dash]), let high = Int(part[part.index(after: dash)...]), low <= high, high - low < 1000 {
                seeds += Array(low...high)
            } else if let seed = Int(part) {
                seeds.append(seed)
            } else {
                throw PromptRepoError.format("--seeds: '\(part)' is not a seed or a range like 1-3")
            }
        }
        guard !seeds.isEmpty else { throw PromptRepoError.format("--seeds needs at least one seed, e.g. --seeds 1-3") }
        return seeds
    }

    /// Parses a grid file:
    /// ```toml
    /// seeds = [1, 2, 3]
    /// steps = 2
    /// baseline = "naive"
    /// [[cell]]
    /// name = "naive"
    /// selection = "naive"
    /// ```
    public static func parse(_ text: String, file: String) throws -> ExperimentGrid {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw PromptRepoError.format("\(file):\(error.source.begin.line): \(error.localizedDescription); fix the TOML syntax")
        }
        var reader = TOMLReader(table, path: "", file: file)
        let steps = try reader.int("steps") ?? 2
        var seeds: [Int] = [1, 2, 3]
        if let value = table["seeds"] {
            guard let array = value.array else { throw reader.fail("seeds", "expected an array of integers, found \(value.type)") }
            seeds = try array.enumerated().map { index, element in
                guard let seed = element.int else { throw reader.fail("seeds[\(index)]", "expected an integer, found \(element.type)") }
                return seed
            }
        }
        let baseline = try reader.string("baseline")
        var cells: [ExperimentCell] = []
        if let value = table["cell"] {
            guard let array = value.array else { throw reader.fail("cell", "expected [[cell]] tables, found \(value.type)") }
            for (index, element) in array.enumerated() {
                guard let cellTable = element.table else { throw reader.fail("cell[\(index)]", "expected a table, found \(element.type)") }
                var cellReader = TOMLReader(cellTable, path: "cell[\(index)]", file: file)
                let name = try cellReader.requiredString("name")
                var settings = SearchOverrides()
                for key in SearchOverrides.keys {
                    guard let raw = cellTable[key] else { continue }
                    let text: String
                    if key == "operators" {
                        text = (try cellReader.strings(key) ?? []).joined(separator: "+")
                    } else if let string = raw.string {
                        text = string
                    } else if let int = raw.int {
                        text = String(int)
                    } else if let double = raw.double {
                        text = String(double)
                    } else {
                        throw cellReader.fail(key, "expected a string or a number, found \(raw.type)")
                    }
                    try settings.set(key, text, describe: "\(file): \(cellReader.keyName(key))")
                }
                for key in cellTable.keys where key != "name" && !SearchOverrides.keys.contains(key) {
                    throw cellReader.fail(key, "unknown key; a cell can set \(SearchOverrides.keys.joined(separator: ", "))")
                }
                cells.append(ExperimentCell(name: name, settings: settings))
            }
        }
        for key in table.keys.sorted() where !["steps", "seeds", "baseline", "cell"].contains(key) {
            throw reader.fail(key, "unknown key; a grid file has steps, seeds, baseline and [[cell]] tables")
        }
        let grid = try ExperimentGrid(cells: cells, seeds: seeds, steps: steps, baseline: baseline ?? cells.first?.name)
        try grid.validate(describe: file)
        return grid
    }

    /// The named protocols git-grad can reproduce at this machine's scale.
    public enum Preset: String, CaseIterable, Sendable {
        /// "Textual Gradients are a Flawed Metaphor" (arXiv 2512.13598): naive selection (batches
        /// of 3 accepted without checks) against n validated variants, and the validated loop with
        /// shuffled labels and with no feedback.
        case flawedMetaphor = "flawed-metaphor"
        /// "Pick Your Textual Gradients": error-driven feedback with regularized verification
        /// against feedback from all examples accepted without verification.
        case pick
        /// The smallest useful comparison: naive against validated.
        case naiveVsValidated = "naive-vs-validated"

        public func grid(seeds: [Int], steps: Int) throws -> ExperimentGrid {
            func cell(_ name: String, _ pairs: [(String, String)]) throws -> ExperimentCell {
                var settings = SearchOverrides()
                for (key, value) in pairs { try settings.set(key, value, describe: "preset \(rawValue)") }
                return ExperimentCell(name: name, settings: settings)
            }
            switch self {
            case .flawedMetaphor:
                return try ExperimentGrid(cells: [
                    cell("validated", [("selection", "validated"), ("feedback", "errors"), ("labels", "correct")]),
                    cell("naive", [("selection", "naive"), ("batch_size", "3"), ("variants", "1"), ("feedback", "errors")]),
                    cell("shuffled-labels", [("selection", "validated"), ("feedback", "errors"), ("labels", "shuffled")]),
                    cell("no-feedback", [("selection", "validated"), ("feedback", "none")]),
                ], seeds: seeds, steps: steps, baseline: "validated")
            case .pick:
                return try ExperimentGrid(cells: [
                    cell("all-unverified", [("selection", "naive"), ("feedback", "all")]),
                    cell("errors-verified", [("selection", "validated"), ("feedback", "errors")]),
                ], seeds: seeds, steps: steps, baseline: "all-unverified")
            case .naiveVsValidated:
                return try ExperimentGrid(cells: [
                    cell("naive", [("selection", "naive")]),
                    cell("validated", [("selection", "validated")]),
                ], seeds: seeds, steps: steps, baseline: "naive")
            }
        }
    }
}
