import Evaluation
import Foundation
import PromptRepo

/// The acceptance rule of regularized verification, and the regression gate's rule.
///
/// `rule = "significant"` (the default) asks a test, not a sign: a candidate is accepted only when
/// the examples it fixed outnumber the ones it broke by more than chance allows: the exact
/// one-sided sign test on the holdout examples candidate and parent disagree on (exact McNemar;
/// a paired sign-flip test for graded scores) at `alpha / comparisons` (Bonferroni over the
/// candidates verified in one step). Preservation: it may also break at most `maxBrokenRatio`
/// examples per example it fixed, so a swap (25 fixed, 19 broken) is refused even when it nets
/// a gain. `rule = "net"` is the papers' baseline: `improvements - lambda * regressions > 0`.
///
/// Asked `notWorse` (`git grad check --against`), the rule is a non-inferiority gate: it fails
/// only on a significant regression (one-sided at `alpha`, no correction: one comparison) or on
/// more broken examples than preservation allows; an unchanged prompt passes.
public struct PreservationRule: Sendable, Equatable {
    public enum Question: Sendable, Equatable {
        /// Would the optimizer merge this candidate?
        case better
        /// Is this version worse than the base?
        case notWorse
    }

    public var kind: SearchSettings.Rule
    public var question: Question
    public var alpha: Double
    /// Candidates judged in the same step: each is tested at `alpha / comparisons`.
    public var comparisons: Int
    public var lambda: Double
    public var maxRegressions: Int?
    public var maxRecallDrop: Double?
    public var maxBrokenRatio: Double?

    public init(
        kind: SearchSettings.Rule = .net, question: Question = .better, alpha: Double = 0.05, comparisons: Int = 1, lambda: Double = 1,
        maxRegressions: Int? = nil, maxRecallDrop: Double? = nil, maxBrokenRatio: Double? = nil
    ) {
        self.kind = kind
        self.question = question
        self.alpha = alpha
        self.comparisons = max(1, comparisons)
        self.lambda = lambda
        self.maxRegressions = maxRegressions
        self.maxRecallDrop = maxRecallDrop
        self.maxBrokenRatio = maxBrokenRatio
    }

    public init(_ search: SearchSettings, question: Question = .better, comparisons: Int = 1) {
        self.init(
            kind: search.rule, question: question, alpha: search.alpha, comparisons: comparisons, lambda: search.lambda,
            maxRegressions: search.maxRegressions, maxRecallDrop: search.maxRecallDrop,
            maxBrokenRatio: search.maxBrokenRatio)
    }

    /// The level each candidate is tested at.
    public var threshold: Double { alpha / Double(comparisons) }

    /// The test a verdict was decided by: its name, p and the level it was held to; nil for the
    /// net rule.
    public func significance(_ tally: FlipTally) -> Significance? {
        let comparison = tally.comparison
        switch question {
        case .better:
            guard kind == .significant else { return nil }
            return Significance(test: comparison.testName, p: comparison.pBetter, level: levelText, question: "better")
        case .notWorse:
            return Significance(test: comparison.testName, p: comparison.pWorse, level: Significance.format(alpha), question: "worse")
        }
    }

    var levelText: String { comparisons == 1 ? Significance.format(alpha) : "\(Significance.format(alpha))/\(comparisons)" }

    /// Why a finished comparison fails the rule, or nil when it passes.
    public func failure(_ tally: FlipTally) -> String? {
        if let maxRegressions, tally.regressions > maxRegressions {
            return "\(tally.regressions) regressions > max \(maxRegressions)"
        }
        if let maxRecallDrop, let (label, drop) = tally.worstRecallDrop(), drop > maxRecallDrop + 1e-9 {
            return String(format: "recall of '%@' fell by %.2f > %.2f", label, drop, maxRecallDrop)
        }
        switch question {
        case .notWorse: return notWorseFailure(tally)
        case .better: return kind == .net ? netFailure(tally) : significanceFailure(tally)
        }
    }

    private func netFailure(_ tally: FlipTally) -> String? {
        let net = Double(tally.improvements) - lambda * Double(tally.regressions)
        guard net <= 0 else { return nil }
        return String(format: "improvements %d - %.2g x regressions %d = %.2g, not > 0", tally.improvements, lambda, tally.regressions, net)
    }

    private func significanceFailure(_ tally: FlipTally) -> String? {
        let comparison = tally.comparison
        let p = comparison.pBetter
        guard p > threshold else { return swapFailure(tally, floor: 0) }
        return "not significant: +\(tally.improvements)/-\(tally.regressions), \(comparison.testName) p=\(Significance.format(p)) > \(levelText)"
    }

    private func notWorseFailure(_ tally: FlipTally) -> String? {
        // The comparison's counts: for graded scores a drop that stays above the pass threshold
        // is still a drop.
        let comparison = tally.comparison
        let p = comparison.pWorse
        if comparison.regressions > 0, p <= alpha {
            return "significantly worse: +\(comparison.improvements)/-\(comparison.regressions), \(comparison.testName) p=\(Significance.format(p)) <= \(Significance.format(alpha))"
        }
        // The gate lets a change break up to 2 examples for nothing (noise of a reworded prompt).
        return swapFailure(tally, floor: 2)
    }

    /// Preservation: more broken than `maxBrokenRatio` per fixed example (and than `floor`).
    private func swapFailure(_ tally: FlipTally, floor: Int) -> String? {
        guard let ratio = maxBrokenRatio, tally.regressions > floor,
              Double(tally.regressions) > ratio * Double(tally.improvements) + 1e-9 else { return nil }
        return String(
            format: "breaks %d examples the parent got right for %d fixed (preservation allows %.2g broken per fix)",
            tally.regressions, tally.improvements, ratio)
    }

    /// Whether a candidate could still pass if every remaining example went its way: all
    /// remaining baseline-wrong examples become improvements, no further regressions. When this
    /// is false the verdict is already decided, so evaluation can stop. Both the test's p and
    /// the preservation bound only improve as improvements are added, so the stop is exact.
    /// Graded scores are never stopped early: their test is a sign-flip test whose Monte Carlo p
    /// need not fall monotonically as the best case adds examples, and it is costly per example.
    public func canStillPass(_ tally: FlipTally) -> Bool {
        guard tally.comparison.binary else { return true }
        return failure(tally.bestCase()) == nil
    }
}

/// The result of verifying one candidate.
public struct Verdict: Sendable, Equatable {
    public var passed: Bool
    /// `accepted`, or `rejected: <reason>`.
    public var text: String
    /// How the text of a candidate that passed but lost to a better one of its step begins.
    public static let outrankedPrefix = "rejected: passed verification, but"
    public var tally: FlipTally
    public var baselineScore: Double
    /// Nil when the candidate was not verified (naive selection).
    public var candidateScore: Double?
    public var outcomes: [ExampleOutcome]
    /// The prevalence audit of the verified examples (nil for metrics without classes).
    public var audit: PrevalenceAudit?
    /// The test, its p and the level; nil for the net rule and unverified candidates.
    public var significance: Significance?

    public var complete: Bool { tally.remaining == 0 }

    public init(
        passed: Bool, text: String, tally: FlipTally, baselineScore: Double, candidateScore: Double?,
        outcomes: [ExampleOutcome], audit: PrevalenceAudit? = nil, significance: Significance? = nil
    ) {
        self.passed = passed
        self.text = text
        self.tally = tally
        self.baselineScore = baselineScore
        self.candidateScore = candidateScore
        self.outcomes = outcomes
        self.audit = audit
        self.significance = significance
    }
}

/// How the prevalence audit takes part in verification.
public struct AuditSettings: Sendable, Equatable {
    public var mode: SearchSettings.Prevalence
    public var labels: [String]
    public var collapseShare: Double
    /// The level of the balanced-accuracy test.
    public var alpha: Double
    public var caseSensitive: Bool

    public init(mode: SearchSettings.Prevalence, labels: [String], collapseShare: Double, alpha: Double = 0.05, caseSensitive: Bool = false) {
        self.mode = mode
        self.labels = labels
        self.collapseShare = collapseShare
        self.alpha = alpha
        self.caseSensitive = caseSensitive
    }

    /// The audit grad.toml asks for: its mode, collapse share and alpha, over the metric's classes
    /// (the label set of `choice`; for `exact`, `contains` and `regex` the targets when they form
    /// a small label set).
    public init(_ search: SearchSettings, metric: MetricSettings, targets: [String]) {
        self.init(
            mode: search.prevalence, labels: metric.classLabels(targets: targets), collapseShare: search.collapseShare, alpha: search.alpha,
            caseSensitive: metric.caseSensitive)
    }
}

/// Regularized verification of a candidate against the current prompt on the holdout
/// set, example by example, stopping as soon as the candidate can no longer pass.
public struct Verifier: Sendable {
    public let evaluator: Evaluator
    public let rule: PreservationRule
    public let earlyStop: Bool
    public let audit: AuditSettings?

    public init(evaluator: Evaluator, rule: PreservationRule, earlyStop: Bool = true, audit: AuditSettings? = nil) {
        self.evaluator = evaluator
        self.rule = rule
        self.earlyStop = earlyStop
        self.audit = audit
    }

    public func verify(
        candidate: PromptPair, holdout: [Example], baseline: [ExampleOutcome],
        progress: (@Sendable (ExampleOutcome) -> Void)? = nil
    ) async throws -> Verdict {
        let baselineByID = Dictionary(baseline.map { ($0.example.id, $0) }, uniquingKeysWith: { first, _ in first })
        let base = holdout.map { (id: $0.id, label: $0.target, correct: baselineByID[$0.id]?.correct ?? false) }
        let scores = holdout.map { baselineByID[$0.id]?.score.value ?? 0 }
        let rule = self.rule
        let earlyStop = self.earlyStop
        let outcomes = try await evaluator.evaluate(
            prompt: candidate, examples: holdout, progress: progress,
            shouldContinue: { outcomes in
                guard earlyStop else { return true }
                var tally = FlipTally(baseline: base, scores: scores)
                for outcome in outcomes { tally.add(candidateCorrect: outcome.correct, score: outcome.score.value) }
                return rule.canStillPass(tally)
            })
        var tally = FlipTally(baseline: base, scores: scores)
        for outcome in outcomes { tally.add(candidateCorrect: outcome.correct, score: outcome.score.value) }
        var failure = tally.remaining == 0
            ? rule.failure(tally)
            : "cannot pass even if every remaining example improved (best case: " + (rule.failure(tally.bestCase()) ?? "") + ")"
        // The one definition of a split's score (Evaluation's `meanScore`).
        let baselineScore = meanScore(baseline)
        let candidateScore = meanScore(outcomes)
        let audit = self.audit.flatMap { settings in
            settings.mode == .off ? nil
                : PrevalenceAudit(
                    parent: baseline, candidate: outcomes, labels: settings.labels, collapseShare: settings.collapseShare,
                    alpha: settings.alpha, caseSensitive: settings.caseSensitive)
        }
        if failure == nil, self.audit?.mode == .reject, let collapse = audit?.collapse {
            failure = "prevalence audit: \(collapse)"
        }
        var text = failure.map { "rejected: \($0)" } ?? "accepted"
        if tally.remaining > 0 {
            text += " (stopped after \(tally.evaluated)/\(holdout.count) holdout examples, \(tally.remaining) calls saved)"
        }
        return Verdict(
            passed: failure == nil, text: text, tally: tally, baselineScore: baselineScore, candidateScore: candidateScore,
            outcomes: outcomes, audit: audit, significance: rule.significance(tally))
    }
}
