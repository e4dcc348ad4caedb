import ArgumentParser
import Evaluation
import Foundation
import Optimizer
import PromptRepo

/// What to bisect: shared by `bisect` and `revert --regression`.
struct BisectOptions: ParsableArguments {
    @Option(help: "The split to score each version on: holdout or test (train is what the steps were made from).")
    var split: Split = .test

    @Option(help: "A version is bad when it scores more than this below the good one.")
    var threshold: Double = 0

    @Option(help: ArgumentHelp("A version known to be good (default: the first commit of main).", valueName: "rev"))
    var good: String?

    @Option(help: ArgumentHelp("A version known to be bad.", valueName: "rev"))
    var bad: String = "main"

    func validate() throws {
        guard threshold >= 0 else { throw ValidationError("--threshold \(threshold) must not be negative") }
    }

    /// Runs the search with the models the command line names; every evaluation is cached.
    func search(_ repository: PromptRepository, options: RepositoryOptions, models: ModelOptions, quiet: Bool) async throws
        -> (bisect: RegressionBisect, result: RegressionBisect.Result?, probes: [RegressionBisect.Probe]) {
        let bad = try options.resolve(self.bad, in: repository)
        let good = try self.good.map { try options.resolve($0, in: repository) }
        var config = try repository.config(at: bad, task: options.task)
        models.apply(to: &config)
        let bisect = try RegressionBisect(repository, good: good, bad: bad, split: split, threshold: threshold, config: config)
        let runtime = try await models.runtime(
            config: config, gitDirectory: repository.gitDirectory, quiet: quiet, optimizer: config.metric.needsJudge)
        defer { runtime.shutdown() }
        let evaluator = runtime.evaluator(for: config, root: repository.root)
        let found = try await bisect.run { commit in
            let bar = ProgressBar(name: "\(split.rawValue) \(commit.short)", total: bisect.examples.count, enabled: !quiet)
            defer { bar.finish() }
            return try await bisect.evaluate(commit, in: repository, with: evaluator, progress: { bar.advance(cached: $0.cached) })
        }
        return (bisect, found.result, found.probes)
    }
}

/// `git grad bisect`: which step on main introduced a regression.
struct BisectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bisect",
        abstract: "Find the step on main's first-parent history that introduced a regression (binary search, cached evaluations).")

    @OptionGroup var bisect: BisectOptions
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var models: ModelOptions
    @OptionGroup var options: RepositoryOptions

    struct Output: Encodable {
        struct Probe: Encodable { let commit: String; let score: Double; let bad: Bool }
        let split: String
        let versions: Int
        let probes: [Probe]
        let firstBad: String?
        let lastGood: String?
        let scoreBefore: Double?
        let scoreAfter: Double?
    }

    func run() async throws {
        let repository = try options.open()
        let (search, result, probes) = try await bisect.search(repository, options: options, models: models, quiet: json)
        if json {
            return try printJSON(Output(
                split: bisect.split.rawValue, versions: search.versions.count,
                probes: probes.map { .init(commit: $0.commit.hex, score: $0.score, bad: $0.bad) },
                firstBad: result?.firstBad.hex, lastGood: result?.lastGood.hex,
                scoreBefore: result?.lastGoodScore, scoreAfter: result?.firstBadScore))
        }
        let t = Terminal.standardOutput
        print("bisect on \(bisect.split.rawValue) over \(search.versions.count) versions of main's first-parent history "
            + "(\(search.versions.first!.short)..\(search.versions.last!.short)), scored with the data and grad.toml of \(search.versions.last!.short)")
        for probe in probes {
            let kind = probe.bad ? t.paint("bad ", .red) : t.paint("good", .green)
            print("  \(kind)  \(probe.commit.short)  \(String(format: "%.3f", probe.score))  \(try repository.commitSummary(probe.commit))")
        }
        guard let result else {
            return print("no regression: \(search.versions.last!.short) scores no more than \(bisect.threshold) below \(search.versions.first!.short)")
        }
        print(t.paint("first bad version: \(result.firstBad.short)  \(try repository.commitSummary(result.firstBad))", .bold))
        print(String(format: "  %@ %.3f -> %.3f (from %@)", bisect.split.rawValue, result.lastGoodScore, result.firstBadScore, result.lastGood.short))
        let message = try repository.stepMessage(result.firstBad)
        if let run = message.value(TrailerKey.run), let step = message.value(TrailerKey.step) {
            print("  run \(run), step \(step)\(message.value(TrailerKey.operatorName).map { ", operator \($0)" } ?? "")")
        }
        print("evaluated \(probes.count) of \(search.versions.count) versions")
        let same = (bisect.good.map { " --good \($0)" } ?? "") + (bisect.threshold > 0 ? " --threshold \(bisect.threshold)" : "")
        print("next: git grad show \(result.firstBad.short) · git grad revert --regression --split \(bisect.split.rawValue)\(same)")
    }
}
