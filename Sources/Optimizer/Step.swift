import Evaluation
import Foundation
import LLM
import PromptRepo

/// One step of a run as a pipeline of stages, each a function with a named input and output:
///
///     what git holds (RecordedCandidates?) -> minibatch (Minibatch?) -> candidates ([ProposedCandidate])
///       -> committed candidates (CandidateCommits) -> verification (StepVerification)
///       -> decision (StepDecision) -> merged step (AcceptedStep?)
///
/// Resume is the first stage: what an interrupted run already recorded for this step is read
/// once, and the later stages reuse it instead of writing it again.
extension OptimizerRun {
    /// An interrupted run's candidates of a step, by variant.
    typealias RecordedCandidates = [Int: (candidate: ObjectID, verdict: ObjectID?, message: StepMessage)]

    /// Each variant's candidate commit and, once decided, its verdict commit.
    typealias CandidateCommits = [Int: (candidate: ObjectID, verdict: ObjectID?)]

    /// Verification's output: a verdict per variant, and the winner an interrupted run chose.
    struct StepVerification {
        var verdicts: [Int: Verdict]
        var recordedWinner: Int?
    }

    /// Selection's output: the winner (if any) and every variant's final verdict, recorded.
    struct StepDecision {
        var winner: Int?
        var verdicts: [Int: Verdict]
        var commits: CandidateCommits
    }

    func runStep(_ step: Int, context: RunContext, state: inout RunState) async throws -> StepOutcome {
        guard let recorded = try await recordedCandidates(step, context: context, tip: state.tip) else { return .alreadyDecided }
        emit(.stepStarted(step: step, of: context.search.steps))
        let usageBefore = await runtime.accounting.totals
        let current = try await recorder.promptText(config.task.prompt, at: state.tip)

        // 1-3: a minibatch with errors to learn from.
        guard let batch = try await drawMinibatch(step, prompt: current, context: context) else {
            emit(.stepSkipped(step: step, reason: "no wrong outputs in \(context.search.redraws + 1) minibatches"))
            return .skipped
        }
        // 4-5: candidates from the operators, each committed on its branch before it is verified.
        let candidates = try await proposeCandidates(step, current: current, batch: batch, recorded: recorded, context: context)
        let commits = try await commitCandidates(candidates, step: step, batch: batch, recorded: recorded, context: context, state: &state)
        // 6: verification against the current prompt on the holdout set.
        let verification = try await verifyCandidates(candidates, commits: commits, step: step, current: current, state: state, context: context)
        // 7: select the best passing candidate, record every verdict, merge the winner.
        let decision = try await decide(verification, candidates: candidates, commits: commits, step: step, usageBefore: usageBefore, context: context)
        let rejected = decision.verdicts.count - (decision.winner == nil ? 0 : 1)
        let operators = Dictionary(candidates.map { ($0.variant, $0.operatorName) }, uniquingKeysWith: { first, _ in first })
        let judged = decision.verdicts.values.filter { $0.tally.evaluated > 0 }.count
        guard let winner = decision.winner, let candidate = candidates.first(where: { $0.variant == winner }) else {
            return .finished(rejected: rejected, operators: operators, accepted: nil, judged: judged)
        }
        let accepted = try await mergeWinner(
            candidate, decision: decision, step: step, batch: batch, usageBefore: usageBefore, context: context, state: &state)
        return .finished(rejected: rejected, operators: operators, accepted: accepted, judged: judged)
    }

    /// Stage 0: what git already holds for the step. Nil when an interrupted run decided every
    /// variant and accepted none (nothing left to do); an error when its candidates were made
    /// from another main than the one the run continues from.
    func recordedCandidates(_ step: Int, context: RunContext, tip: ObjectID) async throws -> RecordedCandidates? {
        let variants = context.search.variants
        let recorded = try await recorder.recordedCandidates(run: context.runID, step: step, variants: variants)
        if recorded.count == variants, recorded.values.allSatisfy({ $0.verdict != nil }) {
            let verdicts = try await recorded.values.asyncMap { try await recorder.message($0.verdict!) }
            if !verdicts.contains(where: { $0.value(TrailerKey.verdict) == "accepted" }) { return nil }
        }
        for (variant, record) in recorded {
            let parent = try await recorder.parent(of: record.candidate)
            guard parent == tip else {
                throw RunFailure.cannotContinue(
                    "step \(step) v\(variant) of run \(context.runID) was made from \(parent?.short ?? "?"), but main is now at \(tip.short); start a new run")
            }
        }
        return recorded
    }

    /// Stage 5: each new candidate committed on its own branch (recorded ones are reused).
    func commitCandidates(
        _ candidates: [ProposedCandidate], step: Int, batch: Minibatch, recorded: RecordedCandidates, context: RunContext,
        state: inout RunState
    ) async throws -> CandidateCommits {
        var commits: CandidateCommits = [:]
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
        return commits
    }

    /// Stage 6: a verdict per candidate. A verdict an interrupted run already recorded is final;
    /// an accepted one is verified again (from the cache) only to get back its holdout results.
    func verifyCandidates(
        _ candidates: [ProposedCandidate], commits: CandidateCommits, step: Int, current: String, state: RunState, context: RunContext
    ) async throws -> StepVerification {
        var result = StepVerification(verdicts: [:], recordedWinner: nil)
        // Each candidate checked once: the ones that pass reach the holdout and count for Bonferroni.
        let problems = Dictionary(candidates.map { ($0.variant, precheck($0, current: current, context: context)) }, uniquingKeysWith: { a, _ in a })
        let comparisons = problems.values.filter { $0 == nil }.count
        for candidate in candidates {
            guard let commit = commits[candidate.variant] else { continue }
            if let verdictCommit = commit.verdict {
                let recordedText = try await recorder.message(verdictCommit).value(TrailerKey.verdict) ?? "rejected"
                if recordedText != "accepted" {
                    result.verdicts[candidate.variant] = Verdict(
                        passed: false, text: recordedText, tally: FlipTally(baseline: []), baselineScore: score(state.baseline),
                        candidateScore: nil, outcomes: [])
                    continue
                }
                result.recordedWinner = candidate.variant
            }
            result.verdicts[candidate.variant] = try await verify(
                candidate, problem: problems[candidate.variant] ?? nil, step: step, current: current, candidates: candidates,
                comparisons: comparisons, state: state, context: context)
        }
        return result
    }

    /// Stage 7a: the winner (an interrupted run's choice stands if it verifies again; a
    /// disagreement merges nothing), every other passing candidate marked as beaten, and every
    /// verdict not yet in git recorded on its branch.
    func decide(
        _ verification: StepVerification, candidates: [ProposedCandidate], commits: CandidateCommits, step: Int,
        usageBefore: UsageTotals, context: RunContext
    ) async throws -> StepDecision {
        var verdicts = verification.verdicts
        let winner: Int?
        if let recorded = verification.recordedWinner {
            winner = verdicts[recorded]?.passed == true ? recorded : nil
        } else {
            winner = Self.selectWinner(verdicts)
        }
        var commits = commits
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
        return StepDecision(winner: winner, verdicts: verdicts, commits: commits)
    }

    /// Stage 7b: the winner merged into the trunk (compare-and-swap: a trunk that moved stops
    /// the run, its candidates kept), its holdout results noted, the state moved on.
    func mergeWinner(
        _ candidate: ProposedCandidate, decision: StepDecision, step: Int, batch: Minibatch, usageBefore: UsageTotals,
        context: RunContext, state: inout RunState
    ) async throws -> AcceptedStep? {
        let winner = candidate.variant
        guard let verdict = decision.verdicts[winner], let verdictCommit = decision.commits[winner]?.verdict else { return nil }
        let usage = await runtime.accounting.totals
        let mergeMessage = StepMessage(
            subject: "Step \(step): \(candidate.summary)", body: candidate.feedback,
            trailers: stepTrailers(step, variant: winner, kind: "merge", context: context) + operatorTrailers(candidate)
                + batchTrailers(batch) + verdictTrailers(verdict, accepted: true) + settingsTrailers(context)
                + usageTrailers(usage, since: usageBefore))
        let result: (commit: ObjectID, workingTreeUpdated: Bool)
        do {
            result = try await recorder.merge(verdictCommit: verdictCommit, expectedMain: state.tip, message: mergeMessage)
        } catch is RunStore.TrunkMoved {
            throw RunFailure.cannotContinue(
                "main moved while step \(step) was running (another commit landed); its candidates are kept on their branches; start a new run")
        }
        state.tip = result.commit
        if context.search.selection == .validated && verdict.complete {
            state.baseline = verdict.outcomes
            try await recorder.recordEvaluation(
                verdict.outcomes, split: "holdout", total: context.holdout.count, verdict: "accepted", of: result.commit, config: config)
        } else {
            // Naive selection: measure what was accepted, for the record and the next step.
            state.baseline = try await evaluateSplit(
                "holdout", examples: context.holdout, commit: result.commit, evaluator: context.evaluator, prompt: context.pair(candidate.text))
        }
        emit(.merged(step: step, variant: winner, commit: result.commit.hex, holdoutBefore: verdict.baselineScore,
                     holdoutAfter: score(state.baseline), workingTreeUpdated: result.workingTreeUpdated))
        return AcceptedStep(
            step: step, variant: winner, operatorName: candidate.operatorName.rawValue, holdoutBefore: verdict.baselineScore,
            holdoutAfter: score(state.baseline))
    }
}
