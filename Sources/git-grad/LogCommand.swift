import ArgumentParser
import Foundation
import PromptRepo
import Optimizer
import Evaluation
import LLM

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Show the gradient history: steps, verdicts, score changes and gradients.")

    @Argument(help: "Revision to start from (default: main), or a task's prompt path to show that prompt's steps only.")
    var revision: String = "main"

    @Option(name: .customLong("run"), help: "Only this run.")
    var runID: String?

    @Flag(help: "Also show runs whose candidates never reached this history.")
    var all = false

    @Flag(help: "Print JSON.")
    var json = false

    @Option(name: [.customShort("n"), .long], help: "Show at most this many entries.")
    var maxCount: Int?

    @OptionGroup var options: RepositoryOptions

    func run() throws {
        let repository = try options.open()
        // The history reads without grad.toml; only a task asked for needs it to read.
        let tasks = try? repository.tasks(at: try? repository.mainTip())
        // A prompt path names its task; the history then starts at main.
        let pathTask = tasks?.entries.first { GradTasks.normalized($0.prompt) == GradTasks.normalized(revision) }
        let start = try options.resolve(pathTask == nil ? revision : "main", in: repository)
        var filter: TaskHistoryFilter?
        if options.task != nil || pathTask != nil, case let tasks = try repository.tasks(at: try? repository.mainTip()), tasks.entries.count > 1 {
            let task = try tasks.select(options.task ?? pathTask?.prompt)
            let runs = try RunLedger(repository).manifests().filter { $0.task == task.name }.map(\.run)
            filter = TaskHistoryFilter(name: task.name, promptPath: task.prompt, runs: Set(runs))
        }
        let entries = try HistoryReader(repository).entries(from: start, run: runID, includeAllRuns: all, limit: maxCount, task: filter)
        if json { return try printJSON(entries) }
        let terminal = Terminal.standardOutput
        for entry in entries { print(render(entry, terminal)) }
        if entries.contains(where: { $0.kind == .accepted }) {
            let judged = try HistoryReader(repository).candidateCount()
            print(terminal.paint(
                "holdout: \(judged) candidates judged on it across runs; an accepted step's holdout score was selected on it and reads high. "
                    + "Test scores (git grad eval --split test) are the unbiased figures.", .dim))
        }
    }

    func render(_ entry: HistoryEntry, _ t: Terminal) -> String {
        let short = String(entry.commit.prefix(7))
        var lines: [String] = []
        let stepLabel = entry.step.map { "step \($0)" } ?? ""
        switch entry.kind {
        case .accepted:
            var head = "\(t.paint(short, .yellow)) \(t.paint("✔ \(stepLabel) accepted", .green))"
            if let variant = entry.variant { head += " v\(variant)" }
            if let op = entry.trailers[TrailerKey.operatorName] { head += " by \(op)" }
            if let run = entry.run { head += t.paint("  run \(run)", .dim) }
            if let task = entry.trailers[TrailerKey.task] { head += t.paint("  task \(task)", .dim) }
            lines.append(head)
            var scores: [String] = []
            if let holdout = entry.scoreHoldout { scores.append("holdout \(holdout)") }
            if let train = entry.scoreTrain { scores.append("train \(train)") }
            if !scores.isEmpty { lines.append("    " + scores.joined(separator: "   ")) }
            if let test = Significance.recordedText({ entry.trailers[$0] }) {
                let flips = [entry.trailers[TrailerKey.improvements].map { "+\($0)" }, entry.trailers[TrailerKey.regressions].map { "-\($0)" }]
                    .compactMap { $0 }.joined(separator: "/")
                lines.append("    \(test)  \(flips) holdout examples fixed/broken")
            }
        case .noCandidatePassed:
            lines.append("\(t.paint(short, .yellow)) \(t.paint("✘ \(stepLabel) \(entry.subject)", .red))"
                + t.paint("  run \(entry.run ?? "?")", .dim))
        case .seed:
            lines.append("\(t.paint(short, .yellow)) \(t.paint("● seed", .blue)) \(entry.subject)")
        case .revert:
            lines.append("\(t.paint(short, .yellow)) \(t.paint("↺ revert", .magenta)) \(entry.subject)")
        case .commit:
            lines.append("\(t.paint(short, .yellow)) \(entry.subject)")
        }
        if entry.kind == .accepted || entry.kind == .commit, entry.kind != .commit || !entry.gradient.isEmpty {
            lines.append("    " + t.paint(entry.subject, .bold))
        }
        let gradient = entry.gradient.trimmingBlankEdges
        if !gradient.isEmpty, entry.kind != .seed, entry.kind != .revert {
            lines.append(indent(gradient, by: "    │ "))
        }
        for candidate in entry.candidates {
            let verdict = candidate.verdict ?? "pending"
            let mark = candidate.isAccepted ? t.paint("✔", .green) : (candidate.verdict == nil ? t.paint("…", .yellow) : t.paint("✘", .red))
            var line = "    \(mark) v\(candidate.variant)" + (candidate.operatorName.map { " [\($0)]" } ?? "") + " \(candidate.branch)  \(verdict)"
            if let holdout = candidate.scoreHoldout { line += "  holdout \(holdout)" }
            lines.append(line)
            if !candidate.isAccepted { lines.append(t.paint("        \(candidate.subject)", .dim)) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
