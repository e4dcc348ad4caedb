import Evaluation
import Foundation
import Optimizer

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
        if json { return printLine(event) }
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
        case .stopped(let reason):
            endBar()
            print(t.paint("stopped: \(reason)", .yellow))
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
        case .summary(let summary):
            endBar()
            printSummary(summary)
        }
    }

    /// The run's summary: scores, what was merged, cost, and what to do next.
    private func printSummary(_ s: RunSummary) {
        let t = terminal
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

    private func printLine(_ event: OptimizerEvent) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
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
