import Foundation
import GitKit

/// What `git grad runs` lists about one run.
public struct RunOverview: Sendable, Encodable {
    public var run: String
    public var started: Date
    /// `unfinished` (resumable), `finished`, or `stopped: <why>`.
    public var status: String
    /// Steps with at least one candidate, of the steps planned.
    public var stepsRecorded: Int
    public var stepsPlanned: Int
    public var candidates: Int
    /// Steps of the run merged into its trunk.
    public var accepted: Int
    /// The branch the run merges into: main, or an experiment run's own branch.
    public var trunk: String
    /// The task the run optimizes (`[tasks.NAME]`); nil for a `[task]` file's one task.
    public var task: String?
}

extension RunLedger {
    /// The recorded runs with their status and counts, oldest first.
    public func runOverviews() throws -> [RunOverview] {
        let manifests = try manifests()
        let branchesByRun = Dictionary(grouping: try candidateBranches().map(\.branch), by: \.run.value)
        let mergedOnMain = try mergesByRun(on: repository.mainTip())
        return try manifests.map { manifest in
            let branches = branchesByRun[manifest.run] ?? []
            var accepted = mergedOnMain[manifest.run]?.count ?? 0
            if let trunk = manifest.trunk, let tip = try repository.branchTip(trunk) {
                accepted = try mergedSteps(run: manifest.run, on: tip).count
            }
            return RunOverview(
                run: manifest.run, started: manifest.started, status: manifest.status,
                stepsRecorded: Set(branches.map(\.step)).count, stepsPlanned: manifest.search.steps, candidates: branches.count,
                accepted: accepted, trunk: manifest.trunkBranch, task: manifest.task)
        }
    }

    // MARK: Experiments

    /// The experiment named `id`, nil when there is none.
    public func experiment(_ id: String) throws -> ExperimentManifest? {
        let reference = ExperimentManifest.reference(id)
        return try storedManifest(
            ExperimentManifest.self, at: reference, what: "experiment \(id)", fix: "remove it with `git update-ref -d \(reference)`")?.manifest
    }

    /// Every recorded experiment, oldest first.
    public func experiments() throws -> [ExperimentManifest] {
        try names(under: "refs/grad/experiments/").compactMap { try experiment($0) }.sorted { ($0.created, $0.id) < ($1.created, $1.id) }
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
        let baseNote = try repository.evaluationNote(try experiment.baseCommit(), task: manifest.task)
        result.seedHoldout = baseNote?.split("holdout")?.score
        result.seedTest = baseNote?.split("test")?.score
        guard let tip = try repository.branchTip(ExperimentManifest.trunk(run: run)) else { return result }
        result.finalCommit = tip.hex
        result.accepted = try mergedSteps(run: run, on: tip).count
        let note = try repository.evaluationNote(tip, task: manifest.task)
        result.finalHoldout = note?.split("holdout")?.score
        result.finalTest = note?.split("test")?.score
        if let compared = note?.split(split), compared.complete {
            result.examples = Dictionary(compared.examples.map { ($0.id, $0.score) }, uniquingKeysWith: { first, _ in first })
        }
        return result
    }
}
