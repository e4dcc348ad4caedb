import Foundation
import TOMLKit

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
        guard !cells.isEmpty else { throw PromptRepoError.experiment("\(describe) has no cells; add [[cell]] tables or --vary KEY=A,B") }
        guard !seeds.isEmpty else { throw PromptRepoError.experiment("\(describe) has no seeds; add seeds = [1, 2, 3] or --seeds 1-3") }
        guard Set(seeds).count == seeds.count else { throw PromptRepoError.experiment("\(describe) lists a seed twice") }
        guard steps > 0 else { throw PromptRepoError.experiment("\(describe): steps must be positive") }
        var names = Set<String>()
        for cell in cells {
            guard !cell.name.isEmpty, names.insert(cell.name).inserted else {
                throw PromptRepoError.experiment("\(describe) has two cells named '\(cell.name)'; give each cell its own name")
            }
        }
        guard names.contains(baseline) else {
            throw PromptRepoError.experiment("\(describe): baseline '\(baseline)' is not a cell; use one of \(cells.map(\.name).joined(separator: ", "))")
        }
    }

    /// Every combination of `--vary KEY=A,B` values, one cell each, named by its settings.
    public static func cells(varying: [(key: String, values: [String])]) throws -> [ExperimentCell] {
        var cells = [ExperimentCell(name: "", settings: SearchOverrides())]
        for (key, values) in varying {
            guard !values.isEmpty else { throw PromptRepoError.experiment("--vary \(key)= needs at least one value") }
            guard SearchSetting.named(key)?.variesByCell == true else {
                throw PromptRepoError.configValue(
                    file: "--vary", key: key, message: "not a setting a cell can vary; use one of \(SearchSetting.cellNames.joined(separator: ", "))")
            }
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
                throw PromptRepoError.experiment("--seeds: '\(part)' is not a seed or a range like 1-3")
            }
        }
        guard !seeds.isEmpty else { throw PromptRepoError.experiment("--seeds needs at least one seed, e.g. --seeds 1-3") }
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
            throw PromptRepoError.experiment("\(file):\(error.source.begin.line): \(error.localizedDescription); fix the TOML syntax")
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
                for key in cellTable.keys.sorted() where key != "name" {
                    guard let setting = SearchSetting.named(key), setting.variesByCell, let raw = cellReader.take(key) else {
                        throw cellReader.fail(key, "unknown key; a cell can set \(SearchSetting.cellNames.joined(separator: ", "))")
                    }
                    do {
                        settings.set(setting, try setting.value(toml: raw))
                    } catch {
                        throw cellReader.fail(key, error.message)
                    }
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
