import Evaluation
import Foundation
import LLM
import PromptRepo

/// The trailers of a step's commits: what `git log --format=%(trailers)` shows of a step.
extension OptimizerRun {
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
}
