import Evaluation
import Foundation
import GitKit
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
        case finished(rejected: Int, operators: [Int: SearchSettings.Operator], accepted: AcceptedStep?)
    }

    public func run(_ request: OptimizeRequest) async throws -> RunSummary {
        let started = Date()
        let usageAtStart = await runtime.accounting.totals
        let startTip = try await recorder.trunkTip()
        let dirty = recorder.mergesIntoMain ? try await recorder.uncommittedPromptFiles(config) : []
        guard dirty.isEmpty else {
            throw PromptRepoError.format("\(dirty.joined(separator: ", ")): uncommitted edits; commit or stash them before optimizing")
        }
        // Data and templates as committed on main, loaded before anything is recorded.
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

        let scorer = makeScorer(config.metric, judge: runtime.optimizerClient, root: await recorder.root)
        let context = RunContext(
            request: request, manifest: manifest, search: search, runID: try RunID(manifest.run), train: train, holdout: holdout,
            evaluator: Evaluator(client: runtime.taskClient, scorer: scorer, settings: config.model), system: system,
            promptPath: config.task.prompt, inputFields: config.task.inputFields,
            excludedIDs: Set((holdout + test).map(\.id)),
            excludedInputs: Set((holdout + test).map { DemosOperator.inputKey($0, fields: config.task.inputFields) }))

        var summary = RunSummary(
            run: manifest.run, stepsRun: 0, accepted: 0, rejected: 0, skipped: 0, seedHoldout: 0, finalHoldout: 0,
            seedTest: nil, finalTest: nil, seedCommit: startTip.hex, finalCommit: startTip.hex, usage: UsageTotals(),
            stoppedBecause: nil, wallSeconds: 0, acceptedSteps: [], operators: [:])
        do {
            let seedPrompt = context.pair(seedText)
            var state = RunState(
                tip: startTip,
                baseline: try await evaluateSplit("holdout", examples: holdout, commit: startTip, evaluator: context.evaluator, prompt: seedPrompt))
            summary.seedHoldout = score(state.baseline)
            notices.forEach(emit)
            notices = []
            if !test.isEmpty {
                summary.seedTest = score(try await evaluateSplit("test", examples: test, commit: startTip, evaluator: context.evaluator, prompt: seedPrompt))
            }

            let merged = try await recorder.mergedSteps(run: manifest.run)
            var stepsWithoutAcceptance = 0
            for step in 1...search.steps where !merged.contains(step) {
                switch try await runStep(step, context: context, state: &state) {
                case .alreadyDecided:
                    stepsWithoutAcceptance += 1
                case .skipped:
                    summary.stepsRun += 1
                    summary.skipped += 1
                case .finished(let rejected, let operators, let acceptedStep):
                    let accepted = acceptedStep != nil
                    summary.stepsRun += 1
                    summary.rejected += rejected
                    summary.accepted += accepted ? 1 : 0
                    for (variant, op) in operators {
                        let won = acceptedStep?.variant == variant
                        summary.operators[op.rawValue, default: OperatorTally()].accepted += won ? 1 : 0
                        summary.operators[op.rawValue, default: OperatorTally()].rejected += won ? 0 : 1
                    }
                    if let acceptedStep { summary.acceptedSteps.append(acceptedStep) }
                    stepsWithoutAcceptance = accepted ? 0 : stepsWithoutAcceptance + 1
                }
                if let patience = search.patience, stepsWithoutAcceptance >= patience {
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
        // The run's loose objects go into one pack. A failure here loses nothing (they stay
        // loose, and git reads them as before), so it does not fail a run that did its work.
        if summary.recorded { try? await recorder.packObjects() }
        emit(.summary(summary))
        return summary
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
        manifest.trunk = recorder.mergesIntoMain ? nil : recorder.trunk
        return manifest
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

    /// One step: sample, evaluate, gradient, propose, record, verify, select, merge. What an
    /// interrupted run already committed for this step is reused, not written again.
    func runStep(_ step: Int, context: RunContext, state: inout RunState) async throws -> StepOutcome {
        let search = context.search
        let recorded = try await recorder.recordedCandidates(run: context.runID, step: step, variants: search.variants)
        if recorded.count == search.variants, recorded.values.allSatisfy({ $0.verdict != nil }) {
            let verdicts = try await recorded.values.asyncMap { try await recorder.message($0.verdict!) }
            if !verdicts.contains(where: { $0.value(TrailerKey.verdict) == "accepted" }) { return .alreadyDecided }
        }
        for (variant, record) in recorded {
            let parent = try await recorder.parent(of: record.candidate)
            guard parent == state.tip else {
                throw RunFailure.cannotContinue(
                    "step \(step) v\(variant) of run \(context.runID) was made from \(parent?.short ?? "?"), but main is now at \(state.tip.short); start a new run")
            }
        }
        emit(.stepStarted(step: step, of: search.steps))
        let usageBefore = await runtime.accounting.totals
        let current = try await recorder.promptText(config.task.prompt, at: state.tip)

        // 1-3: a minibatch with errors to learn from.
        guard let batch = try await drawMinibatch(step, prompt: current, context: context) else {
            emit(.stepSkipped(step: step, reason: "no wrong outputs in \(search.redraws + 1) minibatches"))
            return .skipped
        }

        // 4-5: candidates from the operators, each committed on its branch before it is verified.
        let candidates = try await proposeCandidates(step, current: current, batch: batch, recorded: recorded, context: context)
        var commits: [Int: (candidate: ObjectID, verdict: ObjectID?)] = [:]
        for candidate in candidates {
            if let record = recorded[candidate.variant] {
                commits[candidate.variant] = (record.candidate, record.verdict)
                continue
            }
            try await recorder.recordRunIfNew(context.manifest)
            let branch = CandidateBranch(run: context.runID, step: step, variant: candidate.variant)
            let message = StepMessage(
                subject: candidate.summary, body: candidate.feedback,
                trailers: stepTrailers(step, variant: candidate.variant, kind: "candidate", context: context)
                    + operatorTrailers(candidate) + batchTrailers(batch) + settingsTrailers(context))
            let commit = try await recorder.commitCandidate(
                branch: branch, parent: state.tip, promptPath: config.task.prompt, text: candidate.text, message: message)
            commits[candidate.variant] = (commit, nil)
            emit(.candidate(step: step, variant: candidate.variant, branch: branch.name, commit: commit.hex, summary: candidate.summary,
                            operatorName: candidate.operatorName.rawValue, feedback: candidate.feedback))
            state.candidatesRecorded += 1
            if let stop = context.request.stopAfterCandidates, state.candidatesRecorded >= stop { throw OptimizerStop.requested }
        }

        // 6: verification against the current prompt on the holdout set.
        // A verdict an interrupted run already recorded is final; an accepted one is verified
        // again (from the cache) only to get back its holdout results.
        var verdicts: [Int: Verdict] = [:]
        var recordedWinner: Int?
        for candidate in candidates {
            guard let commit = commits[candidate.variant] else { continue }
            if let verdictCommit = commit.verdict {
                let recordedText = try await recorder.message(verdictCommit).value(TrailerKey.verdict) ?? "rejected"
                if recordedText != "accepted" {
                    verdicts[candidate.variant] = Verdict(
                        passed: false, text: recordedText, tally: FlipTally(baseline: []), baselineScore: score(state.baseline),
                        candidateScore: nil, outcomes: [])
                    continue
                }
                recordedWinner = candidate.variant
            }
            verdicts[candidate.variant] = try await verify(candidate, step: step, current: current, candidates: candidates, state: state, context: context)
        }

        // 7: select the best passing candidate, record every verdict, merge the winner.
        let winner: Int?
        if let recordedWinner {
            // The recorded choice stands if it verifies again; a disagreement merges nothing.
            winner = verdicts[recordedWinner]?.passed == true ? recordedWinner : nil
        } else {
            winner = Self.selectWinner(verdicts)
        }
        for candidate in candidates {
            guard var verdict = verdicts[candidate.variant], let commit = commits[candidate.variant] else { continue }
            if verdict.passed, let winner, candidate.variant != winner {
                verdict.passed = false
                verdict.text = "rejected: passed verification, but v\(winner) was better"
                verdicts[candidate.variant] = verdict
            }
            emit(.verdict(step: step, variant: candidate.variant, passed: verdict.passed, text: verdict.text,
                          holdoutBefore: verdict.baselineScore, holdoutAfter: verdict.candidateScore))
            if commit.verdict == nil {
                commits[candidate.variant]?.verdict = try await recordVerdict(
                    verdict, step: step, variant: candidate.variant, candidate: commit.candidate, usageBefore: usageBefore, context: context)
            }
        }
        let rejected = verdicts.count - (winner == nil ? 0 : 1)
        let operators = Dictionary(candidates.map { ($0.variant, $0.operatorName) }, uniquingKeysWith: { first, _ in first })
        guard let winner, let verdict = verdicts[winner], let verdictCommit = commits[winner]?.verdict,
              let candidate = candidates.first(where: { $0.variant == winner })
        else { return .finished(rejected: rejected, operators: operators, accepted: nil) }

        let usage = await runtime.accounting.totals
        let mergeMessage = StepMessage(
            subject: "Step \(step): \(candidate.summary)", body: candidate.feedback,
            trailers: stepTrailers(step, variant: winner, kind: "merge", context: context) + operatorTrailers(candidate)
                + batchTrailers(batch) + verdictTrailers(verdict, accepted: true) + settingsTrailers(context)
                + usageTrailers(usage, since: usageBefore))
        let result: (commit: ObjectID, workingTreeUpdated: Bool)
        do {
            result = try await recorder.merge(verdictCommit: verdictCommit, expectedMain: state.tip, message: mergeMessage)
        } catch GitError.referenceMoved {
            throw RunFailure.cannotContinue(
                "main moved while step \(step) was running (another commit landed); its candidates are kept on their branches; start a new run")
        }
        state.tip = result.commit
        if search.selection == .validated && verdict.complete {
            state.baseline = verdict.outcomes
            let note = try await makeNote(
                split: "holdout", outcomes: verdict.outcomes, total: context.holdout.count, complete: true, commit: result.commit, verdict: "accepted")
            try await recorder.writeNote(note, on: result.commit)
        } else {
            // Naive selection: measure what was accepted, for the record and the next step.
            state.baseline = try await evaluateSplit(
                "holdout", examples: context.holdout, commit: result.commit, evaluator: context.evaluator, prompt: context.pair(candidate.text))
        }
        emit(.merged(step: step, variant: winner, commit: result.commit.hex, holdoutBefore: verdict.baselineScore,
                     holdoutAfter: score(state.baseline), workingTreeUpdated: result.workingTreeUpdated))
        return .finished(
            rejected: rejected, operators: operators,
            accepted: AcceptedStep(
                step: step, variant: winner, operatorName: candidate.operatorName.rawValue, holdoutBefore: verdict.baselineScore,
                holdoutAfter: score(state.baseline)))
    }

    /// A step's minibatch outcomes and the ones selected for feedback.
    struct Minibatch {
        let outcomes: [ExampleOutcome]
        let selected: [ExampleOutcome]
        var errors: Int { outcomes.filter { !$0.correct }.count }
    }

    /// Stages 1-3: seeded minibatches until one has errors (for `feedback = errors`); nil when
    /// every draw was answered right.
    func drawMinibatch(_ step: Int, prompt: String, context: RunContext) async throws -> Minibatch? {
        let search = context.search
        let sampler = MinibatchSampler(seed: search.seed, batchSize: search.batchSize)
        let selector = FeedbackSelector(mode: search.feedback)
        for draw in 0...max(0, search.redraws) {
            let batch = sampler.batch(from: context.train, step: step, draw: draw)
            let outcomes = try await evaluateWithProgress(
                "train batch (step \(step))", evaluator: context.evaluator, prompt: context.pair(prompt), examples: batch)
            let selected = selector.select(outcomes)
            if search.feedback != .errors || !selected.isEmpty { return Minibatch(outcomes: outcomes, selected: selected) }
            emit(.message("step \(step): no errors in batch draw \(draw + 1); drawing another"))
        }
        return nil
    }

    /// Stages 4-5: the candidates of a step, one per variant, each from its scheduled operator.
    /// Candidates an interrupted run already committed are read back from git; only missing
    /// variants are proposed. An operator with nothing to propose leaves its variant empty.
    func proposeCandidates(
        _ step: Int, current: String, batch: Minibatch, recorded: [Int: (candidate: ObjectID, verdict: ObjectID?, message: StepMessage)],
        context: RunContext
    ) async throws -> [ProposedCandidate] {
        let search = context.search
        let schedule = OperatorSchedule(operators: search.operators ?? [.rewrite], variants: search.variants)
        let presenter = LabelPresenter(mode: search.labels, labelSet: config.metric.labels, seed: search.seed)
        let shownTargets = presenter.shownTargets(for: batch.selected.map(\.example), step: step)
        let missing = (1...search.variants).filter { recorded[$0] == nil }
        let operators = Dictionary(missing.map { ($0, makeOperator(schedule.operatorFor(step: step, variant: $0), context: context)) },
                                   uniquingKeysWith: { first, _ in first })

        var gradient: TextualGradient?
        if operators.values.contains(where: \.needsGradient), search.feedback != .none {
            let writer = GradientWriter(
                client: runtime.optimizerClient, metaPrompts: metaPrompts, mode: search.gradient,
                settings: config.optimizerModel, labelSet: config.metric.labels, inputFields: config.task.inputFields)
            emit(.phase(name: "gradient (step \(step))", total: 1))
            gradient = try await writer.gradient(prompt: current, outcomes: batch.selected, shownTargets: shownTargets, step: step)
            emit(.gradient(step: step, errors: batch.errors, batch: batch.outcomes.count, text: gradient?.text ?? ""))
        }
        if !missing.isEmpty { emit(.phase(name: "candidates (step \(step))", total: missing.count)) }

        var candidates: [ProposedCandidate] = []
        for variant in 1...search.variants {
            if let record = recorded[variant] {
                candidates.append(ProposedCandidate(
                    variant: variant,
                    operatorName: record.message.value(TrailerKey.operatorName).flatMap(SearchSettings.Operator.init(rawValue:)) ?? .rewrite,
                    summary: record.message.subject, text: try await recorder.promptText(config.task.prompt, at: record.candidate),
                    feedback: record.message.body,
                    trailers: record.message.trailers.filter { [TrailerKey.demos, TrailerKey.merged].contains($0.key) }))
                continue
            }
            guard let op = operators[variant] else { continue }
            let input = OperatorInput(
                step: step, variant: variant, current: current, promptPath: config.task.prompt, batch: batch.outcomes,
                selected: batch.selected, shownTargets: shownTargets, gradient: gradient, train: context.train,
                excludedIDs: context.excludedIDs, excludedInputs: context.excludedInputs, inputFields: config.task.inputFields,
                labels: config.metric.labels, search: search)
            if let candidate = try await op.propose(input) {
                candidates.append(candidate)
            } else {
                emit(.message("step \(step) v\(variant): the \(op.name.rawValue) operator had nothing to propose"))
            }
        }
        return candidates
    }

    /// The operator stage for one variant.
    func makeOperator(_ name: SearchSettings.Operator, context: RunContext) -> any CandidateOperator {
        switch name {
        case .rules: return RulesOperator(client: runtime.optimizerClient, metaPrompts: metaPrompts, settings: config.optimizerModel)
        case .demos: return DemosOperator()
        case .rewrite: return RewriteOperator(client: runtime.optimizerClient, metaPrompts: metaPrompts, settings: config.optimizerModel)
        case .merge: return MergeOperator(recorder: recorder, run: context.runID)
        }
    }

    /// Stage 6 for one candidate: regularized verification, or the naive baseline's acceptance.
    func verify(
        _ candidate: ProposedCandidate, step: Int, current: String, candidates: [ProposedCandidate], state: RunState, context: RunContext
    ) async throws -> Verdict {
        let holdout = context.holdout
        let unverified = { (passed: Bool, text: String, score: Double?) in
            Verdict(passed: passed, text: text, tally: FlipTally(baseline: []), baselineScore: self.score(state.baseline),
                    candidateScore: score, outcomes: [])
        }
        if candidate.text.trimmingCharacters(in: .whitespacesAndNewlines) == current.trimmingCharacters(in: .whitespacesAndNewlines) {
            return unverified(false, "rejected: identical to the current prompt", score(state.baseline))
        }
        if let problem = PromptFile.parse(candidate.text).problems(path: context.promptPath, inputFields: context.inputFields).first {
            return unverified(false, "rejected: \(problem)", nil)
        }
        if context.search.selection == .naive {
            let first = candidates.first { $0.text != current }?.variant
            return candidate.variant == first
                ? unverified(true, "accepted (naive selection: not verified)", nil)
                : unverified(false, "rejected: naive selection takes the first candidate", nil)
        }
        let name = "verify s\(step)v\(candidate.variant)"
        emit(.phase(name: name, total: holdout.count))
        if let example = holdout.first {
            do {
                _ = try context.pair(candidate.text).messages(for: example)
            } catch let error as EvaluationError {
                return unverified(false, "rejected: the prompt does not render (\(error))", nil)
            }
        }
        let verifier = Verifier(
            evaluator: context.evaluator, rule: PreservationRule(context.search),
            audit: AuditSettings(
                mode: context.search.prevalence, labels: config.metric.kind == .choice ? config.metric.labels : [],
                collapseShare: context.search.collapseShare))
        return try await verifier.verify(
            candidate: context.pair(candidate.text), holdout: holdout, baseline: state.baseline,
            progress: progressReporter(name, total: holdout.count))
    }

    /// The best passing candidate: most net improvements, then fewest regressions, then lowest variant.
    static func selectWinner(_ verdicts: [Int: Verdict]) -> Int? {
        verdicts.filter(\.value.passed).min { a, b in
            let netA = a.value.tally.improvements - a.value.tally.regressions
            let netB = b.value.tally.improvements - b.value.tally.regressions
            if netA != netB { return netA > netB }
            if a.value.tally.regressions != b.value.tally.regressions { return a.value.tally.regressions < b.value.tally.regressions }
            return a.key < b.key
        }?.key
    }

    /// Writes a verdict commit on the candidate's branch and the candidate's holdout note.
    func recordVerdict(
        _ verdict: Verdict, step: Int, variant: Int, candidate: ObjectID, usageBefore: UsageTotals, context: RunContext
    ) async throws -> ObjectID {
        let usage = await runtime.accounting.totals
        let body = ([verdict.text] + (verdict.audit.map { [""] + $0.lines } ?? [])).joined(separator: "\n")
        let message = StepMessage(
            subject: "Verdict s\(step)v\(variant): \(verdict.passed ? "accepted" : "rejected")", body: body,
            trailers: stepTrailers(step, variant: variant, kind: "verdict", context: context)
                + verdictTrailers(verdict, accepted: verdict.passed) + usageTrailers(usage, since: usageBefore))
        let branch = CandidateBranch(run: context.runID, step: step, variant: variant)
        let commit = try await recorder.commitVerdict(branch: branch, candidate: candidate, message: message)
        if !verdict.outcomes.isEmpty {
            let note = try await makeNote(
                split: "holdout", outcomes: verdict.outcomes, total: context.holdout.count, complete: verdict.complete,
                commit: candidate, verdict: verdict.text)
            try await recorder.writeNote(note, on: candidate)
        }
        return commit
    }

    // MARK: - Trailers

    func stepTrailers(_ step: Int, variant: Int, kind: String, context: RunContext) -> [Trailer] {
        [
            Trailer(key: TrailerKey.run, value: context.runID.value),
            Trailer(key: TrailerKey.step, value: String(step)),
            Trailer(key: TrailerKey.variant, value: "\(variant)/\(context.search.variants)"),
            Trailer(key: TrailerKey.kind, value: kind),
        ]
    }

    func operatorTrailers(_ candidate: ProposedCandidate) -> [Trailer] {
        [Trailer(key: TrailerKey.operatorName, value: candidate.operatorName.rawValue)] + candidate.trailers
    }

    func batchTrailers(_ batch: Minibatch) -> [Trailer] {
        [
            Trailer(key: TrailerKey.errors, value: "\(batch.errors)/\(batch.outcomes.count)"),
            Trailer(key: TrailerKey.scoreTrain, value: format(score(batch.outcomes))),
        ]
    }

    func verdictTrailers(_ verdict: Verdict, accepted: Bool) -> [Trailer] {
        var trailers = [
            Trailer(key: TrailerKey.scoreHoldout, value: holdoutChange(verdict)),
            Trailer(key: TrailerKey.regressions, value: String(verdict.tally.regressions)),
            Trailer(key: TrailerKey.improvements, value: String(verdict.tally.improvements)),
        ]
        if let audit = verdict.audit {
            trailers += [
                Trailer(key: TrailerKey.prevalence, value: audit.verdictText),
                Trailer(key: TrailerKey.balancedAccuracy, value: "\(format(audit.parentBalancedAccuracy)) -> \(format(audit.candidateBalancedAccuracy))"),
                Trailer(key: TrailerKey.majorityBaseline, value: "\(format(audit.majorityBaseline)) (\(audit.majorityLabel))"),
            ]
        }
        return trailers + [Trailer(key: TrailerKey.verdict, value: accepted ? "accepted" : verdict.text)]
    }

    /// `before -> after`, marking a score measured on only part of the holdout set.
    func holdoutChange(_ verdict: Verdict) -> String {
        guard let after = verdict.candidateScore else { return "\(format(verdict.baselineScore)) -> n/a" }
        let partial = verdict.complete ? "" : " (on \(verdict.tally.evaluated)/\(verdict.tally.baseline.count))"
        return "\(format(verdict.baselineScore)) -> \(format(after))\(partial)"
    }

    func settingsTrailers(_ context: RunContext) -> [Trailer] {
        [
            Trailer(key: TrailerKey.model, value: config.model.name),
            Trailer(key: TrailerKey.optimizerModel, value: config.optimizerModel.name),
            Trailer(key: TrailerKey.settings, value: context.manifest.settingsTrailer),
            Trailer(key: TrailerKey.seed, value: String(context.search.seed)),
        ]
    }

    func usageTrailers(_ usage: UsageTotals, since before: UsageTotals) -> [Trailer] {
        [
            Trailer(key: TrailerKey.calls, value: String(usage.calls - before.calls)),
            Trailer(key: TrailerKey.tokens, value: String(usage.tokens - before.tokens)),
        ]
    }

    // MARK: - Helpers

    /// Evaluates a whole split of a commit's prompt, reusing the commit's note when it already
    /// holds complete results for the same prompt and model; writes the note otherwise.
    func evaluateSplit(_ split: String, examples: [Example], commit: ObjectID, evaluator: Evaluator, prompt: PromptPair) async throws -> [ExampleOutcome] {
        let blob = try await recorder.promptBlob(config.task.prompt, at: commit)
        if let note = try await recorder.note(commit), note.promptBlob == blob, note.model == EvaluationNote.ModelInfo(config.model),
           let existing = note.split(split), existing.complete, existing.examples.count == examples.count
        {
            let byID = Dictionary(existing.examples.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            // The note keeps the raw answer; the label in it is extracted again, so per-class recall
            // and the prevalence audit see the same labels as for a fresh evaluation.
            let choice = evaluator.scorer as? ChoiceScorer
            let outcomes = examples.compactMap { example in
                byID[example.id].map { result in
                    let extracted = choice.map { scorer in scorer.extract(result.output) ?? "" } ?? result.output
                    return ExampleOutcome(
                        example: example, output: result.output, score: Score(extracted: extracted, correct: result.correct, value: result.score),
                        cached: true)
                }
            }
            if outcomes.count == examples.count { return outcomes }
        }
        let outcomes = try await evaluateWithProgress("\(split) \(commit.short)", evaluator: evaluator, prompt: prompt, examples: examples)
        let note = try await makeNote(split: split, outcomes: outcomes, total: examples.count, complete: true, commit: commit, verdict: nil)
        try await recorder.writeNote(note, on: commit)
        return outcomes
    }

    func evaluateWithProgress(_ name: String, evaluator: Evaluator, prompt: PromptPair, examples: [Example]) async throws -> [ExampleOutcome] {
        emit(.phase(name: name, total: examples.count))
        return try await evaluator.evaluate(prompt: prompt, examples: examples, progress: progressReporter(name, total: examples.count))
    }

    func progressReporter(_ name: String, total: Int) -> @Sendable (ExampleOutcome) -> Void {
        let counter = ProgressCounter()
        let accounting = runtime.accounting
        let emit = self.emit
        return { outcome in
            let (done, hits) = counter.add(cached: outcome.cached)
            Task {
                let tokens = await accounting.totals.tokens
                emit(.progress(name: name, done: done, total: total, cacheHits: hits, tokens: tokens))
            }
        }
    }

    func makeNote(split: String, outcomes: [ExampleOutcome], total: Int, complete: Bool, commit: ObjectID, verdict: String?) async throws -> EvaluationNote {
        var note = EvaluationNote.recording(
            .init(split: split, score: score(outcomes), correct: outcomes.filter(\.correct).count, total: total, complete: complete,
                  examples: outcomes.map(\.noteResult)),
            in: try await recorder.note(commit), promptBlob: try await recorder.promptBlob(config.task.prompt, at: commit),
            model: .init(config.model), metric: config.metric.kind.rawValue)
        if let verdict { note.verdict = verdict }
        return note
    }

    func score(_ outcomes: [ExampleOutcome]) -> Double { meanScore(outcomes) }

    func format(_ value: Double) -> String { String(format: "%.3f", value) }

    func estimateCost(calls: Int) -> Double? {
        guard let task = config.prices[config.model.name], let optimizer = config.prices[config.optimizerModel.name] else { return nil }
        // A rough per-call size: 400 prompt tokens and 50 completion tokens for the task, more for the optimizer.
        let perCall = (400 * task.inputPerMillion + 50 * task.outputPerMillion) / 1_000_000
        let optimizerShare = (1500 * optimizer.inputPerMillion + 500 * optimizer.outputPerMillion) / 1_000_000
        return Double(calls) * perCall + Double(config.search.steps * (config.search.variants + 1)) * optimizerShare
    }
}

enum OptimizerStop: Error { case requested }

/// Why a run stopped with an error, with what to do next.
public enum RunFailure: Error, Sendable, CustomStringConvertible {
    /// A model call failed; `recorded` says whether the run has anything to resume.
    case modelFailed(run: String, recorded: Bool, cause: LLMError)
    /// The run can never go on (main moved under it); it is marked stopped.
    case cannotContinue(String)

    public var description: String {
        switch self {
        case .modelFailed(let run, let recorded, let cause):
            return cause.description + (recorded
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
