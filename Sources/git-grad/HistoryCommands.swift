import ArgumentParser
import Foundation
import PromptRepo
import Optimizer
import Evaluation
import LLM

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init", abstract: "Create a prompt repository with a first commit on main (Grad-Step: 0).")

    @Argument(help: "Directory to create (default: the current directory).")
    var directory: String?

    @Option(help: "Copy this prompt repository template (e.g. sample-repo) instead of the minimal example.")
    var from: String?

    @OptionGroup var options: RepositoryOptions

    func run() throws {
        let base = options.url
        let target = directory.map { URL(fileURLWithPath: $0, relativeTo: base).standardizedFileURL } ?? base
        let template = from.map { URL(fileURLWithPath: $0, relativeTo: base).standardizedFileURL }
        let repository = try PromptRepository.initialize(at: target, template: template)
        let tip = try repository.mainTip()
        print("Initialized prompt repository in \(target.path) (main at \(tip.short))")
    }
}

struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Show the gradient history: steps, verdicts, score changes and gradients.")

    @Argument(help: "Revision to start from (default: main).")
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
        let start = try options.resolve(revision, in: repository)
        let entries = try HistoryReader(repository).entries(from: start, run: runID, includeAllRuns: all, limit: maxCount)
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

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show one step: prompt, gradient, scores and verdict.")

    @Argument(help: "The step's commit or branch.")
    var revision: String

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var options: RepositoryOptions

    struct Output: Encodable {
        let commit: String
        let subject: String
        let gradient: String
        let trailers: [String: String]
        let promptPath: String
        let prompt: String
        let evaluation: EvaluationNote?
    }

    func run() throws {
        let repository = try options.open()
        let id = try options.resolve(revision, in: repository)
        let config = try repository.config(at: id)
        let message = try repository.stepMessage(id)
        let prompt = (try? repository.promptText(config.task.prompt, at: id)) ?? ""
        let note = try repository.evaluationNote(id)
        let output = Output(
            commit: id.hex, subject: message.subject, gradient: message.body,
            trailers: Dictionary(message.trailers.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }),
            promptPath: config.task.prompt, prompt: prompt, evaluation: note)
        if json { return try printJSON(output) }
        let t = Terminal.standardOutput
        print("\(t.paint("commit \(id.hex)", .yellow))")
        print(t.paint(message.subject, .bold))
        for trailer in message.trailers { print("\(t.paint(trailer.key + ":", .cyan)) \(trailer.value)") }
        if !message.body.isEmpty {
            print("\n" + t.paint("Gradient", .bold))
            print(indent(message.body))
        }
        print("\n" + t.paint("Prompt (\(config.task.prompt))", .bold))
        print(indent(prompt))
        if let note {
            print(t.paint("Evaluation", .bold))
            for split in note.splits {
                let partial = split.complete ? "" : " (stopped early)"
                print("    \(split.split): \(String(format: "%.3f", split.score)) (\(split.correct)/\(split.total))\(partial)")
            }
            if let verdict = note.verdict { print("    verdict: \(verdict)") }
        }
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "Diff the prompt between two versions, with their scores and the examples that flipped.")

    @Argument(help: "The older version.")
    var a: String

    @Argument(help: "The newer version (default: main).")
    var b: String = "main"

    @Flag(help: "Show changed words inline instead of changed lines.")
    var wordDiff = false

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var options: RepositoryOptions

    func run() throws {
        let repository = try options.open()
        let idA = try options.resolve(a, in: repository)
        let idB = try options.resolve(b, in: repository)
        let config = try repository.config(at: idB)
        let comparison = try repository.compare(idA, idB, config: config)
        if json { return try printJSON(comparison) }
        let t = Terminal.standardOutput
        if wordDiff {
            print(t.paint("prompt \(comparison.promptPath): \(idA.short)..\(idB.short)", .bold))
            print(WordDiff.pieces(old: comparison.oldText, new: comparison.newText).map { piece -> String in
                switch piece {
                case .same(let text): return text
                case .removed(let text): return t.colored ? t.paint(text, .red) : "[-\(text)-]"
                case .added(let text): return t.colored ? t.paint(text, .green) : "{+\(text)+}"
                }
            }.joined())
        } else if comparison.patch.isEmpty {
            print("prompt \(comparison.promptPath) is the same in \(idA.short) and \(idB.short)")
        } else {
            print(t.patch(comparison.patch), terminator: comparison.patch.hasSuffix("\n") ? "" : "\n")
        }
        print("")
        print(t.paint("Scores", .bold))
        for key in Set(comparison.trailerScoresA.keys).union(comparison.trailerScoresB.keys).sorted() {
            let a = comparison.trailerScoresA[key] ?? "-", b = comparison.trailerScoresB[key] ?? "-"
            print("    \(key) trailer:  \(idA.short) \(a)  |  \(idB.short) \(b)")
        }
        if comparison.splits.isEmpty {
            print("    no evaluation notes on both versions; run `git grad eval` on each to compare examples")
        }
        for split in comparison.splits {
            print(String(format: "    %@: %.3f -> %.3f  (%d right->wrong, %d wrong->right)",
                         split.split, split.scoreA, split.scoreB, split.regressions.count, split.improvements.count))
            for flip in split.regressions {
                print(t.paint("      - \(flip.id): expected \(flip.expected), was \(oneLine(flip.before)), now \(oneLine(flip.after))", .red))
            }
            for flip in split.improvements {
                print(t.paint("      + \(flip.id): expected \(flip.expected), was \(oneLine(flip.before)), now \(oneLine(flip.after))", .green))
            }
        }
    }

    func oneLine(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return line.count > 60 ? String(line.prefix(59)) + "…" : line
    }
}

struct RevertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revert",
        abstract: "Undo a step on main with a revert commit (Reverts: <sha>); --regression finds the step with bisect first.")

    @Argument(help: "The commit on main to revert (a merge is reverted against its first parent).")
    var revision: String?

    @Flag(help: "Revert the step that `git grad bisect` finds (adds Restores-Score: <split> <score>).")
    var regression = false

    @OptionGroup var bisect: BisectOptions
    @OptionGroup var models: ModelOptions
    @OptionGroup var options: RepositoryOptions

    func validate() throws {
        guard (revision == nil) == regression else {
            throw ValidationError(regression ? "give either a revision or --regression, not both" : "give the revision to revert, or --regression")
        }
    }

    func run() async throws {
        let repository = try options.open()
        var target: ObjectID
        var trailers: [Trailer] = []
        if let revision {
            target = try options.resolve(revision, in: repository)
        } else {
            let (_, result, _) = try await bisect.search(repository, options: options, models: models, quiet: false)
            guard let result else {
                throw CommandFailure(message: "no regression on \(bisect.split.rawValue) to revert (`git grad bisect` shows the scores)")
            }
            target = result.firstBad
            trailers = [Trailer(key: TrailerKey.restoresScore, value: String(format: "%@ %.4f", bisect.split.rawValue, result.lastGoodScore))]
            print(String(format: "first bad version %@ (%@ %.3f -> %.3f)", target.short, bisect.split.rawValue, result.lastGoodScore, result.firstBadScore))
        }
        let result = try repository.revert(target, config: try repository.config(), trailers: trailers)
        print("Reverted \(target.short) on main: \(result.commit.short)")
        if !result.workingTreeUpdated {
            print("The working tree was not updated (HEAD is not main, or files there have edits); run `git checkout main` to see it.")
        }
    }
}

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate grad.toml, the datasets and the prompt's placeholders (used by hooks/pre-commit); "
            + "with --against BASE, exit 1 when HEAD is significantly worse than BASE on the holdout, breaks more than preservation "
            + "allows, or collapses a class (hooks/pre-push, CI); with --as-step too, exit 1 unless the optimizer would merge HEAD as a step.")

    @Option(help: ArgumentHelp("Compare the prompt with this version on the holdout (a regression gate).", valueName: "base"))
    var against: String?

    @Argument(help: "The version checked against BASE (default: HEAD).")
    var head: String = "HEAD"

    @Flag(help: "With --against: judge HEAD as the optimizer judges a candidate (significantly better, preservation, audit).")
    var asStep = false

    @Flag(help: "Print JSON (with --against).")
    var json = false

    @OptionGroup var models: ModelOptions
    @OptionGroup var options: RepositoryOptions

    func run() async throws {
        let repository = try options.open()
        guard let against else {
            let result = try repository.check()
            for warning in result.warnings { logToStandardError("warning: \(warning)") }
            return print("ok: " + result.splits.map { "\($0.name) \($0.count)" }.joined(separator: ", "))
        }
        let base = try options.resolve(against, in: repository)
        let head = try options.resolve(self.head, in: repository)
        var config = try repository.config(at: base)
        models.apply(to: &config)
        let check = try RegressionCheck(repository, base: base, head: head, config: config)
        let question: RegressionCheck.Question = asStep ? .asStep : .notWorse
        if check.unchanged {
            let result = try await check.run(evaluator: nil, question: question)
            return try report(result, model: config.model.name, usage: nil)
        }

        let runtime = try await models.runtime(
            config: config, gitDirectory: repository.gitDirectory, quiet: json, optimizer: config.metric.kind == .judge)
        defer { runtime.shutdown() }
        let evaluator = runtime.evaluator(for: config, root: repository.root)
        let bar = ProgressBar(name: "holdout \(base.short) and \(head.short)", total: 2 * check.holdout.count, enabled: !json)
        let result = try await check.run(evaluator: evaluator, question: question, progress: { bar.advance(cached: $0.cached) })
        bar.finish()
        try report(result, model: config.model.name, usage: await runtime.accounting.totals)
    }

    private func report(_ result: RegressionCheck.Result, model: String, usage: UsageTotals?) throws {
        if json {
            try printJSON(RegressionTable.Output(result, asStep: asStep))
        } else {
            print(RegressionTable.render(result, model: model, terminal: .standardOutput))
            if let usage { print(UsageLine.render(usage)) }
        }
        guard !result.passed else { return }
        let what = asStep ? "would not be merged as a step over" : "fails the regression gate against"
        throw CommandFailure(message: "\(result.head.short) \(what) \(result.base.short): \(result.verdict.text)")
    }
}
