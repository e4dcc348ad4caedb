import ArgumentParser
import Evaluation
import Foundation
import LLM
import Optimizer
import PromptRepo

struct OptimizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "optimize",
        abstract: "Optimize the prompt: gradients from errors, candidates on branches, verified winners merged into main.")

    @Option(help: "Optimization steps.") var steps: Int?
    @Option(help: "Candidate variants per step.") var variants: Int?
    @Option(help: "Minibatch size.") var batchSize: Int?
    @Option(help: "validated or naive (accept without verification).") var selection: SearchSettings.Selection?
    @Option(help: "errors, all or none: which examples feed the gradient.") var feedback: SearchSettings.Feedback?
    @Option(help: "one-step or two-step.") var gradient: SearchSettings.Gradient?
    @Option(help: "correct or shuffled (labels shown to the gradient step only).") var labels: SearchSettings.Labels?
    @Option(help: "Acceptance rule: significant (a one-sided test at --alpha, the default) or net (the papers' lambda rule).")
    var rule: SearchSettings.Rule?
    @Option(help: "The significance test's level (default 0.05), Bonferroni-corrected over a step's candidates.") var alpha: Double?
    @Option(help: "The net rule: pass when improvements - lambda * regressions > 0.") var lambda: Double?
    @Option(help: "Preservation rule: reject a candidate with more regressions than this.") var maxRegressions: Int?
    @Option(help: "Random seed for minibatches.") var seed: Int?
    @Option(help: "Comma-separated operators the variants are spread across: rules, demos, rewrite, merge.")
    var operators: String?
    @Option(help: "Stop after this many model calls (cache hits are free).") var maxCalls: Int?
    @Flag(help: "Continue the newest interrupted run (or --run R) from what git holds.") var resume = false
    @Option(help: "Run id to start or resume.") var run: String?
    @Flag(help: "Print machine-readable events as JSON lines.") var json = false
    @Option(help: ArgumentHelp(visibility: .private)) var stopAfterCandidates: Int?

    @OptionGroup var models: ModelOptions
    @OptionGroup var options: RepositoryOptions

    func validate() throws {
        for (name, value) in [("--steps", steps), ("--variants", variants), ("--batch-size", batchSize), ("--max-calls", maxCalls)] {
            if let value, value <= 0 { throw ValidationError("\(name) must be positive") }
        }
        if let lambda, lambda < 0 || !lambda.isFinite { throw ValidationError("--lambda must be a non-negative number") }
        if let alpha, !(alpha > 0 && alpha < 0.5) { throw ValidationError("--alpha must be between 0 and 0.5 (0.05 is usual)") }
        _ = try parsedOperators()
    }

    func parsedOperators() throws -> [SearchSettings.Operator]? {
        guard let operators else { return nil }
        do {
            return try SearchSettings.Operator.parse(operators.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        } catch {
            throw ValidationError("--operators: \(error.description)")
        }
    }

    func run() async throws {
        let repository = try options.open()
        let tip = try repository.mainTip()
        var config = try repository.config(at: tip)
        models.apply(to: &config)
        let metaPrompts = try MetaPrompts.load(config: config, root: repository.root)
        let recorder = try GitRecorder(directory: repository.root)
        let gitDirectory = repository.gitDirectory

        var request = OptimizeRequest()
        request.steps = steps
        request.seed = seed
        request.settings.variants = variants
        request.settings.batchSize = batchSize
        request.settings.selection = selection
        request.settings.feedback = feedback
        request.settings.gradient = gradient
        request.settings.labels = labels
        request.settings.lambda = lambda
        request.settings.rule = rule
        request.settings.alpha = alpha
        request.settings.maxRegressions = maxRegressions
        request.settings.operators = try parsedOperators()
        request.resume = resume
        request.run = run
        request.stopAfterCandidates = stopAfterCandidates

        let budget = CallBudget(search: config.search, maxCalls: maxCalls)
        let runtime = try await models.runtime(config: config, gitDirectory: gitDirectory, budget: budget, quiet: json)
        defer { runtime.shutdown() }
        let reporter = EventPrinter(json: json)
        let optimizer = OptimizerRun(
            recorder: recorder, runtime: runtime, config: config, metaPrompts: metaPrompts, emit: { reporter.handle($0) })
        _ = try await optimizer.run(request)
    }
}

/// Prints a run's events: progress bars and step results on a terminal, JSON lines with --json,
/// plain step lines when piped.
final class EventPrinter: @unchecked Sendable {
    let json: Bool
    let terminal = Terminal.standardOutput
    private let lock = NSLock()
    private var bar: ProgressBar?

    init(json: Bool) { self.json = json }

    func handle(_ event: OptimizerEvent) {
        lock.lock()
        defer { lock.unlock() }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if case .progress = event { return printLine(event, encoder) }
            return printLine(event, encoder)
        }
        let t = terminal
        switch event {
        case .message(let text):
            endBar()
            say(text)
        case .projection(let calls, let cost):
            var line = "at most \(calls) model calls"
            if let cost { line += String(format: ", about $%.2f", cost) }
            say(line + " (cache hits are free)")
        case .phase(let name, let total):
            endBar()
            bar = ProgressBar(name: name, total: total)
        case .progress(let name, let done, let total, let hits, let tokens):
            if bar?.name != name { endBar(); bar = ProgressBar(name: name, total: total) }
            bar?.update(done: done, hits: hits, tokens: tokens)
        case .stepStarted(let step, let of):
            endBar()
            print(t.paint("step \(step)/\(of)", .bold))
        case .gradient(_, let errors, let batch, let text):
            endBar()
            print("  \(errors)/\(batch) wrong in the minibatch; gradient:")
            print(indent(text.trimmingCharacters(in: .whitespacesAndNewlines), by: "    │ "))
        case .candidate(_, let variant, let branch, let commit, let summary, let op, let feedback):
            endBar()
            print("  candidate v\(variant) [\(op)] \(t.paint(String(commit.prefix(7)), .yellow)) \(branch): \(summary)")
            if op == "rules" { print(indent(feedback.trimmingCharacters(in: .whitespacesAndNewlines), by: "    │ ")) }
        case .verdict(_, let variant, let passed, let text, let before, let after):
            endBar()
            let scores = after.map { String(format: "holdout %.3f -> %.3f", before, $0) } ?? "not verified"
            print("  v\(variant): " + (passed ? t.paint(text, .green) : t.paint(text, .red)) + "  (\(scores))")
        case .merged(let step, let variant, let commit, let before, let after, let updated):
            endBar()
            print(t.paint(String(format: "  merged s%dv%d into main as %@: holdout %.3f -> %.3f", step, variant, String(commit.prefix(7)), before, after), .green)
                  + (updated ? "" : " (working tree not updated)"))
        case .stepSkipped(let step, let reason):
            endBar()
            print(t.paint("  step \(step) skipped: \(reason)", .yellow))
        case .stopped(let reason):
            endBar()
            print(t.paint("stopped: \(reason)", .yellow))
        case .summary(let s):
            endBar()
            print("")
            print(t.paint("run \(s.run)", .bold))
            print("  steps \(s.stepsRun), accepted \(s.accepted), rejected \(s.rejected), skipped \(s.skipped)")
            let selected = s.accepted > 0 ? String(format: "  (selected on the holdout after judging %d candidates: reads high)", s.holdoutJudged) : ""
            print(String(format: "  holdout: seed %.3f -> final %.3f", s.seedHoldout, s.finalHoldout) + selected)
            if let seedTest = s.seedTest, let finalTest = s.finalTest {
                print(String(format: "  test:    seed %.3f -> final %.3f", seedTest, finalTest) + "  (never used to choose: the unbiased figure)")
            }
            let reuse = s.holdoutReuse
            if reuse.overused {
                print(t.paint(String(
                    format: "  warning: the holdout (%d rows) has judged %d candidates across runs; its scores are only good to ±%.2f together "
                        + "(a single use: ±%.2f). Add fresh holdout rows before trusting further merges.",
                    reuse.size, reuse.candidates, reuse.margin, HoldoutReuse(candidates: 1, size: reuse.size).margin), .yellow))
            }
            for accepted in s.acceptedSteps {
                print(String(format: "  accepted step %d v%d by %@: holdout %.3f -> %.3f", accepted.step, accepted.variant,
                             accepted.operatorName, accepted.holdoutBefore, accepted.holdoutAfter))
            }
            if !s.operators.isEmpty {
                print("  candidates by operator: " + s.operators.keys.sorted().map { name in
                    "\(name) \(s.operators[name]!.accepted) accepted / \(s.operators[name]!.rejected) rejected"
                }.joined(separator: ", "))
            }
            print("  main: \(s.seedCommit.prefix(7)) -> \(s.finalCommit.prefix(7))")
            print("  " + UsageLine.render(s.usage) + String(format: ", wall %.0fs", s.wallSeconds))
            if let reason = s.stoppedBecause { print("  stopped early: \(reason)") }
            if s.accepted > 0 {
                print("next: git grad log   |   git grad diff \(s.seedCommit.prefix(7)) main   (seed -> optimized prompt, with scores)")
            } else if s.recorded {
                print("next: git grad log --all   |   git grad runs   (no step was accepted; every candidate stays on its branch)")
            } else {
                print("next: nothing was recorded; git grad eval --split train   (see what the prompt gets wrong)")
            }
        }
    }

    private func printLine(_ event: OptimizerEvent, _ encoder: JSONEncoder) {
        if let data = try? encoder.encode(event) {
            Swift.print(String(decoding: data, as: UTF8.self).jsonEscapingTerminalControls)
        }
    }

    private func say(_ text: String) { logToStandardError(text) }

    private func endBar() {
        bar?.finish()
        bar = nil
    }
}
