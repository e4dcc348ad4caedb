import Evaluation
import Foundation
import LLM
import PromptRepo

/// One step of a run, read top to bottom: the stages in the order they run, each a function with
/// a named input and output.
///
///     resume:   what git holds for the step           -> RecordedCandidates?
///     sample:   minibatches, evaluated, until errors  -> Minibatch?
///     propose:  a gradient, bootstrapped answers      -> [ProposedCandidate]
///               (no label set), and the operators
///     screen:   every candidate on train rows; the    -> [ProposedCandidate]
///               best few go on (Screening.swift)
///     commit:   each candidate on its own branch      -> CandidateCommits
///     verify:   each candidate against the holdout    -> StepVerification
///     decide:   the winner, every verdict recorded    -> StepDecision
///     merge:    the winner into the trunk             -> AcceptedStep?
///
/// Resume comes first: what an interrupted run already recorded for this step is read once, and
/// the later stages reuse it instead of writing it again. The work inside the stages lives in
/// types of its own (`GradientWriter`, the operators, `Verifier`, `StepRecord`), none of which
/// calls back into this file.
extension OptimizerRun {
    /// An interrupted run's candidates of a step, by variant.
    typealias RecordedCandidates = [Int: RunLedger.RecordedCandidate]

    /// Each variant's candidate commit and, once decided, its verdict commit.
    typealias CandidateCommits = [Int: (candidate: ObjectID, verdict: ObjectID?)]

    /// A step's minibatch outcomes and the ones selected for feedback.
    struct Minibatch {
        let outcomes: [ExampleOutcome]
        let selected: [ExampleOutcome]
        var errors: Int { outcomes.filter { !$0.correct }.count }
    }

    /// Verification's output: a verdict per variant, and the winner an interrupted run chose.
    struct StepVerification {
        var verdicts: [Int: Verdict]
        var recordedWinner: Int?
    }

    /// The decision's output: the winner (if any) and every variant's final verdict, recorded.
    struct StepDecision {
        var winner: Int?
        var verdicts: [Int: Verdict]
        var commits: CandidateCommits
    }

    func runStep(_ step: Int, context: RunContext, state: inout RunState) async throws -> StepOutcome {
        guard let recorded = try await resume(step, context: context, tip: state.tip) else { return .alreadyDecided }
        emit(.stepStarted(step: step, of: context.search.steps))
        let usageBefore = await runtime.accounting.totals
        let current = try await promptText(at: state.tip)
        guard let batch = try await sample(step, prompt: current, context: context) else {
            emit(.stepSkipped(step: step, reason: "no wrong outputs in \(context.search.redraws + 1) minibatches"))
            return .skipped
        }
        let record = StepRecord(run: self, context: context, step: step)
        let callsAtPropose = await runtime.accounting.totals.calls
        let proposed = try await propose(step, current: current, batch: batch, recorded: recorded, context: context)
        let callsAtScreen = await runtime.accounting.totals.calls
        let candidates = try await screen(proposed, step: step, current: current, batch: batch, recorded: recorded, context: context)
        let commits = try await commit(candidates, batch: batch, recorded: recorded, record: record, state: &state)
        let callsAtVerify = await runtime.accounting.totals.calls
        let verification = try await verify(candidates, commits: commits, step: step, current: current, state: state, context: context)
        let callsAfter = await runtime.accounting.totals.calls
        emit(.message("step \(step): model calls: \(callsAtScreen - callsAtPropose) proposing (gradient, rules, answers and checks on train), "
            + "\(callsAtVerify - callsAtScreen) screening, \(callsAfter - callsAtVerify) verifying on the holdout"))
        let decision = try await decide(verification, candidates: candidates, commits: commits, record: record, usageBefore: usageBefore)
        let rejected = decision.verdicts.count - (decision.winner == nil ? 0 : 1)
        let operators = Dictionary(candidates.map { ($0.variant, $0.operatorName) }, uniquingKeysWith: { first, _ in first })
        let judged = decision.verdicts.values.filter { $0.tally.evaluated > 0 }.count
        guard let winner = decision.winner, let candidate = candidates.first(where: { $0.variant == winner }) else {
            return .finished(rejected: rejected, operators: operators, accepted: nil, judged: judged)
        }
        let accepted = try await merge(candidate, decision: decision, batch: batch, record: record, usageBefore: usageBefore, state: &state)
        return .finished(rejected: rejected, operators: operators, accepted: accepted, judged: judged)
    }

    /// Resume: what git already holds for the step. Nil when an interrupted run decided every
    /// variant and accepted none (nothing left to do); an error when its candidates were made
    /// from another trunk tip than the one the run continues from.
    func resume(_ step: Int, context: RunContext, tip: ObjectID) async throws -> RecordedCandidates? {
        let (run, variants) = (context.runID, context.search.variants)
        let recorded = try await store.reading { try $0.recordedCandidates(run: run, step: step, variants: variants) }
        if recorded.count == variants, recorded.values.allSatisfy({ $0.verdict != nil }) {
            let verdicts = try await store.reading { ledger in try recorded.values.map { try ledger.repository.stepMessage($0.verdict!) } }
            if !verdicts.contains(where: { $0.value(TrailerKey.verdict) == "accepted" }) { return nil }
        }
        for (variant, record) in recorded {
            let candidate = record.candidate
            let parent = try await store.reading { try $0.repository.firstParent(of: candidate) }
            guard parent == tip else {
                throw OptimizerError.cannotContinue(
                    "step \(step) v\(variant) of run \(context.runID) was made from \(parent?.short ?? "?"), but main is now at \(tip.short); start a new run")
            }
        }
        return recorded
    }

    /// Sample: seeded minibatches, evaluated, until one has errors (for `feedback = errors`); nil
    /// when every draw was answered right.
    func sample(_ step: Int, prompt: String, context: RunContext) async throws -> Minibatch? {
        let search = context.search
        let sampler = MinibatchSampler(seed: search.seed, batchSize: search.batchSize)
        let selector = FeedbackSelector(mode: search.feedback)
        for draw in 0...max(0, search.redraws) {
            let batch = sampler.batch(from: context.train, step: step, draw: draw)
            let outcomes = try await evaluateWithProgress(
                "train batch (step \(step))", evaluator: context.evaluator, prompt: try context.pair(prompt), examples: batch)
            let selected = selector.select(outcomes)
            if search.feedback != .errors || !selected.isEmpty { return Minibatch(outcomes: outcomes, selected: selected) }
            emit(.message("step \(step): no errors in batch draw \(draw + 1); drawing another"))
        }
        return nil
    }

    /// Propose: the candidates of a step, one per variant, each from its scheduled operator.
    /// Candidates an interrupted run already committed are read back from git; only missing
    /// variants are proposed. An operator with nothing to propose leaves its variant empty.
    func propose(
        _ step: Int, current: String, batch: Minibatch, recorded: RecordedCandidates, context: RunContext
    ) async throws -> [ProposedCandidate] {
        let search = context.search
        let schedule = OperatorSchedule(operators: search.operators ?? [.rewrite], variants: search.variants)
        let shownTargets = LabelPresenter(mode: search.labels, labelSet: config.metric.labels, seed: search.seed)
            .shownTargets(for: batch.selected.map(\.example), step: step)
        let missing = (1...search.variants).filter { recorded[$0] == nil }
        let operators = Dictionary(missing.map { ($0, schedule.operatorFor(step: step, variant: $0).make(tools(context))) },
                                   uniquingKeysWith: { first, _ in first })
        let gradient = operators.values.contains(where: \.needsGradient) && search.feedback != .none
            ? try await writeGradient(step, current: current, batch: batch, shownTargets: shownTargets, context: context) : nil
        let rejected = missing.isEmpty ? RejectedIdeas() : try await rejectedIdeas(before: step, context: context)
        let trainOutcomes = operators.values.contains { $0.name == .demos } && config.metric.labels.isEmpty
            ? try await bootstrap(step, current: current, batch: batch, context: context) : []
        if !missing.isEmpty { emit(.phase(name: "candidates (step \(step))", total: missing.count)) }
        var candidates: [ProposedCandidate] = []
        for variant in 1...search.variants {
            if let record = recorded[variant] {
                candidates.append(ProposedCandidate(recorded: record, variant: variant, text: try await promptText(at: record.candidate)))
                continue
            }
            guard let op = operators[variant] else { continue }
            var input = OperatorInput(
                step: step, variant: variant, current: current, promptPath: config.task.prompt, batch: batch.outcomes,
                selected: batch.selected, shownTargets: shownTargets, gradient: gradient, train: context.train,
                excludedIDs: context.excludedIDs, excludedInputs: context.excludedInputs, inputFields: config.task.inputFields,
                labels: config.metric.labels, search: search)
            input.rejected = rejected
            input.trainOutcomes = trainOutcomes
            input.probe = { text, rows in
                try await evaluateWithProgress(
                    "checking v\(variant) on train (step \(step))", evaluator: context.evaluator, prompt: try context.pair(text), examples: rows)
            }
            do {
                if let candidate = try await op.propose(input) {
                    candidates.append(candidate)
                } else {
                    emit(.message("step \(step) v\(variant): the \(op.name.rawValue) operator had nothing to propose"))
                }
            } catch let declined as NotProposed {
                emit(.message("step \(step) v\(variant) [\(op.name.rawValue)]: not proposed: \(declined.reason)"))
            }
        }
        return candidates
    }

    /// Bootstrap: for a task without a label set, the current prompt's answers to a few more
    /// train rows (seeded, outside the minibatch, cached), so the `demos` operator can show the
    /// model's own right answers as worked examples.
    func bootstrap(_ step: Int, current: String, batch: Minibatch, context: RunContext) async throws -> [ExampleOutcome] {
        let rows = trainRows(outside: batch, step: step, salt: 0xb007, count: context.search.maxDemos, context: context)
        guard !rows.isEmpty else { return [] }
        return try await evaluateWithProgress(
            "bootstrap answers (step \(step))", evaluator: context.evaluator, prompt: try context.pair(current), examples: rows)
    }

    /// Up to `count` train rows outside the step's minibatch, in a seeded order (`salt` keeps
    /// screening's rows and bootstrapping's apart, and a resumed run draws the same).
    func trainRows(outside batch: Minibatch, step: Int, salt: Int, count: Int, context: RunContext) -> [Example] {
        let inBatch = Set(batch.outcomes.map(\.example.id))
        var generator = SeededGenerator(context.search.seed, step, 0, salt)
        return Array(context.train.filter { !inBatch.contains($0.id) }.shuffled(using: &generator).prefix(count))
    }

    /// Commit: each new candidate on its own branch (recorded ones are reused).
    func commit(
        _ candidates: [ProposedCandidate], batch: Minibatch, recorded: RecordedCandidates, record: StepRecord, state: inout RunState
    ) async throws -> CandidateCommits {
        let (step, context) = (record.step, record.context)
        var commits: CandidateCommits = [:]
        for candidate in candidates {
            if let recordedCandidate = recorded[candidate.variant] {
                commits[candidate.variant] = (recordedCandidate.candidate, recordedCandidate.verdict)
                continue
            }
            try await store.recordRunIfNew(context.manifest)
            let branch = CandidateBranch(run: context.runID, step: step, variant: candidate.variant)
            let commit = try await store.commitCandidate(
                branch: branch, parent: state.tip, promptPath: config.task.prompt, text: candidate.text,
                message: record.candidateMessage(candidate, batch: batch))
            commits[candidate.variant] = (commit, nil)
            emit(.candidate(step: step, variant: candidate.variant, branch: branch.name, commit: commit.hex, summary: candidate.summary,
                            operatorName: candidate.operatorName.rawValue, feedback: candidate.feedback))
            state.candidatesRecorded += 1
            if let stop = context.request.stopAfterCandidates, state.candidatesRecorded >= stop { throw OptimizerStop.requested }
        }
        return commits
    }

    /// Verify: a verdict per candidate (see `CandidateCheck`). A verdict an interrupted run
    /// already recorded is final; an accepted one is verified again (from the cache) only to get
    /// back its holdout results.
    func verify(
        _ candidates: [ProposedCandidate], commits: CandidateCommits, step: Int, current: String, state: RunState, context: RunContext
    ) async throws -> StepVerification {
        var result = StepVerification(verdicts: [:], recordedWinner: nil)
        let check = CandidateCheck(run: self, context: context, step: step, current: current, baseline: state.baseline)
        // Each candidate checked once: the ones that pass reach the holdout and count for Bonferroni.
        let problems = Dictionary(candidates.map { ($0.variant, check.problem($0)) }, uniquingKeysWith: { a, _ in a })
        let comparisons = problems.values.filter { $0 == nil }.count
        for candidate in candidates {
            guard let commit = commits[candidate.variant] else { continue }
            if let verdictCommit = commit.verdict {
                let recordedText = try await store.reading { try $0.repository.stepMessage(verdictCommit) }.value(TrailerKey.verdict) ?? "rejected"
                if recordedText != "accepted" {
                    result.verdicts[candidate.variant] = check.unverified(passed: false, text: recordedText)
                    continue
                }
                result.recordedWinner = candidate.variant
            }
            result.verdicts[candidate.variant] = try await check.verdict(
                candidate, problem: problems[candidate.variant] ?? nil, candidates: candidates, comparisons: comparisons)
        }
        return result
    }

    /// Decide: the winner (an interrupted run's choice stands if it verifies again; a
    /// disagreement merges nothing), every other passing candidate marked as beaten, and every
    /// verdict not yet in git recorded on its branch.
    func decide(
        _ verification: StepVerification, candidates: [ProposedCandidate], commits: CandidateCommits, record: StepRecord,
        usageBefore: UsageTotals
    ) async throws -> StepDecision {
        let step = record.step
        var verdicts = verification.verdicts
        let winner = verification.recordedWinner.map { verdicts[$0]?.passed == true ? $0 : nil } ?? CandidateCheck.selectWinner(verdicts)
        var commits = commits
        for candidate in candidates {
            guard var verdict = verdicts[candidate.variant], let commit = commits[candidate.variant] else { continue }
            if verdict.passed, let winner, candidate.variant != winner {
                verdict.passed = false
                verdict.text = "\(Verdict.outrankedPrefix) v\(winner) was better"
                verdicts[candidate.variant] = verdict
            }
            emit(.verdict(step: step, variant: candidate.variant, passed: verdict.passed, text: verdict.text,
                          holdoutBefore: verdict.baselineScore, holdoutAfter: verdict.candidateScore))
            if commit.verdict == nil {
                commits[candidate.variant]?.verdict = try await record.recordVerdict(
                    verdict, variant: candidate.variant, candidate: commit.candidate, usageBefore: usageBefore)
            }
        }
        return StepDecision(winner: winner, verdicts: verdicts, commits: commits)
    }

    /// Merge: the winner into the trunk (compare-and-swap: a trunk that moved stops the run, its
    /// candidates kept), its holdout results noted, the state moved on.
    func merge(
        _ candidate: ProposedCandidate, decision: StepDecision, batch: Minibatch, record: StepRecord, usageBefore: UsageTotals,
        state: inout RunState
    ) async throws -> AcceptedStep? {
        let (winner, step, context) = (candidate.variant, record.step, record.context)
        guard let verdict = decision.verdicts[winner], let verdictCommit = decision.commits[winner]?.verdict else { return nil }
        let message = record.mergeMessage(candidate, verdict: verdict, batch: batch, usage: await runtime.accounting.totals, since: usageBefore)
        let result: (commit: ObjectID, workingTreeUpdated: Bool)
        do {
            result = try await store.merge(verdictCommit: verdictCommit, into: trunk, expectedTip: state.tip, message: message)
        } catch is RunStore.TrunkMoved {
            throw OptimizerError.cannotContinue(
                "main moved while step \(step) was running (another commit landed); its candidates are kept on their branches; start a new run")
        }
        state.tip = result.commit
        if context.search.selection == .validated && verdict.complete {
            state.baseline = verdict.outcomes
            try await recordSplit(verdict.outcomes, split: "holdout", total: context.holdout.count, verdict: "accepted", of: result.commit)
        } else {
            // Naive selection: measure what was accepted, for the record and the next step.
            state.baseline = try await evaluateSplit(
                "holdout", examples: context.holdout, commit: result.commit, evaluator: context.evaluator, prompt: try context.pair(candidate.text))
        }
        emit(.merged(step: step, variant: winner, commit: result.commit.hex, holdoutBefore: verdict.baselineScore,
                     holdoutAfter: score(state.baseline), workingTreeUpdated: result.workingTreeUpdated))
        return AcceptedStep(
            step: step, variant: winner, operatorName: candidate.operatorName.rawValue, holdoutBefore: verdict.baselineScore,
            holdoutAfter: score(state.baseline))
    }
}
