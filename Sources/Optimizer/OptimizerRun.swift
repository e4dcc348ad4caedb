import Evaluation
import Foundation
import LLM
import PromptRepo

/// What `git grad optimize` was asked to do; nil fields take grad.toml's values.
public struct OptimizeRequest: Sendable {
    public var steps: Int?
    public var seed: Int?
    /// The loop settings that differ from grad.toml's.
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
    public let recorder: GitRecorder
    public let runtime: ModelRuntime
    public let config: GradConfig
    public let metaPrompts: MetaPrompts
    public let emit: @Sendable (OptimizerEvent) -> Void

    public init(recorder: GitRecorder, runtime: ModelRuntime, config: GradConfig, metaPrompts: MetaPrompts, emit: @escaping @Sendable (OptimizerEvent) -> Void) {
        self.recorder = recorder
        self.runtime = runtime
        self.config = config
        self.metaPrompts = metaPrompts
        self.emit = emit
    }

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

        func pair(_ text: String) -> PromptPair {
            PromptPair(file: text, path: promptPath, system: system, inputFields: inputFields)
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
            if !recorder.mergesIntoMain { try await recorder.recordRunIfNew(manifest) }
            try await recorder.markRunEnded(
                manifest.run, outcome: "finished", usage: await runtime.accounting.totals.since(usageAtStart),
                wallSeconds: Date().timeIntervalSince(started))
        } catch let error as LLMError {
            let recorded = try await recorder.isRecorded(manifest.run)
            guard case .budgetExceeded = error else {
                throw RunFailure.modelFailed(run: manifest.run, recorded: recorded, cause: error)
            }
            let reason = error.description + (recorded
                ? "; raise the budget and continue with `\(Self.resumeCommand(run: manifest.run))`"
                : "; raise it (--max-calls, or max_tokens and max_cost in [search]) to go further")
            summary.stoppedBecause = reason
            summary.finalCommit = try await recorder.trunkTip().hex
            emit(.stopped(reason: reason))
        } catch let error as RunFailure {
            if case .cannotContinue = error { try await recorder.markRunEnded(manifest.run, outcome: "stopped: main moved") }
            throw error
        } catch OptimizerStop.requested {
            summary.stoppedBecause = "stopped on request after recording candidates"
            summary.finalCommit = try await recorder.trunkTip().hex
        }
        summary.usage = await runtime.accounting.totals.since(usageAtStart)
        summary.wallSeconds = Date().timeIntervalSince(started)
        summary.recorded = try await recorder.isRecorded(manifest.run)
        summary.holdoutSize = prepared.context.holdout.count
        summary.holdoutJudgedAllRuns = max(summary.holdoutJudged, try await recorder.candidateCount())
        // The run's loose objects go into one pack. A failure here loses nothing (they stay
        // loose, and git reads them as before), so it does not fail a run that did its work.
        if summary.recorded { try? await recorder.packObjects() }
        emit(.summary(summary))
        return summary
    }

    /// Reads the datasets and templates as committed, checks the prompt can be filled, and
    /// starts or resumes the run's manifest.
    func prepare(_ request: OptimizeRequest) async throws -> PreparedRun {
        let startTip = try await recorder.trunkTip()
        let dirty = recorder.mergesIntoMain ? try await recorder.uncommittedPromptFiles(config) : []
        guard dirty.isEmpty else {
            throw PromptRepoError.format("\(dirty.joined(separator: ", ")): uncommitted edits; commit or stash them before optimizing")
        }
        let loader = DatasetLoader(task: config.task)
        let train = try await recorder.dataset(config.task.train, at: startTip, loader: loader)
        let holdout = try await recorder.dataset(config.task.holdout, at: startTip, loader: loader)
        let test = try await config.task.test.asyncMap { try await recorder.dataset($0, at: startTip, loader: loader) } ?? []
        // Notices wait until the first model calls have worked, so that a run that cannot start
        // says one thing: its error.
        var notices = loader.overlapWarnings([("train", train), ("holdout", holdout), ("test", test)]).map {
            OptimizerEvent.message("warning: \($0)")
        }
        let system = try await config.task.system.asyncMap { path in
            PromptTemplate(text: try await recorder.promptText(path, at: startTip), path: path)
        }
        let seedText = try await recorder.promptText(config.task.prompt, at: startTip)
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
        let evaluator = runtime.evaluator(for: config, root: await recorder.root)
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
        let seedPrompt = context.pair(prepared.seedText)
        var state = RunState(
            tip: prepared.startTip,
            baseline: try await evaluateSplit("holdout", examples: context.holdout, commit: prepared.startTip, evaluator: context.evaluator, prompt: seedPrompt))
        summary.seedHoldout = score(state.baseline)
        prepared.notices.forEach(emit)
        prepared.notices = []
        if !test.isEmpty {
            summary.seedTest = score(try await evaluateSplit("test", examples: test, commit: prepared.startTip, evaluator: context.evaluator, prompt: seedPrompt))
        }
        let merged = try await recorder.mergedSteps(run: context.manifest.run)
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
            let finalPrompt = context.pair(try await recorder.promptText(config.task.prompt, at: state.tip))
            summary.finalTest = score(try await evaluateSplit("test", examples: test, commit: state.tip, evaluator: context.evaluator, prompt: finalPrompt))
        }
    }

    /// The run's settings: a resumed run keeps its own, a new one takes grad.toml plus the flags
    /// and records them under `refs/grad/runs/<run>`.
    func startOrResume(_ request: OptimizeRequest) async throws -> RunManifest {
        let manifests = try await recorder.manifests()
        if request.resume {
            // A plain --resume continues runs on main; an experiment's runs are named or resumed by it.
            let resumable = request.run == nil ? manifests.filter { $0.trunk == nil } : manifests
            let found = try Self.runToResume(named: request.run, in: resumable)
            guard found.trunkBranch == recorder.trunk else {
                throw PromptRepoError.format("run \(found.run) belongs to an experiment (it merges into \(found.trunkBranch)); continue it with `git grad experiment --resume`")
            }
            guard found.taskModel == config.model.name, found.optimizerModel == config.optimizerModel.name else {
                throw PromptRepoError.format(
                    "run \(found.run) used task model \(found.taskModel) and optimizer \(found.optimizerModel); resume it with the same models (--model, --optimizer-model)")
            }
            return found
        }
        var search = config.search
        if let v = request.steps { search.steps = v }
        if let v = request.seed { search.seed = v }
        request.settings.apply(to: &search)
        search.operators = search.operators ?? SearchSettings.defaultOperators(for: config.optimizerModel)
        let runID = try request.run.map { try RunID($0) } ?? RunID.make()
        guard !manifests.contains(where: { $0.run == runID.value }) else {
            throw PromptRepoError.format("run \(runID) already exists; use --resume to continue it")
        }
        var manifest = RunManifest(
            run: runID.value, started: Date(), steps: search.steps, batchSize: search.batchSize, variants: search.variants,
            selection: search.selection, feedback: search.feedback, gradient: search.gradient,
            labels: search.labels, seed: search.seed, lambda: search.lambda, maxRegressions: search.maxRegressions,
            maxRecallDrop: search.maxRecallDrop, redraws: search.redraws, patience: search.patience,
            taskModel: config.model.name, optimizerModel: config.optimizerModel.name, operators: search.operators,
            prevalence: search.prevalence, collapseShare: search.collapseShare, maxRules: search.maxRules, maxDemos: search.maxDemos,
            demoTokens: search.demoTokens)
        manifest.rule = search.rule
        manifest.alpha = search.alpha
        manifest.maxBrokenRatio = search.maxBrokenRatio.isFinite ? search.maxBrokenRatio : nil
        manifest.trunk = recorder.mergesIntoMain ? nil : recorder.trunk
        return manifest
    }

    /// The optimizer settings a run with seed `run` sends: grad.toml's optimizer seed (0 when
    /// unset) offset by the run's times a prime, so the per-request offsets of one run (step × 1000
    /// + variant) never meet another seed's; kept below 2^31 for servers that take a 32-bit seed.
    static func seeded(_ settings: ModelSettings, run seed: Int) -> ModelSettings {
        var seeded = settings
        let mixed = UInt64(bitPattern: Int64((settings.seed ?? 0) &+ seed &* 1_000_003))
        seeded.seed = Int(mixed % 2_000_000_000)
        return seeded
    }

    /// The command that continues `run`.
    public static func resumeCommand(run: String) -> String { "git grad optimize --resume --run \(run)" }

    /// The run `--resume` continues: the one named, else the only unfinished run. With several
    /// unfinished runs it asks for an id rather than guess.
    static func runToResume(named name: String?, in manifests: [RunManifest]) throws -> RunManifest {
        if let name {
            guard let found = manifests.first(where: { $0.run == name }) else {
                throw PromptRepoError.format("no run named \(name); `git grad runs` lists the runs")
            }
            if found.ended != nil {
                throw PromptRepoError.format("run \(name) has ended (\(found.outcome ?? "finished")); start a new run with `git grad optimize`")
            }
            return found
        }
        let unfinished = manifests.filter { $0.ended == nil }
        guard let newest = unfinished.last else {
            throw PromptRepoError.format("no unfinished run to resume; start one with `git grad optimize`")
        }
        guard unfinished.count == 1 else {
            let names = unfinished.reversed().map(\.run).joined(separator: ", ")
            throw PromptRepoError.format(
                "\(unfinished.count) unfinished runs (\(names)); name one: `\(resumeCommand(run: newest.run))`")
        }
        return newest
    }
}

enum OptimizerStop: Error { case requested }

/// Why a run stopped with an error, with what to do next.
public enum RunFailure: Error, Sendable, CustomStringConvertible {
    /// A model call failed; `recorded` says whether the run has anything to resume.
    case modelFailed(run: String, recorded: Bool, cause: LLMError)
    /// The run can never go on (main moved under it); it is marked stopped.
    case cannotContinue(String)

    public var description: String { description(describingCause: \.description) }

    /// The message with the model's error worded by `describe` (the command line adds where it is fixed).
    public func description(describingCause describe: (LLMError) -> String) -> String {
        switch self {
        case .modelFailed(let run, let recorded, let cause):
            return describe(cause) + (recorded
                ? "; the steps recorded so far are kept: continue with `\(OptimizerRun.resumeCommand(run: run))`"
                : "; nothing was recorded")
        case .cannotContinue(let message):
            return message
        }
    }
}

/// Counts finished examples from concurrent callbacks.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var done = 0
    private var hits = 0

    func add(cached: Bool) -> (Int, Int) {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        if cached { hits += 1 }
        return (done, hits)
    }
}

extension Optional {
    public func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}

extension Sequence {
    public func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
