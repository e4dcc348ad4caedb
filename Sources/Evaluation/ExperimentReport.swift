import Foundation
import PromptRepo

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
    /// The split per-example results are compared on: test, or holdout when there is no test file.
    public static func comparedSplit(_ config: GradConfig) -> String { config.task.test == nil ? "holdout" : "test" }

    /// The table of a recorded experiment as git holds it now, read without a model (finished
    /// runs only are counted; `complete` says whether any is left).
    public static func read(_ manifest: ExperimentManifest, from ledger: RunLedger, config: GradConfig) throws -> ExperimentReport {
        let split = comparedSplit(config)
        return make(manifest: manifest, runs: try ledger.experimentRunResults(manifest, split: split), comparedSplit: split)
    }
}
