import Evaluation
import Foundation
import LLM
import PromptRepo

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

/// Runs an experiment's cells × seeds as ordinary runs, each merging into its own trunk, sharing
/// one model runtime (one response cache, one call budget); finished runs are read back, not redone.
public struct ExperimentRunner: Sendable {
    public let store: RunStore
    public let runtime: ModelRuntime
    public let config: GradConfig
    public let metaPrompts: MetaPrompts
    public let emit: @Sendable (ExperimentEvent) -> Void

    public init(store: RunStore, runtime: ModelRuntime, config: GradConfig, metaPrompts: MetaPrompts, emit: @escaping @Sendable (ExperimentEvent) -> Void) {
        self.store = store
        self.runtime = runtime
        self.config = config
        self.metaPrompts = metaPrompts
        self.emit = emit
    }

    /// The split per-example results are compared on.
    public var comparedSplit: String { ExperimentReport.comparedSplit(config) }

    /// Runs what is left of `manifest` (recording it first when it is new) and returns the table.
    /// `stopAfterRuns` stops after that many runs of this process (a test hook standing in for a kill).
    public func run(_ manifest: ExperimentManifest, stopAfterRuns: Int? = nil) async throws -> ExperimentReport {
        try await store.recordExperimentIfNew(manifest)
        let split = comparedSplit
        let base = try manifest.baseCommit()
        let plan = manifest.plan
        var results = try await store.reading { try $0.experimentRunResults(manifest, split: split) }
        let alreadyFinished = results.filter { $0.status == "finished" }.count
        emit(.started(experiment: manifest.id, runs: plan.count, alreadyFinished: alreadyFinished))
        var walls: [Double] = []
        var ranHere = 0
        for (index, entry) in plan.enumerated() where results[index].status != "finished" {
            if let stopAfterRuns, ranHere >= stopAfterRuns { break }
            let cell = manifest.grid.cells[entry.cell]
            let runID = manifest.runID(cell: entry.cell, seed: entry.seed)
            let trunk = ExperimentManifest.trunk(run: runID)
            try await store.createTrunkIfMissing(trunk, at: base)
            let resuming = results[index].status == "unfinished"
            emit(.runStarted(index: index + 1, of: plan.count, cell: cell.name, seed: entry.seed, run: runID, resuming: resuming))
            let optimizer = OptimizerRun(
                store: store, trunk: trunk, runtime: runtime, config: config, metaPrompts: metaPrompts, emit: { emit(.run($0)) })
            let summary: RunSummary
            do {
                summary = try await optimizer.run(Self.request(cell.settings, seed: entry.seed, steps: manifest.grid.steps, run: runID, resume: resuming))
            } catch OptimizerError.modelFailed(_, _, let cause) {
                throw OptimizerError.experimentModelFailed(experiment: manifest.id, run: runID, cause: cause)
            }
            ranHere += 1
            results[index] = try await store.reading { try $0.experimentRunResult(manifest, cell: entry.cell, seed: entry.seed, split: split) }
            // A run returns unfinished only when the shared call budget ran out.
            guard results[index].status == "finished" else {
                let stop = OptimizerError.experimentBudgetSpent(
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
        request.settings = settings
        request.settings.set(.named("steps")!, .integer(steps))
        request.settings.set(.named("seed")!, .integer(seed))
        request.run = run
        request.resume = resume
        return request
    }
}
