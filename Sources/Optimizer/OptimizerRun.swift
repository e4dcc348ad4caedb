import Evaluation
import Foundation
import LLM
import PromptRepo

/// What `git grad optimize` was asked to do; nil fields take grad.toml's values.
public struct OptimizeRequest: Sendable {
    /// The search settings that differ from grad.toml's (steps and seed included).
    public var settings = SearchOverrides()
    /// Continue the newest run (or `run`) instead of starting one.
    public var resume = false
    public var run: String?
    /// Stop after recording this many candidates (a test hook standing in for a crash).
    public var stopAfterCandidates: Int?

    public init() {}
}

/// The optimization loop: sample -> evaluate -> gradient -> propose -> verify -> select -> record,
/// with every record written to git as it happens so a killed run resumes where it stopped.
public struct OptimizerRun: Sendable {
    /// The one writer (and reader) of the repository's git record.
    public let store: RunStore
    /// The branch merges go to: main, or an experiment run's own.
    public let trunk: String
    public let runtime: ModelRuntime
    public let config: GradConfig
    public let metaPrompts: MetaPrompts
    public let emit: @Sendable (OptimizerEvent) -> Void

    public init(
        store: RunStore, trunk: String = GradRefs.mainBranch, runtime: ModelRuntime, config: GradConfig, metaPrompts: MetaPrompts,
        emit: @escaping @Sendable (OptimizerEvent) -> Void
    ) {
        self.store = store
        self.trunk = trunk
        self.runtime = runtime
        self.config = config
        self.metaPrompts = metaPrompts
        self.emit = emit
    }

    /// Whether this run merges into main (and so keeps the working tree in step).
    var mergesIntoMain: Bool { trunk == GradRefs.mainBranch }

    /// The number of calls a run will make at most (no cache hits, every candidate fully verified).
    public static func projectedCalls(search: SearchSettings, holdout: Int, test: Int, errorsPerBatch: Int? = nil) -> Int {
        let batch = search.batchSize
        let errors = errorsPerBatch ?? batch
        let gradientCalls = search.feedback == .none ? 0 : (search.gradient == .twoStep ? errors + 1 : 1)
        let verifyCalls = search.selection == .validated ? search.variants * holdout : 0
        let perStep = batch + gradientCalls + search.variants + verifyCalls
        return holdout + 2 * test + search.steps * perStep
    }

    /// What stays fixed for the whole run.
    struct RunContext {
        let request: OptimizeRequest
        let manifest: RunManifest
        let search: SearchSettings
        let runID: RunID
        let train: [Example]
        let holdout: [Example]
        let evaluator: Evaluator
        let system: PromptTemplate?
        let promptPath: String
        /// The optimizer model's settings with the run's seed, so every optimizer request of a run
        /// depends on it (seeds of an experiment differ in their rules and rewrites, not only in
        /// their minibatches) and a server that honours seeds repeats a run without the cache.
        let optimizerSettings: ModelSettings
        let inputFields: [String]
        /// Holdout and test rows: never placed in a prompt as worked examples.
        let excludedIDs: Set<String>
        let excludedInputs: Set<String>

        func pair(_ text: String) throws -> PromptPair {
            try PromptPair(file: text, path: promptPath, system: system, inputFields: inputFields)
        }
    }

    /// What moves from step to step: main's tip and the current prompt's holdout results.
    struct RunState {
        var tip: ObjectID
        var baseline: [ExampleOutcome]
        var candidatesRecorded = 0
    }

    /// How a step ended.
    enum StepOutcome {
        case alreadyDecided
        case skipped
        /// `operators`: which operator made each variant's candidate; `accepted`: the merged one, if any.
        /// `judged`: candidates this step evaluated on the holdout.
        case finished(rejected: Int, operators: [Int: SearchSettings.Operator], accepted: AcceptedStep?, judged: Int)
    }

    /// What a run starts from, read before anything is recorded: the data and templates as
    /// committed on the trunk, the run's settings, and the notices to show once it has started.
    struct PreparedRun {
        let context: RunContext
        let startTip: ObjectID
        let seedText: String
        let test: [Example]
        var notices: [OptimizerEvent]
    }

    public func run(_ request: OptimizeRequest) async throws -> RunSummary {
        let started = Date()
        let usageAtStart = await runtime.accounting.totals
        var prepared = try await prepare(request)
        let manifest = prepared.context.manifest
        var summary = RunSummary(
            run: manifest.run, stepsRun: 0, accepted: 0, rejected: 0, skipped: 0, seedHoldout: 0, finalHoldout: 0,
            seedTest: nil, finalTest: nil, seedCommit: prepared.startTip.hex, finalCommit: prepared.startTip.hex, usage: UsageTotals(),
            stoppedBecause: nil, wallSeconds: 0, acceptedSteps: [], operators: [:])
        do {
            try await runSteps(&prepared, summary: &summary)
            // An experiment's run is recorded even when it found nothing to learn, so that its
            // results are read from git like every other run's.
            if !mergesIntoMain { try await store.recordRunIfNew(manifest) }
            try await store.markRunEnded(
                manifest.run, outcome: "finished", usage: RunUsage(await runtime.accounting.totals.since(usageAtStart)),
                wallSeconds: Date().timeIntervalSince(started))
        } catch let error as LLMError {
            let recorded = try await isRecorded(manifest.run)
            guard case .budgetExceeded = error else {
                throw OptimizerError.modelFailed(run: manifest.run, recorded: recorded, cause: error)
            }
            let reason = error.description + (recorded
                ? "; raise the budget and continue with `\(Self.resumeCommand(run: manifest.run))`"
                : "; raise it (--max-calls, or max_tokens and max_cost in [search]) to go further")
            summary.stoppedBecause = reason
            summary.finalCommit = try await store.trunkTip(trunk).hex
            emit(.stopped(reason: reason))
        } catch let error as OptimizerError {
            if case .cannotContinue = error { try await store.markRunEnded(manifest.run, outcome: "stopped: main moved") }
            throw error
        } catch OptimizerStop.requested {
            summary.stoppedBecause = "stopped on request after recording candidates"
            summary.finalCommit = try await store.trunkTip(trunk).hex
        }
        summary.usage = await runtime.accounting.totals.since(usageAtStart)
        summary.wallSeconds = Date().timeIntervalSince(started)
        summary.recorded = try await isRecorded(manifest.run)
        summary.holdoutSize = prepared.context.holdout.count
        summary.holdoutJudgedAllRuns = max(summary.holdoutJudged, try await store.reading { try HistoryReader($0.repository).candidateCount() })
        // The run's loose objects go into one pack. A failure here loses nothing (they stay
        // loose, and git reads them as before), so it does not fail a run that did its work.
        if summary.recorded { try? await store.packObjects() }
        emit(.summary(summary))
        return summary
    }

    /// Reads the datasets and templates as committed, checks the prompt can be filled, and
    /// starts or resumes the run's manifest.
    func prepare(_ request: OptimizeRequest) async throws -> PreparedRun {
        let startTip = try await store.trunkTip(trunk)
        let (config, mergesIntoMain) = (config, mergesIntoMain)
        let loader = DatasetLoader(task: config.task)
        let (train, holdout, test) = try await store.reading { ledger in
            let repository = ledger.repository
            if mergesIntoMain, case let dirty = try repository.uncommittedPromptFiles(config), !dirty.isEmpty {
                throw PromptRepoError.conflict("\(dirty.joined(separator: ", ")): uncommitted edits; commit or stash them before optimizing")
            }
            return (try repository.dataset(config.task.train, at: startTip, loader: loader),
                    try repository.dataset(config.task.holdout, at: startTip, loader: loader),
                    try config.task.test.map { try repository.dataset($0, at: startTip, loader: loader) } ?? [])
        }
        // Notices wait until the first model calls have worked, so that a run that cannot start
        // says one thing: its error.
        var notices = loader.overlapWarnings([("train", train), ("holdout", holdout), ("test", test)]).map {
            OptimizerEvent.message("warning: \($0)")
        }
        let system = try await store.reading { ledger in
            try config.task.system.map { PromptTemplate(text: try ledger.repository.promptText($0, at: startTip), path: $0) }
        }
        let seedText = try await promptText(at: startTip)
        try PromptFile.requireUsable(seedText, path: config.task.prompt, inputFields: config.task.inputFields)
        if let example = holdout.first {
            _ = try PromptPair(file: seedText, path: config.task.prompt, system: system, inputFields: config.task.inputFields)
                .messages(for: example)
        }
        let manifest = try await startOrResume(request)
        if request.resume { notices.append(.message("resuming run \(manifest.run)")) }
        let search = manifest.search
        let projected = Self.projectedCalls(search: search, holdout: holdout.count, test: test.count)
        notices.append(.projection(calls: projected, cost: estimateCost(calls: projected)))
        let evaluator = runtime.evaluator(for: config, root: store.root)
        let context = RunContext(
            request: request, manifest: manifest, search: search, runID: try RunID(manifest.run), train: train, holdout: holdout,
            evaluator: evaluator, system: system,
            promptPath: config.task.prompt, optimizerSettings: Self.seeded(config.optimizerModel, run: search.seed),
            inputFields: config.task.inputFields,
            excludedIDs: Set((holdout + test).map(\.id)),
            excludedInputs: Set((holdout + test).map { DemosOperator.inputKey($0, fields: config.task.inputFields) }))
        return PreparedRun(context: context, startTip: startTip, seedText: seedText, test: test, notices: notices)
    }

    /// The seed's scores, then every step not yet merged, then the final scores.
    func runSteps(_ prepared: inout PreparedRun, summary: inout RunSummary) async throws {
        let context = prepared.context, test = prepared.test
        let seedPrompt = try context.pair(prepared.seedText)
        var state = RunState(
            tip: prepared.startTip,
            baseline: try await evaluateSplit("holdout", examples: context.holdout, commit: prepared.startTip, evaluator: context.evaluator, prompt: seedPrompt))
        summary.seedHoldout = score(state.baseline)
        prepared.notices.forEach(emit)
        prepared.notices = []
        if !test.isEmpty {
            summary.seedTest = score(try await evaluateSplit("test", examples: test, commit: prepared.startTip, evaluator: context.evaluator, prompt: seedPrompt))
        }
        let (run, trunkTip) = (context.manifest.run, prepared.startTip)
        let merged = try await store.reading { try $0.mergedSteps(run: run, on: trunkTip) }
        var stepsWithoutAcceptance = 0
        for step in 1...context.search.steps where !merged.contains(step) {
            let outcome = try await runStep(step, context: context, state: &state)
            summary.add(outcome)
            switch outcome {
            case .skipped: break  // nothing to learn from is not a failure to learn
            case .alreadyDecided: stepsWithoutAcceptance += 1
            case .finished(_, _, let accepted, _): stepsWithoutAcceptance = accepted == nil ? stepsWithoutAcceptance + 1 : 0
            }
            if let patience = context.search.patience, stepsWithoutAcceptance >= patience {
                summary.stoppedBecause = "no candidate passed in \(patience) step(s) in a row (patience)"
                break
            }
        }
        summary.finalCommit = state.tip.hex
        summary.finalHoldout = score(state.baseline)
        if !test.isEmpty {
            let finalPrompt = try context.pair(try await promptText(at: state.tip))
            summary.finalTest = score(try await evaluateSplit("test", examples: test, commit: state.tip, evaluator: context.evaluator, prompt: finalPrompt))
        }
    }
}
