import ArgumentParser
import Evaluation
import Foundation
import LLM
import PromptRepo

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Evaluate a prompt version on a split; results go to the commit's note.")

    @Argument(help: "The prompt version to evaluate (default: main).")
    var revision: String = "main"

    @Option(help: "train, holdout or test.")
    var split: Split = .holdout

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var models: ModelOptions
    @OptionGroup var options: RepositoryOptions

    func run() async throws {
        let repository = try options.open()
        let commit = try options.resolve(revision, in: repository)
        var config = try repository.config(at: commit, task: options.task)
        models.apply(to: &config)
        let evaluation = try SplitEvaluation(repository, at: commit, config: config, split: split)
        let runtime = try await models.runtime(
            config: config, gitDirectory: repository.gitDirectory, quiet: json, optimizer: config.metric.needsJudge)
        defer { runtime.shutdown() }
        let bar = ProgressBar(name: "\(split.rawValue) \(commit.short)", total: evaluation.examples.count, enabled: !json)
        let (statistics, evaluators) = try await evaluation.run(in: repository, runtime: runtime, progress: { bar.advance(cached: $0.cached) })
        bar.finish()
        let usage = await runtime.accounting.totals

        if json {
            /// A `.prompt.yml` task's figures as `gh models eval --json` names them: the tests passed
            /// (all evaluators passing) and each evaluator's pass rate under its name.
            struct Summary: Encodable {
                let totalTests: Int
                let passedTests: Int
                let failedTests: Int
                let passRate: Double
            }
            struct Output: Encodable {
                let commit: String
                let task: String?
                let split: String
                let statistics: SplitStatistics
                let summary: Summary?
                let evaluators: [EvaluatorPassRate]?
                let usage: UsageTotals
            }
            let summary = config.metric.kind == .evaluators
                ? Summary(
                    totalTests: statistics.total, passedTests: statistics.correct, failedTests: statistics.total - statistics.correct,
                    passRate: statistics.total == 0 ? 0 : Double(statistics.correct) / Double(statistics.total))
                : nil
            return try printJSON(Output(
                commit: commit.hex, task: config.taskName, split: split.rawValue, statistics: statistics, summary: summary,
                evaluators: config.metric.kind == .evaluators ? evaluators : nil, usage: usage))
        }
        print(StatisticsTable.render(statistics, title: "\(split.rawValue) — \(commit.short) — \(config.model.name)", terminal: .standardOutput))
        for evaluator in evaluators {
            print(String(format: "evaluator %@: %d/%d passed (%.1f%%)", evaluator.name.escapingControlCharacters, evaluator.passed, evaluator.total,
                         evaluator.passRate * 100))
        }
        print(UsageLine.render(usage))
    }
}

enum StatisticsTable {
    static func render(_ s: SplitStatistics, title: String, terminal t: Terminal) -> String {
        var lines = [t.paint(title, .bold)]
        lines.append(String(format: "score %.3f  (%d/%d correct)", s.score, s.correct, s.total))
        if let balanced = s.balancedAccuracy { lines.append(String(format: "balanced accuracy %.3f", balanced)) }
        if let baseline = s.majorityBaseline, let label = s.majorityLabel {
            lines.append(String(format: "majority-class baseline %.3f (always '%@')", baseline, label))
        }
        guard !s.classes.isEmpty else { return lines.joined(separator: "\n") }
        let width = max(8, s.classes.map(\.label.count).max() ?? 8)
        func pad(_ text: String, _ n: Int) -> String { text.count >= n ? text : text + String(repeating: " ", count: n - text.count) }
        lines.append("")
        lines.append(pad("class", width) + "  support  recall  precision")
        for c in s.classes {
            lines.append(pad(c.label, width) + String(format: "  %7d  %6.3f  %9.3f", c.support, c.recall, c.precision))
        }
        let predicted = s.classes.map(\.label) + (s.confusion.values.contains { $0["(none)"] != nil } ? ["(none)"] : [])
        lines.append("")
        lines.append("confusion (rows: expected, columns: predicted)")
        let cell = max(6, predicted.map(\.count).max() ?? 6)
        lines.append(pad("", width) + predicted.map { "  " + pad(String($0.prefix(cell)), cell) }.joined())
        for c in s.classes where c.support > 0 {
            let row = predicted.map { "  " + pad(String(s.confusion[c.label]?[$0] ?? 0), cell) }.joined()
            lines.append(pad(c.label, width) + row)
        }
        return lines.joined(separator: "\n")
    }
}

enum UsageLine {
    static func render(_ usage: UsageTotals) -> String {
        var line = "calls \(usage.calls), cache hits \(usage.cacheHits), tokens \(usage.promptTokens)+\(usage.completionTokens)"
        line += String(format: ", model time %.1fs", usage.latencySeconds)
        if usage.retries > 0 { line += ", retries \(usage.retries)" }
        if let cost = usage.cost, usage.calls > 0 { line += String(format: ", cost $%.4f", cost) }
        return line
    }
}
