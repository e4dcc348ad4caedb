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

    @Argument(help: "The prompt file to optimize (a task's prompt path), when grad.toml has several tasks.")
    var prompt: String?

    // Each flag is a search setting by its one name (see `SearchSetting.all`), checked there.
    @Option(help: "Optimization steps.") var steps: String?
    @Option(help: "Candidate variants per step.") var variants: String?
    @Option(help: "Minibatch size.") var batchSize: String?
    @Option(help: "validated or naive (accept without verification).") var selection: String?
    @Option(help: "errors, all or none: which examples feed the gradient.") var feedback: String?
    @Option(help: "one-step or two-step.") var gradient: String?
    @Option(help: "correct or shuffled (labels shown to the gradient step only).") var labels: String?
    @Option(help: "Acceptance rule: significant (a one-sided test at --alpha, the default) or net (the papers' lambda rule).")
    var rule: String?
    @Option(help: "The significance test's level (default 0.05), Bonferroni-corrected over a step's candidates.") var alpha: String?
    @Option(help: "The net rule: pass when improvements - lambda * regressions > 0.") var lambda: String?
    @Option(help: "Preservation rule: reject a candidate with more regressions than this.") var maxRegressions: String?
    @Option(help: "Random seed for minibatches.") var seed: String?
    @Option(help: "Comma-separated operators the variants are spread across: rules, demos, rewrite, merge.")
    var operators: String?
    @Option(name: .customLong("set"), help: ArgumentHelp(
        "NAME=VALUE: any [search] setting for this run (repeatable), by its grad.toml name.", valueName: "name=value"))
    var assignments: [String] = []
    @Option(help: "Stop after this many model calls (cache hits are free).") var maxCalls: Int?
    @Flag(help: "Continue the newest interrupted run (or --run R) from what git holds.") var resume = false
    @Option(help: "Run id to start or resume.") var run: String?
    @Flag(help: "Print machine-readable events as JSON lines.") var json = false
    @Option(help: ArgumentHelp(visibility: .private)) var stopAfterCandidates: Int?

    @OptionGroup var models: ModelOptions
    @OptionGroup var options: RepositoryOptions

    func validate() throws {
        if prompt != nil, options.task != nil { throw ValidationError("give the prompt's path or --task, not both") }
        if let maxCalls, maxCalls <= 0 { throw ValidationError("--max-calls must be positive") }
        _ = try overrides()
    }

    /// The flags and `--set` pairs as overrides of grad.toml's `[search]`, each checked by its setting.
    func overrides() throws -> SearchOverrides {
        var overrides = SearchOverrides()
        let flags = [
            ("steps", steps), ("variants", variants), ("batch_size", batchSize), ("selection", selection), ("feedback", feedback),
            ("gradient", gradient), ("labels", labels), ("rule", rule), ("alpha", alpha), ("lambda", lambda),
            ("max_regressions", maxRegressions), ("seed", seed), ("operators", operators),
        ]
        for case let (name, text?) in flags {
            try overrides.set(name, text, describe: "--" + name.replacingOccurrences(of: "_", with: "-"))
        }
        for assignment in assignments {
            guard let equals = assignment.firstIndex(of: "=") else {
                throw ValidationError("--set \(assignment): expected NAME=VALUE, e.g. --set max_rules=4")
            }
            try overrides.set(String(assignment[..<equals]), String(assignment[assignment.index(after: equals)...]), describe: "--set")
        }
        return overrides
    }

    func run() async throws {
        let repository = try options.open()
        let tip = try repository.mainTip()
        // A named run resumes with its own task unless one is given.
        var task = options.task ?? prompt
        if task == nil, resume, let run { task = try RunLedger(repository).runManifest(run)?.task }
        var config = try repository.config(at: tip, task: task)
        models.apply(to: &config)
        let metaPrompts = try MetaPrompts.load(config: config, root: repository.root)
        // The store takes over the process's one repository handle.
        let store = RunStore(repository: repository)

        var request = OptimizeRequest()
        request.settings = try overrides()
        request.resume = resume
        request.run = run
        request.stopAfterCandidates = stopAfterCandidates

        let budget = CallBudget(search: config.search, maxCalls: maxCalls)
        let runtime = try await models.runtime(config: config, gitDirectory: store.gitDirectory, budget: budget, quiet: json)
        defer { runtime.shutdown() }
        let reporter = EventPrinter(json: json)
        let optimizer = OptimizerRun(
            store: store, runtime: runtime, config: config, metaPrompts: metaPrompts, emit: { reporter.handle($0) })
        _ = try await optimizer.run(request)
    }
}
