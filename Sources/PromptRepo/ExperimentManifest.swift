import Foundation
import GitKit

/// An experiment as recorded under `refs/grad/experiments/<id>`: the grid, the commit every run
/// starts from, and the run id of each cell × seed, so an interrupted experiment resumes without
/// repeating a finished run.
public struct ExperimentManifest: Codable, Sendable, Equatable {
    public var id: String
    public var created: Date
    /// The commit of main every run starts from.
    public var base: String
    public var grid: ExperimentGrid
    public var preset: String?
    /// The task the experiment optimizes (`[tasks.NAME]`); nil for a `[task]` file's one task.
    public var task: String?

    public init(id: String, created: Date = Date(), base: String, grid: ExperimentGrid, preset: String? = nil, task: String? = nil) {
        self.task = task
        self.id = id
        self.created = created
        self.base = base
        self.grid = grid
        self.preset = preset
    }

    public static func reference(_ id: String) -> String { "refs/grad/experiments/\(id)" }

    /// Experiment ids are run ids short enough to be prefixed to their runs' ids.
    public static func validID(_ text: String) throws -> String {
        let id = try RunID(text).value
        guard id.count <= 40 else { throw PromptRepoError.experiment("experiment name '\(id)' is longer than 40 characters") }
        return id
    }

    /// The commit every run starts from.
    public func baseCommit() throws -> ObjectID {
        guard let commit = ObjectID(hex: base) else {
            throw PromptRepoError.damagedRecord("experiment \(id) names no commit as its base ('\(base)'); its manifest is damaged")
        }
        return commit
    }

    /// A new experiment id from the clock: `x` and a run id.
    public static func makeID() -> String { "x" + RunID.make().value }

    /// The run of one cell and seed: `<experiment>-c<cell>-s<seed>`.
    public func runID(cell: Int, seed: Int) -> String { "\(id)-c\(cell + 1)-s\(seed)" }

    /// The branch that run merges into, so main stays untouched.
    public static func trunk(run: String) -> String { "grad/\(run)/main" }

    /// Every (cell, seed) in the order they run: seed by seed, so a stopped experiment has
    /// every cell at its first seeds.
    public var plan: [(cell: Int, seed: Int)] {
        grid.seeds.flatMap { seed in grid.cells.indices.map { (cell: $0, seed: seed) } }
    }
}

/// What one run of an experiment ended with, read from git: its trunk's notes and its manifest.
public struct ExperimentRunResult: Codable, Sendable, Equatable {
    public var cell: String
    public var seed: Int
    public var run: String
    /// `finished`, `unfinished` (interrupted or out of budget) or `not started`.
    public var status: String
    public var seedHoldout: Double?
    public var finalHoldout: Double?
    public var seedTest: Double?
    public var finalTest: Double?
    public var accepted: Int
    public var calls: Int?
    public var tokens: Int?
    public var wallSeconds: Double?
    public var finalCommit: String?
    /// Per-example scores of the final prompt on the compared split, by example id.
    public var examples: [String: Double]
}
