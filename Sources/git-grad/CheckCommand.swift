import ArgumentParser
import Foundation
import PromptRepo
import Optimizer
import Evaluation
import LLM

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
        var config = try repository.config(at: base, task: options.task)
        models.apply(to: &config)
        let check = try RegressionCheck(repository, base: base, head: head, config: config)
        let question: RegressionCheck.Question = asStep ? .asStep : .notWorse
        if check.unchanged {
            let result = try await check.run(evaluator: nil, question: question)
            return try report(result, model: config.model.name, usage: nil)
        }

        let runtime = try await models.runtime(
            config: config, gitDirectory: repository.gitDirectory, quiet: json, optimizer: config.metric.needsJudge)
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
