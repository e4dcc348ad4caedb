import ArgumentParser
import Evaluation
import Foundation
import LLM
import Optimizer
import PromptRepo

struct ExperimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run a grid of loop settings × seeds as ordinary runs (main untouched) and compare the cells with a paired permutation test.",
        discussion: """
            Cells come from --preset, a --grid file, or --vary KEY=A,B (repeatable; every combination is a \
            cell). Presets: flawed-metaphor (validated, naive, shuffled labels, no feedback), pick (all \
            examples unverified vs errors with regularized verification), naive-vs-validated. Each cell × \
            seed runs like `git grad optimize` but merges into its own branch grad/<run>/main.
            """)

    @Option(help: "A preset grid: flawed-metaphor, pick or naive-vs-validated.") var preset: String?
    @Option(help: "A TOML grid file (seeds, steps, baseline and [[cell]] tables).") var grid: String?
    @Option(help: "KEY=A,B: one cell per value (repeat to combine). Keys: any [search] setting but steps and seed (docs/settings.md lists them).")
    var vary: [String] = []
    @Option(help: "Seeds, e.g. 1-3 or 1,2,5 (default 1-3).") var seeds: String?
    @Option(help: "Steps per run (default 2).") var steps: Int?
    @Option(help: "The cell the others are tested against (default: the first).") var baseline: String?
    @Option(help: "The experiment's name (default: x + a run id).") var name: String?
    @Option(help: "Continue the experiment with this name; finished runs are not repeated.") var resume: String?
    @Option(help: "Stop after this many model calls in all (cache hits are free).") var budget: Int?
    @Flag(help: "List the recorded experiments and stop.") var list = false
    @Flag(help: "Print the table as JSON.") var json = false
    @Option(help: ArgumentHelp(visibility: .private)) var stopAfterRuns: Int?

    @OptionGroup var models: ModelOptions
    @OptionGroup var options: RepositoryOptions

    func validate() throws {
        if let steps, steps <= 0 { throw ValidationError("--steps must be positive") }
        if let budget, budget <= 0 { throw ValidationError("--budget must be positive") }
        let sources = [preset != nil, grid != nil, !vary.isEmpty].filter { $0 }.count
        if resume != nil, sources > 0 || seeds != nil || steps != nil || baseline != nil || name != nil {
            throw ValidationError("--resume continues an experiment with its own settings; give only --resume NAME (and model options, --budget)")
        }
        if sources > 1 { throw ValidationError("use one of --preset, --grid and --vary") }
        if let preset, ExperimentGrid.Preset(rawValue: preset) == nil {
            throw ValidationError("--preset '\(preset)' is not one of \(ExperimentGrid.Preset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    /// The grid the flags describe.
    func makeGrid(root: URL) throws -> ExperimentGrid {
        let seedList = try seeds.map(ExperimentGrid.parseSeeds)
        if let grid {
            let url = URL(fileURLWithPath: grid, relativeTo: root)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw CommandFailure(message: "\(grid): no such grid file")
            }
            var parsed = try ExperimentGrid.parse(String(decoding: data, as: UTF8.self), file: grid)
            if let seedList { parsed.seeds = seedList }
            if let steps { parsed.steps = steps }
            if let baseline { parsed.baseline = baseline }
            return try ExperimentGrid(cells: parsed.cells, seeds: parsed.seeds, steps: parsed.steps, baseline: parsed.baseline)
        }
        if let preset = preset.flatMap(ExperimentGrid.Preset.init(rawValue:)) {
            var made = try preset.grid(seeds: seedList ?? [1, 2, 3], steps: steps ?? 2)
            if let baseline { made = try ExperimentGrid(cells: made.cells, seeds: made.seeds, steps: made.steps, baseline: baseline) }
            return made
        }
        guard !vary.isEmpty else {
            throw CommandFailure(message: "nothing to compare; give --preset naive-vs-validated, --grid FILE or --vary selection=naive,validated")
        }
        let varying = try vary.map { entry -> (key: String, values: [String]) in
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw CommandFailure(message: "--vary '\(entry)': expected KEY=A,B, e.g. --vary selection=naive,validated") }
            return (parts[0], parts[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        return try ExperimentGrid(
            cells: try ExperimentGrid.cells(varying: varying), seeds: seedList ?? [1, 2, 3], steps: steps ?? 2, baseline: baseline)
    }

    func run() async throws {
        let repository = try options.open()
        let ledger = RunLedger(repository)
        if list { return try listExperiments(ledger) }
        let manifest: ExperimentManifest
        if let resume {
            guard let found = try ledger.experiment(try ExperimentManifest.validID(resume)) else {
                throw CommandFailure(message: "no experiment named \(resume); `git grad experiment --list` lists them")
            }
            manifest = found
        } else {
            let id = try name.map(ExperimentManifest.validID) ?? ExperimentManifest.makeID()
            if try ledger.experiment(id) != nil {
                throw CommandFailure(message: "experiment \(id) exists; continue it with `git grad experiment --resume \(id)` or pick another --name")
            }
            manifest = ExperimentManifest(
                id: id, base: try repository.mainTip().hex, grid: try makeGrid(root: repository.root), preset: preset,
                task: try options.taskName(in: repository))
        }
        let base = try manifest.baseCommit()
        // A resumed experiment keeps its task.
        var config = try repository.config(at: base, task: resume != nil ? manifest.task : options.task)
        models.apply(to: &config)
        // A finished experiment's table is read back from git; no model is started.
        if resume != nil, case let report = try ExperimentReport.read(manifest, from: ledger, config: config), report.complete {
            return try show(report, manifest: manifest)
        }
        let metaPrompts = try MetaPrompts.load(config: config, root: repository.root)
        // The store takes over the process's one repository handle.
        let store = RunStore(repository: repository)
        let runtime = try await models.runtime(
            config: config, gitDirectory: store.gitDirectory, budget: CallBudget(maxCalls: budget), quiet: json)
        defer { runtime.shutdown() }
        let progress = ExperimentProgress(enabled: !json)
        let runner = ExperimentRunner(
            store: store, runtime: runtime, config: config, metaPrompts: metaPrompts, emit: { progress.handle($0) })
        let report = try await runner.run(manifest, stopAfterRuns: stopAfterRuns)
        progress.finish()
        try show(report, manifest: manifest)
    }

    func show(_ report: ExperimentReport, manifest: ExperimentManifest) throws {
        if json { return try printJSON(report) }
        print(ExperimentTable.render(report, terminal: .standardOutput))
        if !report.complete {
            print("unfinished: continue with `git grad experiment --resume \(manifest.id)`")
        } else {
            print("next: git grad report --experiment \(manifest.id) -o \(manifest.id).html   (charts of every cell and run)")
        }
    }
}

extension ExperimentCommand {
    func listExperiments(_ ledger: RunLedger) throws {
        let experiments = try ledger.experiments()
        let overviews = try experiments.map { experiment in
            (experiment, try ledger.experimentRunResults(experiment, split: "test").filter { $0.status == "finished" }.count)
        }
        if json {
            struct Entry: Encodable { let experiment: ExperimentManifest; let runsFinished: Int; let runsPlanned: Int }
            return try printJSON(overviews.map { Entry(experiment: $0.0, runsFinished: $0.1, runsPlanned: $0.0.plan.count) })
        }
        guard !overviews.isEmpty else { return print("no experiments yet; start one with `git grad experiment --preset naive-vs-validated`") }
        for (experiment, finished) in overviews {
            let cells = experiment.grid.cells.map(\.name).joined(separator: ", ")
            print("\(experiment.id)  \(finished)/\(experiment.plan.count) runs  seeds \(experiment.grid.seeds.map(String.init).joined(separator: ","))  steps \(experiment.grid.steps)  cells: \(cells)")
        }
    }
}

/// The experiment's progress on a terminal: a status line (runs done, calls, time left) and one
/// line per finished run; nothing when stderr is piped.
final class ExperimentProgress: @unchecked Sendable {
    let enabled: Bool
    private let lock = NSLock()
    private var current = ""
    private var done = 0
    private var total = 0
    private var secondsLeft: Double?
    private var calls = 0
    private var phase = ""

    init(enabled: Bool) { self.enabled = enabled && isatty(STDERR_FILENO) != 0 }

    func handle(_ event: ExperimentEvent) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        switch event {
        case .started(let experiment, let runs, let finished):
            total = runs
            done = finished
            line("experiment \(experiment): \(runs) runs, \(finished) already finished")
        case .runStarted(let index, let of, let cell, let seed, _, let resuming):
            current = "run \(index)/\(of) \(cell) seed \(seed)\(resuming ? " (resuming)" : "")"
            phase = ""
            draw()
        case .run(let event):
            switch event {
            case .progress(let name, let done, let total, _, _): phase = "\(name) \(done)/\(total)"
            case .stepStarted(let step, let of): phase = "step \(step)/\(of)"
            default: return
            }
            draw()
        case .runFinished(let result, let done, let of, let calls, let secondsLeft):
            self.calls = calls
            self.done = done
            self.total = of
            self.secondsLeft = secondsLeft
            let test = result.finalTest.map { String(format: ", test %.3f", $0) } ?? ""
            line(String(format: "  done %d/%d: %@ seed %d: holdout %.3f%@, %d accepted, %d calls, %.0fs",
                        done, of, result.cell, result.seed, result.finalHoldout ?? 0, test, result.accepted, result.calls ?? 0,
                        result.wallSeconds ?? 0))
        case .stopped(let reason):
            line("stopped: \(reason)")
        }
    }

    func finish() {
        guard enabled else { return }
        writeStandardError("\r\u{1B}[2K")
    }

    private func line(_ text: String) {
        writeStandardError("\r\u{1B}[2K" + terminalText(text) + "\n")
        draw()
    }

    private func draw() {
        guard !current.isEmpty else { return }
        var status = "\(current) · \(done)/\(total) done · \(calls) calls"
        if !phase.isEmpty { status += " · \(phase)" }
        if let secondsLeft, secondsLeft > 0 { status += " · about \(Int(secondsLeft / 60))m\(Int(secondsLeft) % 60)s left" }
        writeStandardError("\r\u{1B}[2K" + terminalText(status))
    }
}

/// The per-cell table of an experiment.
enum ExperimentTable {
    static func render(_ report: ExperimentReport, terminal t: Terminal) -> String {
        var lines = [t.paint("experiment \(report.experiment)", .bold)
            + "  (base \(report.base.prefix(7)); compared on \(report.comparedSplit) against \(report.baseline))"]
        let header = [
            "cell", "runs", "holdout mean ± σ [min–max]", "test mean ± σ [min–max]", "Δ vs base over seeds [95% CI]", "p seeds",
            "p seeds (Bonf.)", "p pooled", "calls", "tokens", "wall", "accepted",
        ]
        var rows: [[String]] = []
        for cell in report.cells {
            func spread(_ s: Spread?) -> String {
                guard let s else { return "–" }
                return String(format: "%.3f ± %.3f [%.3f–%.3f]", s.mean, s.standardDeviation, s.min, s.max)
            }
            let comparison = cell.comparison
            rows.append([
                cell.cell, "\(cell.runsFinished)/\(cell.runsPlanned)", spread(cell.holdout), spread(cell.test),
                comparison.map(\.seedDifferenceText) ?? (cell.cell == report.baseline ? "baseline" : "–"),
                comparison?.seedPValue.map(formatP) ?? "–", comparison?.seedAdjustedPValue.map(formatP) ?? "–",
                comparison.map { formatP($0.pValue) } ?? "–",
                cell.calls.map { String(format: "%.0f", $0) } ?? "–", cell.tokens.map { String(format: "%.0f", $0) } ?? "–",
                cell.wallSeconds.map { String(format: "%.0fs", $0) } ?? "–", String(cell.accepted),
            ])
        }
        let widths = header.indices.map { column in ([header[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0 }
        func row(_ cells: [String]) -> String {
            cells.enumerated().map { $1 + String(repeating: " ", count: widths[$0] - $1.count) }.joined(separator: "  ")
        }
        lines.append(row(header))
        lines += rows.map(row)
        lines.append("calls, tokens and wall are means per run; accepted counts steps merged over all seeds.")
        lines.append("Δ and 'p seeds' treat each seed's run as one observation (sign-flip test over seeds, Bonferroni over cells); "
            + "'p pooled' pools every (seed, example) pair and ignores run-to-run variance, so it is too small when runs vary.")
        for cell in report.cells { lines.append("  \(cell.cell): \(cell.settings)") }
        let seedHoldout = report.runs.compactMap(\.seedHoldout).first
        let seedTest = report.runs.compactMap(\.seedTest).first
        if let seedHoldout {
            lines.append(String(format: "seed prompt: holdout %.3f", seedHoldout) + (seedTest.map { String(format: ", test %.3f", $0) } ?? ""))
        }
        return lines.joined(separator: "\n")
    }

    static func formatP(_ p: Double) -> String { p < 0.001 ? "<0.001" : String(format: "%.3f", p) }
}
