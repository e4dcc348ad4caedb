import Evaluation
import Foundation
import LLM
import PromptRepo

/// What a step writes to git: its commit messages with their trailers (what
/// `git log --format=%(trailers)` shows of a step), and the verdict commits with their notes.
struct StepRecord {
    let run: OptimizerRun
    let context: OptimizerRun.RunContext
    let step: Int

    /// A candidate's commit message: the operator's summary and feedback (the textual gradient).
    func candidateMessage(_ candidate: ProposedCandidate, batch: OptimizerRun.Minibatch) -> StepMessage {
        StepMessage(
            subject: candidate.summary, body: candidate.feedback,
            trailers: stepTrailers(variant: candidate.variant, kind: "candidate") + operatorTrailers(candidate) + batchTrailers(batch)
                + settingsTrailers())
    }

    /// The merge commit's message: the accepted candidate's gradient and every figure of its verdict.
    func mergeMessage(
        _ candidate: ProposedCandidate, verdict: Verdict, batch: OptimizerRun.Minibatch, usage: UsageTotals, since before: UsageTotals
    ) -> StepMessage {
        StepMessage(
            subject: "Step \(step): \(candidate.summary)", body: candidate.feedback,
            trailers: stepTrailers(variant: candidate.variant, kind: "merge") + operatorTrailers(candidate)
                + batchTrailers(batch) + verdictTrailers(verdict, accepted: true) + settingsTrailers()
                + usageTrailers(usage, since: before))
    }

    /// Writes a verdict commit on the candidate's branch and the candidate's holdout note.
    func recordVerdict(_ verdict: Verdict, variant: Int, candidate: ObjectID, usageBefore: UsageTotals) async throws -> ObjectID {
        let usage = await run.runtime.accounting.totals
        let body = ([verdict.text] + (verdict.significance.map { ["Test (holdout): " + $0.summary] } ?? [])
            + (verdict.audit.map { [""] + $0.lines } ?? [])).joined(separator: "\n")
        let message = StepMessage(
            subject: "Verdict s\(step)v\(variant): \(verdict.passed ? "accepted" : "rejected")", body: body,
            trailers: stepTrailers(variant: variant, kind: "verdict")
                + verdictTrailers(verdict, accepted: verdict.passed) + usageTrailers(usage, since: usageBefore))
        let branch = CandidateBranch(run: context.runID, step: step, variant: variant)
        let commit = try await run.store.commitVerdict(branch: branch, candidate: candidate, message: message)
        if !verdict.outcomes.isEmpty {
            try await run.recordSplit(
                verdict.outcomes, split: "holdout", total: context.holdout.count, complete: verdict.complete, verdict: verdict.text, of: candidate)
        }
        return commit
    }

    // MARK: Trailers

    func stepTrailers(variant: Int, kind: String) -> [Trailer] {
        [
            Trailer(key: TrailerKey.run, value: context.runID.value),
            Trailer(key: TrailerKey.step, value: String(step)),
            Trailer(key: TrailerKey.variant, value: "\(variant)/\(context.search.variants)"),
            Trailer(key: TrailerKey.kind, value: kind),
        ] + (context.manifest.task.map { [Trailer(key: TrailerKey.task, value: $0)] } ?? [])
    }

    func operatorTrailers(_ candidate: ProposedCandidate) -> [Trailer] {
        [Trailer(key: TrailerKey.operatorName, value: candidate.operatorName.rawValue)] + candidate.trailers
    }

    func batchTrailers(_ batch: OptimizerRun.Minibatch) -> [Trailer] {
        [
            Trailer(key: TrailerKey.errors, value: "\(batch.errors)/\(batch.outcomes.count)"),
            Trailer(key: TrailerKey.scoreTrain, value: format(meanScore(batch.outcomes))),
        ]
    }

    func verdictTrailers(_ verdict: Verdict, accepted: Bool) -> [Trailer] {
        var trailers = [
            Trailer(key: TrailerKey.scoreHoldout, value: holdoutChange(verdict)),
            Trailer(key: TrailerKey.regressions, value: String(verdict.tally.regressions)),
            Trailer(key: TrailerKey.improvements, value: String(verdict.tally.improvements)),
        ]
        if let significance = verdict.significance {
            trailers += [
                Trailer(key: TrailerKey.test, value: significance.test),
                Trailer(key: TrailerKey.pValue, value: significance.pText),
                Trailer(key: TrailerKey.alpha, value: significance.level),
            ]
        }
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

    func settingsTrailers() -> [Trailer] {
        [
            Trailer(key: TrailerKey.model, value: run.config.model.name),
            Trailer(key: TrailerKey.optimizerModel, value: run.config.optimizerModel.name),
            Trailer(key: TrailerKey.settings, value: context.search.trailerText),
            Trailer(key: TrailerKey.seed, value: String(context.search.seed)),
        ]
    }

    func usageTrailers(_ usage: UsageTotals, since before: UsageTotals) -> [Trailer] {
        [
            Trailer(key: TrailerKey.calls, value: String(usage.calls - before.calls)),
            Trailer(key: TrailerKey.tokens, value: String(usage.tokens - before.tokens)),
        ]
    }

    func format(_ value: Double) -> String { String(format: "%.3f", value) }
}
