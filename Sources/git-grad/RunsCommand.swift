import ArgumentParser
import Foundation
import Optimizer
import PromptRepo

/// `git grad runs`: the recorded runs, and `runs drop` to remove one.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List the optimization runs: status, steps, accepted steps, start time.",
        subcommands: [List.self, Drop.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the runs, oldest first.")

        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var options: RepositoryOptions

        func run() async throws {
            let repository = try options.open()
            var runs = try RunLedger(repository).runOverviews()
            // `--task` (or a file with one task) keeps that task's runs; several tasks and no --task list them all.
            if options.task != nil || (try? repository.tasks(at: try? repository.mainTip()).entries.count) == 1 {
                let task = try options.taskName(in: repository)
                runs = runs.filter { $0.task == task }
            }
            if json { return try printJSON(runs) }
            guard !runs.isEmpty else { return print("no runs yet; start one with `git grad optimize`") }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
            let t = Terminal.standardOutput
            let withTasks = runs.contains { $0.task != nil }
            let widths = [max(24, runs.map(\.run.count).max() ?? 0), 18, 6, 10, 8, 19] + (withTasks ? [max(4, runs.map { $0.task?.count ?? 0 }.max() ?? 0)] : [])
            func row(_ cells: [String]) -> String {
                zip(cells, widths + [0]).map { cell, width in cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0) }
                    .joined(separator: " ")
            }
            print(row(["run", "status", "steps", "candidates", "accepted", "started"] + (withTasks ? ["task"] : []) + ["merges into"]))
            for run in runs {
                let status = run.status.count > 18 ? String(run.status.prefix(17)) + "…" : run.status
                let line = row([run.run, status, "\(run.stepsRecorded)/\(run.stepsPlanned)", String(run.candidates), String(run.accepted),
                                formatter.string(from: run.started)] + (withTasks ? [run.task ?? "-"] : []) + [run.trunk])
                print(run.status == "unfinished" ? t.paint(line, .yellow) : line)
            }
            if let unfinished = runs.last(where: { $0.status == "unfinished" && $0.trunk == GradRefs.mainBranch }) {
                print("resume: " + OptimizerRun.resumeCommand(run: unfinished.run))
            }
            if runs.contains(where: { $0.status == "unfinished" && $0.trunk != GradRefs.mainBranch }) {
                print("unfinished experiment runs continue with their experiment: `git grad experiment --list`, then --resume NAME")
            }
        }
    }

    struct Drop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "drop", abstract: "Remove a run's manifest and candidate branches (steps merged into main stay there).")

        @Argument(help: "The run id (see `git grad runs`).") var run: String
        @Flag(help: "Also drop a run with steps merged into main (its merges stay; its branches go).") var force = false
        @OptionGroup var options: RepositoryOptions

        func run() async throws {
            let id = try RunID(run)
            let repository = try options.open()
            // Merged steps are read from main's history, not the manifest, which may be the damaged part.
            if !force, case let merged = try RunLedger(repository).mergedSteps(run: run, on: repository.mainTip()), !merged.isEmpty {
                throw CommandFailure(message:
                    "run \(run) has \(merged.count) step(s) merged into main; its branches are how they are inspected. Use --force to drop it anyway")
            }
            let removed = try await RunStore(repository: repository).dropRun(id)
            print("dropped run \(run): \(removed) reference(s) removed")
        }
    }
}
