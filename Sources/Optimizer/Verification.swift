import Evaluation
import Foundation
import PromptRepo

/// The preservation rule of regularized verification: a candidate passes when
/// `improvements - lambda * regressions > 0`, it has at most `maxRegressions` regressions, and no
/// class's holdout recall falls by more than `maxRecallDrop`.
public struct PreservationRule: Sendable, Equatable {
    public var lambda: Double
    public var maxRegressions: Int?
    public var maxRecallDrop: Double?

    public init(lambda: Double = 1, maxRegressions: Int? = nil, maxRecallDrop: Double? = nil) {
        self.lambda = lambda
        self.maxRegressions = maxRegressions
        self.maxRecallDrop = maxRecallDrop
    }

    public init(_ search: SearchSettings) {
        self.init(lambda: search.lambda, maxRegressions: search.maxRegressions, maxRecallDrop: search.maxRecallDrop)
    }

    /// Why a finished comparison fails the rule, or nil when it passes.
    public func failure(_ tally: FlipTally) -> String? {
        if let maxRegressions, tally.regressions > maxRegressions {
            return "\(tally.regressions) regressions > max \(maxRegressions)"
        }
        if let maxRecallDrop, let (label, drop) = tally.worstRecallDrop(), drop > maxRecallDrop + 1e-9 {
            return String(format: "recall of '%@' fell by %.2f > %.2f", label, drop, maxRecallDrop)
        }
        let net = Double(tally.improvements) - lambda * Double(tally.regressions)
        if net <= 0 {
            return String(format: "improvements %d - %.2g x regressions %d = %.2g, not > 0", tally.improvements, lambda, tally.regressions, net)
        }
        return nil
    }

    /// Whether a candidate could still pass if every remaining example went its way: all
    /// remaining baseline-wrong examples become improvements, no further regressions. When this
    /// is false the verdict is already decided, so evaluation can stop.
    public func canStillPass(_ tally: FlipTally) -> Bool {
        failure(tally.bestCase()) == nil
    }
}

/// Per-example comparison of a candidate with the current prompt on the holdout set.
public struct FlipTally: Sendable, Equatable {
    /// Baseline correctness and label of each holdout example, in evaluation order.
    public let baseline: [(id: String, label: String, correct: Bool)]
    public private(set) var evaluated = 0
    public private(set) var regressions = 0
    public private(set) var improvements = 0
    public private(set) var candidateCorrect = 0
    private var netLossByLabel: [String: Int] = [:]

    public static func == (lhs: FlipTally, rhs: FlipTally) -> Bool {
        lhs.evaluated == rhs.evaluated && lhs.regressions == rhs.regressions && lhs.improvements == rhs.improvements
    }

    public init(baseline: [(id: String, label: String, correct: Bool)]) { self.baseline = baseline }

    public var remaining: Int { baseline.count - evaluated }

    /// Adds the next example's candidate result (examples are fed in baseline order).
    public mutating func add(candidateCorrect correct: Bool) {
        let base = baseline[evaluated]
        evaluated += 1
        if correct { candidateCorrect += 1 }
        if base.correct && !correct {
            regressions += 1
            netLossByLabel[base.label, default: 0] += 1
        } else if !base.correct && correct {
            improvements += 1
            netLossByLabel[base.label, default: 0] -= 1
        }
    }

    /// The tally if every remaining example improved where it can and none regressed.
    func bestCase() -> FlipTally {
        var best = self
        while best.remaining > 0 { best.add(candidateCorrect: true) }
        return best
    }

    /// The class whose recall falls most (as a fraction of its holdout support).
    func worstRecallDrop() -> (String, Double)? {
        var support: [String: Int] = [:]
        for example in baseline { support[example.label, default: 0] += 1 }
        return netLossByLabel.compactMap { label, loss -> (String, Double)? in
            guard loss > 0, let count = support[label], count > 0 else { return nil }
            return (label, Double(loss) / Double(count))
        }.max { $0.1 < $1.1 }
    }
}

/// The result of verifying one candidate.
public struct Verdict: Sendable, Equatable {
    public var passed: Bool
    /// `accepted`, or `rejected: <reason>`.
    public var text: String
    public var tally: FlipTally
    public var baselineScore: Double
    /// Nil when the candidate was not verified (naive selection).
    public var candidateScore: Double?
    public var outcomes: [ExampleOutcome]
    /// The prevalence audit of the verified examples (nil for metrics without classes).
    public var audit: PrevalenceAudit?

    public var complete: Bool { tally.remaining == 0 }

    public init(
        passed: Bool, text: String, tally: FlipTally, baselineScore: Double, candidateScore: Double?,
        outcomes: [ExampleOutcome], audit: PrevalenceAudit? = nil
    ) {
        self.passed = passed
        self.text = text
        self.tally = tally
        self.baselineScore = baselineScore
        self.candidateScore = candidateScore
        self.outcomes = outcomes
        self.audit = audit
    }
}

/// How the prevalence audit takes part in verification.
public struct AuditSettings: Sendable, Equatable {
    public var mode: SearchSettings.Prevalence
    public var labels: [String]
    public var collapseShare: Double

    public init(mode: SearchSettings.Prevalence, labels: [String], collapseShare: Double) {
        self.mode = mode
        self.labels = labels
        self.collapseShare = collapseShare
    }

    /// The audit grad.toml asks for: its mode and collapse share, over the metric's classes.
    public init(_ search: SearchSettings, metric: MetricSettings) {
        self.init(mode: search.prevalence, labels: metric.classLabels, collapseShare: search.collapseShare)
    }
}

/// Stage 6: regularized verification of a candidate against the current prompt on the holdout
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
        let baselineByID = Dictionary(baseline.map { ($0.example.id, $0.correct) }, uniquingKeysWith: { first, _ in first })
        let base = holdout.map { (id: $0.id, label: $0.target, correct: baselineByID[$0.id] ?? false) }
        let rule = self.rule
        let earlyStop = self.earlyStop
        let outcomes = try await evaluator.evaluate(
            prompt: candidate, examples: holdout, progress: progress,
            shouldContinue: { outcomes in
                guard earlyStop else { return true }
                var tally = FlipTally(baseline: base)
                for outcome in outcomes { tally.add(candidateCorrect: outcome.correct) }
                return rule.canStillPass(tally)
            })
        var tally = FlipTally(baseline: base)
        for outcome in outcomes { tally.add(candidateCorrect: outcome.correct) }
        var failure = tally.remaining == 0
            ? rule.failure(tally)
            : "cannot pass even if every remaining example improved: " + (rule.failure(tally.bestCase()) ?? "")
        // The one definition of a split's score (Evaluation's `meanScore`).
        let baselineScore = meanScore(baseline)
        let candidateScore = meanScore(outcomes)
        let audit = self.audit.flatMap { settings in
            settings.mode == .off ? nil
                : PrevalenceAudit(parent: baseline, candidate: outcomes, labels: settings.labels, collapseShare: settings.collapseShare)
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
            outcomes: outcomes, audit: audit)
    }
}
