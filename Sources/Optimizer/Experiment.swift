import Evaluation
import Foundation
import LLM
import PromptRepo

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

    public init(id: String, created: Date = Date(), base: String, grid: ExperimentGrid, preset: String? = nil) {
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
        guard id.count <= 40 else { throw PromptRepoError.format("experiment name '\(id)' is longer than 40 characters") }
        return id
    }

    /// The commit every run starts from.
    public func baseCommit() throws -> ObjectID {
        guard let commit = ObjectID(hex: base) else {
            throw PromptRepoError.format("experiment \(id) names no commit as its base ('\(base)'); its manifest is damaged")
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

/// One cell's figures across its seeds, and its comparison with the baseline cell.
public struct CellReport: Codable, Sendable, Equatable {
    public var cell: String
    public var settings: String
    public var runsFinished: Int
    public var runsPlanned: Int
    public var holdout: Spread?
    public var test: Spread?
    /// Means per finished run.
    public var calls: Double?
    public var tokens: Double?
    public var wallSeconds: Double?
    /// Accepted steps, summed over the cell's finished runs.
    public var accepted: Int
    public var comparison: Comparison?

    /// This cell against the baseline. The unit of replication is the seed: each seed's run is
    /// paired with the baseline's run of the same seed, and their final scores' difference is one
    /// observation (mean, t interval over seeds, exact sign-flip test over seeds). The pooled test
    /// over (seed, example) pairs is kept, labelled for what it is: it treats examples of one run
    /// as independent, ignoring run-to-run variance, so its p is too small when runs vary.
    public struct Comparison: Codable, Sendable, Equatable {
        public var baseline: String
        /// Mean of (this cell - baseline) over the paired examples.
        public var meanDifference: Double
        /// Paired (seed, example) results compared.
        public var pairs: Int
        /// The pooled per-example paired permutation test (ignores run-to-run variance).
        public var pValue: Double
        /// Bonferroni-corrected across the cells compared with the baseline.
        public var adjustedPValue: Double
        /// Per seed: this cell's final score minus the baseline's, on the compared split.
        public var seedDifferences: [Double]?
        /// The mean of `seedDifferences` with its 95 % t interval (nil below two seeds).
        public var seedInterval: MeanInterval?
        /// The two-sided exact sign-flip test over seeds, and its Bonferroni correction.
        public var seedPValue: Double?
        public var seedAdjustedPValue: Double?

        /// `+0.052 [-0.010, +0.114]` over seeds, `+0.052 (1 seed)`, or the pooled mean when no
        /// seed is paired: what the experiment table and the report print.
        public var seedDifferenceText: String {
            guard let differences = seedDifferences, !differences.isEmpty else { return String(format: "%+.3f", meanDifference) }
            guard let interval = seedInterval else { return String(format: "%+.3f (1 seed)", differences.reduce(0, +) / Double(differences.count)) }
            return String(format: "%+.3f [%+.3f, %+.3f]", interval.mean, interval.low, interval.high)
        }
    }
}

/// An experiment's table: per-cell figures and every run's result.
public struct ExperimentReport: Codable, Sendable, Equatable {
    public var experiment: String
    public var base: String
    /// The split the per-example comparison uses: `test`, or `holdout` when there is no test file.
    public var comparedSplit: String
    public var baseline: String
    public var cells: [CellReport]
    public var runs: [ExperimentRunResult]
    public var complete: Bool

    /// Builds the table from run results; `comparedSplit` picks the figures the test uses.
    public static func make(manifest: ExperimentManifest, runs: [ExperimentRunResult], comparedSplit: String) -> ExperimentReport {
        let grid = manifest.grid
        let finished = runs.filter { $0.status == "finished" }
        let comparisons = grid.cells.count - 1
        let baselineRuns = Dictionary(finished.filter { $0.cell == grid.baseline }.map { ($0.seed, $0) }, uniquingKeysWith: { a, _ in a })
        let cells = grid.cells.map { cell -> CellReport in
            let mine = finished.filter { $0.cell == cell.name }
            func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
            var report = CellReport(
                cell: cell.name, settings: cell.settings.summary, runsFinished: mine.count, runsPlanned: grid.seeds.count,
                holdout: Spread(mine.compactMap(\.finalHoldout)), test: Spread(mine.compactMap(\.finalTest)),
                calls: mean(mine.compactMap { $0.calls.map(Double.init) }), tokens: mean(mine.compactMap { $0.tokens.map(Double.init) }),
                wallSeconds: mean(mine.compactMap(\.wallSeconds)), accepted: mine.map(\.accepted).reduce(0, +), comparison: nil)
            if cell.name != grid.baseline {
                var differences: [Double] = []
                for run in mine {
                    guard let base = baselineRuns[run.seed] else { continue }
                    for (id, score) in run.examples.sorted(by: { $0.key < $1.key }) {
                        if let other = base.examples[id] { differences.append(score - other) }
                    }
                }
                if !differences.isEmpty {
                    let p = PairedPermutationTest().pValue(differences: differences)
                    // Both runs' final score on the compared split, never a holdout score against a test one.
                    let final: (ExperimentRunResult) -> Double? = { comparedSplit == "test" ? $0.finalTest : $0.finalHoldout }
                    let seedDifferences = mine.sorted { $0.seed < $1.seed }.compactMap { run -> Double? in
                        guard let mine = final(run), let base = baselineRuns[run.seed].flatMap(final) else { return nil }
                        return mine - base
                    }
                    let seedP = seedDifferences.isEmpty ? nil : PairedPermutationTest().pValue(differences: seedDifferences)
                    report.comparison = .init(
                        baseline: grid.baseline, meanDifference: differences.reduce(0, +) / Double(differences.count),
                        pairs: differences.count, pValue: p, adjustedPValue: PairedPermutationTest.bonferroni(p, comparisons: comparisons),
                        seedDifferences: seedDifferences, seedInterval: MeanInterval(seedDifferences), seedPValue: seedP,
                        seedAdjustedPValue: seedP.map { PairedPermutationTest.bonferroni($0, comparisons: comparisons) })
                }
            }
            return report
        }
        return ExperimentReport(
            experiment: manifest.id, base: manifest.base, comparedSplit: comparedSplit, baseline: grid.baseline, cells: cells, runs: runs,
            complete: finished.count == manifest.plan.count)
    }
}

extension ExperimentReport {
    /// The table of a recorded experiment as git holds it now, read without a model (finished
    /// runs only are counted; `complete` says whether any is left).
    public static func read(_ manifest: ExperimentManifest, directory: URL, config: GradConfig) async throws -> ExperimentReport {
        let split = ExperimentRunner.comparedSplit(config)
        let results = try await GitRecorder(directory: directory).experimentRunResults(manifest, split: split)
        return make(manifest: manifest, runs: results, comparedSplit: split)
    }
}

/// What an experiment reports while it works.
public enum ExperimentEvent: Sendable {
    case started(experiment: String, runs: Int, alreadyFinished: Int)
    case runStarted(index: Int, of: Int, cell: String, seed: Int, run: String, resuming: Bool)
    /// An event of the run in progress (progress bars, messages).
    case run(OptimizerEvent)
    /// `secondsLeft`: the mean wall time of the runs done in this process × the runs left.
    case runFinished(ExperimentRunResult, done: Int, of: Int, calls: Int, secondsLeft: Double?)
    case stopped(reason: String)
}

/// Why an experiment stopped before its last run.
public enum ExperimentStop: Error, Sendable, CustomStringConvertible {
    case budgetSpent(experiment: String, run: String, done: Int, of: Int)
    /// A model call failed for good in one run; what was recorded stays.
    case modelFailed(experiment: String, run: String, cause: LLMError)

    public var description: String { description(describingCause: \.description) }

    /// The message with the model's error worded by `describe` (the command line adds where it is fixed).
    public func description(describingCause describe: (LLMError) -> String) -> String {
        switch self {
        case .budgetSpent(let experiment, let run, let done, let of):
            return "the call budget (--budget) ran out in run \(run); \(done) of \(of) runs finished; continue with `git grad experiment --resume \(experiment)` and a larger --budget"
        case .modelFailed(let experiment, let run, let cause):
            return "\(describe(cause)) (run \(run)); the runs recorded so far are kept: continue with `git grad experiment --resume \(experiment)`"
        }
    }
}

/// Runs an experiment's cells × seeds as ordinary runs, each merging into its own trunk, sharing
/// one model runtime (one response cache, one call budget); finished runs are read back, not redone.
public struct ExperimentRunner: Sendable {
    public let directory: URL
    public let runtime: ModelRuntime
    public let config: GradConfig
    public let metaPrompts: MetaPrompts
    public let emit: @Sendable (ExperimentEvent) -> Void

    public init(directory: URL, runtime: ModelRuntime, config: GradConfig, metaPrompts: MetaPrompts, emit: @escaping @Sendable (ExperimentEvent) -> Void) {
        self.directory = directory
        self.runtime = runtime
        self.config = config
        self.metaPrompts = metaPrompts
        self.emit = emit
    }

    /// The split per-example results are compared on.
    public var comparedSplit: String { Self.comparedSplit(config) }

    static func comparedSplit(_ config: GradConfig) -> String { config.task.test == nil ? "holdout" : "test" }

    /// Runs what is left of `manifest` (recording it first when it is new) and returns the table.
    /// `stopAfterRuns` stops after that many runs of this process (a test hook standing in for a kill).
    public func run(_ manifest: ExperimentManifest, stopAfterRuns: Int? = nil) async throws -> ExperimentReport {
        let recorder = try GitRecorder(directory: directory)
        try await recorder.recordExperimentIfNew(manifest)
        let base = try manifest.baseCommit()
        let plan = manifest.plan
        var results = try await recorder.experimentRunResults(manifest, split: comparedSplit)
        let alreadyFinished = results.filter { $0.status == "finished" }.count
        emit(.started(experiment: manifest.id, runs: plan.count, alreadyFinished: alreadyFinished))
        var walls: [Double] = []
        var ranHere = 0
        for (index, entry) in plan.enumerated() where results[index].status != "finished" {
            if let stopAfterRuns, ranHere >= stopAfterRuns { break }
            let cell = manifest.grid.cells[entry.cell]
            let runID = manifest.runID(cell: entry.cell, seed: entry.seed)
            let runRecorder = try GitRecorder(directory: directory, trunk: ExperimentManifest.trunk(run: runID))
            try await runRecorder.createTrunkIfMissing(at: base)
            let resuming = results[index].status == "unfinished"
            emit(.runStarted(index: index + 1, of: plan.count, cell: cell.name, seed: entry.seed, run: runID, resuming: resuming))
            let optimizer = OptimizerRun(
                recorder: runRecorder, runtime: runtime, config: config, metaPrompts: metaPrompts, emit: { emit(.run($0)) })
            let summary: RunSummary
            do {
                summary = try await optimizer.run(Self.request(cell.settings, seed: entry.seed, steps: manifest.grid.steps, run: runID, resume: resuming))
            } catch RunFailure.modelFailed(_, _, let cause) {
                throw ExperimentStop.modelFailed(experiment: manifest.id, run: runID, cause: cause)
            }
            ranHere += 1
            results[index] = try await recorder.experimentRunResult(manifest, cell: entry.cell, seed: entry.seed, split: comparedSplit)
            // A run returns unfinished only when the shared call budget ran out.
            guard results[index].status == "finished" else {
                let stop = ExperimentStop.budgetSpent(
                    experiment: manifest.id, run: runID, done: results.filter { $0.status == "finished" }.count, of: plan.count)
                emit(.stopped(reason: stop.description))
                throw stop
            }
            walls.append(summary.wallSeconds)
            let left = results.filter { $0.status != "finished" }.count
            let meanWall = walls.reduce(0, +) / Double(walls.count)
            emit(.runFinished(
                results[index], done: plan.count - left, of: plan.count, calls: await runtime.accounting.totals.calls,
                secondsLeft: left == 0 ? 0 : meanWall * Double(left)))
        }
        return ExperimentReport.make(manifest: manifest, runs: results, comparedSplit: comparedSplit)
    }

    /// The request of one cell and seed.
    static func request(_ settings: SearchOverrides, seed: Int, steps: Int, run: String, resume: Bool) -> OptimizeRequest {
        var request = OptimizeRequest()
        request.steps = steps
        request.seed = seed
        request.settings = settings
        request.run = run
        request.resume = resume
        return request
    }
}

extension GitRecorder {
    /// Records an experiment's manifest unless one with its id exists; a different experiment
    /// under the same name is refused.
    public func recordExperimentIfNew(_ manifest: ExperimentManifest) throws {
        let reference = ExperimentManifest.reference(manifest.id)
        if let existing = try experiment(manifest.id) {
            guard existing.grid == manifest.grid, existing.base == manifest.base else {
                throw PromptRepoError.format("experiment \(manifest.id) exists with other settings; resume it with `git grad experiment --resume \(manifest.id)` or pick another --name")
            }
            return
        }
        try ManifestStore(repository).write(
            try RunManifest.encoder.encode(manifest), to: reference, replacing: nil, message: "git-grad: experiment \(manifest.id)")
    }

    /// The experiment named `id`, nil when there is none.
    public func experiment(_ id: String) throws -> ExperimentManifest? {
        do {
            guard let stored = try ManifestStore(repository).read(ExperimentManifest.reference(id)) else { return nil }
            return try RunManifest.decoder.decode(ExperimentManifest.self, from: stored.data)
        } catch {
            throw PromptRepoError.format(
                "the manifest of experiment \(id) (\(ExperimentManifest.reference(id))) cannot be read; remove it with `git update-ref -d \(ExperimentManifest.reference(id))`")
        }
    }

    /// Every recorded experiment, oldest first.
    public func experiments() throws -> [ExperimentManifest] {
        try store.names(under: "refs/grad/experiments/").compactMap { try experiment($0) }.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
    }

    /// Every run's result, in the experiment's plan order.
    public func experimentRunResults(_ experiment: ExperimentManifest, split: String) throws -> [ExperimentRunResult] {
        try experiment.plan.map { try experimentRunResult(experiment, cell: $0.cell, seed: $0.seed, split: split) }
    }

    /// One run's result as git holds it: status from its manifest, scores from the notes on the
    /// experiment's base and on the run's trunk tip.
    public func experimentRunResult(_ experiment: ExperimentManifest, cell: Int, seed: Int, split: String) throws -> ExperimentRunResult {
        let run = experiment.runID(cell: cell, seed: seed)
        var result = ExperimentRunResult(
            cell: experiment.grid.cells[cell].name, seed: seed, run: run, status: "not started", accepted: 0, examples: [:])
        guard let manifest = try runManifest(run) else { return result }
        result.status = manifest.status
        result.calls = manifest.usage?.calls
        result.tokens = manifest.usage?.tokens
        result.wallSeconds = manifest.wallSeconds
        let base = try experiment.baseCommit()
        let baseNote = try repository.evaluationNote(base)
        result.seedHoldout = baseNote?.split("holdout")?.score
        result.seedTest = baseNote?.split("test")?.score
        guard let tip = try repository.branchTip(ExperimentManifest.trunk(run: run)) else { return result }
        result.finalCommit = tip.hex
        result.accepted = try mergedStepsByRun(on: tip)[run]?.count ?? 0
        let note = try repository.evaluationNote(tip)
        result.finalHoldout = note?.split("holdout")?.score
        result.finalTest = note?.split("test")?.score
        if let compared = note?.split(split), compared.complete {
            result.examples = Dictionary(compared.examples.map { ($0.id, $0.score) }, uniquingKeysWith: { first, _ in first })
        }
        return result
    }
}
