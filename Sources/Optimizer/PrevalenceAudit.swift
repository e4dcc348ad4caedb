import Evaluation
import Foundation
import PromptRepo

/// The prevalence audit of a verdict ("Textual Gradients are a Flawed Metaphor": gains can come
/// from suppressing a class). It compares the candidate's holdout answers with its parent's, class
/// by class, and flags a collapse at any class balance:
/// - one label given to at least `collapseShare` (0.8) of the rows, at least `excessShare` (0.15)
///   more of them than the data holds, and more than the parent gave it;
/// - a class with real support (at least `minimumSupport`, 5 rows) that the parent recalled at
///   least once falling to recall 0;
/// - balanced accuracy falling significantly: a one-sided paired sign-flip test at `alpha` on the
///   per-example differences weighted by 1 / (classes × the class's support), whose sum is the
///   change in balanced accuracy.
/// Metrics without classes skip the audit.
public struct PrevalenceAudit: Sendable, Equatable {
    public struct ClassChange: Sendable, Equatable {
        public let label: String
        public let support: Int
        public let parentRecall: Double
        public let candidateRecall: Double
        public let parentShare: Double
        public let candidateShare: Double
    }

    /// A label predicted this much more often than the data holds it is "far more".
    public static let excessShare = 0.15
    /// A class with at least this many holdout rows has real support.
    public static let minimumSupport = 5

    public let classes: [ClassChange]
    public let parentBalancedAccuracy: Double
    public let candidateBalancedAccuracy: Double
    /// The one-sided p that balanced accuracy fell (1 when it did not move).
    public let balancedAccuracyDropP: Double
    public let majorityBaseline: Double
    public let majorityLabel: String
    /// Why the candidate collapsed a class, or nil.
    public let collapse: String?

    /// Audits the examples the candidate was evaluated on; nil without a label set.
    public init?(
        parent: [ExampleOutcome], candidate: [ExampleOutcome], labels: [String], collapseShare: Double = 0.8, alpha: Double = 0.05,
        caseSensitive: Bool = false
    ) {
        guard !labels.isEmpty, !candidate.isEmpty else { return nil }
        let parentByID = Dictionary(parent.map { ($0.example.id, $0) }, uniquingKeysWith: { first, _ in first })
        let pairs = candidate.compactMap { outcome in parentByID[outcome.example.id].map { (before: $0, after: outcome) } }
        guard !pairs.isEmpty else { return nil }
        let before = SplitStatistics(outcomes: pairs.map(\.before), labels: labels, caseSensitive: caseSensitive)
        let after = SplitStatistics(outcomes: pairs.map(\.after), labels: labels, caseSensitive: caseSensitive)
        let total = Double(pairs.count)
        classes = zip(before.classes, after.classes).map { b, a in
            ClassChange(
                label: a.label, support: a.support, parentRecall: b.recall, candidateRecall: a.recall,
                parentShare: Double(b.predicted) / total, candidateShare: Double(a.predicted) / total)
        }
        parentBalancedAccuracy = before.balancedAccuracy ?? 0
        candidateBalancedAccuracy = after.balancedAccuracy ?? 0
        majorityBaseline = after.majorityBaseline ?? 0
        majorityLabel = after.majorityLabel ?? ""
        balancedAccuracyDropP = Self.balancedAccuracyDropP(pairs: pairs, labels: labels, caseSensitive: caseSensitive)

        var reasons: [String] = []
        if let dominant = classes.max(by: { $0.candidateShare < $1.candidateShare }) {
            let dataShare = Double(dominant.support) / total
            if dominant.candidateShare >= collapseShare - 1e-9, dominant.candidateShare >= dataShare + Self.excessShare - 1e-9,
               dominant.candidateShare > dominant.parentShare + 1e-9 {
                reasons.append(String(
                    format: "'%@' predicted for %.0f%% of the holdout (data %.0f%%, parent %.0f%%)", dominant.label,
                    dominant.candidateShare * 100, dataShare * 100, dominant.parentShare * 100))
            }
        }
        for change in classes where change.support >= Self.minimumSupport && change.parentRecall > 0 && change.candidateRecall == 0 {
            reasons.append(String(format: "recall of '%@' fell to 0 (parent %.2f, %d examples)", change.label, change.parentRecall, change.support))
        }
        if balancedAccuracyDropP <= alpha {
            reasons.append(String(
                format: "balanced accuracy fell %.3f -> %.3f (sign-flip test p=%.3g <= %.3g)", parentBalancedAccuracy,
                candidateBalancedAccuracy, balancedAccuracyDropP, alpha))
        }
        collapse = reasons.isEmpty ? nil : "class collapse: " + reasons.joined(separator: "; ")
    }

    /// Each example's share of the balanced-accuracy change: (candidate - parent correctness) /
    /// (classes present × its class's support); tested one-sided for a fall.
    static func balancedAccuracyDropP(
        pairs: [(before: ExampleOutcome, after: ExampleOutcome)], labels: [String], caseSensitive: Bool
    ) -> Double {
        let labelSet = LabelSet(labels, caseSensitive: caseSensitive)
        let classOf = pairs.map { labelSet.canonical($0.before.example.target) ?? $0.before.example.target }
        var support: [String: Int] = [:]
        for label in classOf { support[label, default: 0] += 1 }
        let weights = classOf.map { 1 / (Double(support.count) * Double(support[$0]!)) }
        let drops = zip(pairs, weights).map { pair, weight in
            weight * ((pair.before.correct ? 1.0 : 0) - (pair.after.correct ? 1.0 : 0))
        }
        return PairedPermutationTest().upperPValue(differences: drops)
    }

    /// The `Prevalence:` trailer value.
    public var verdictText: String { collapse ?? "ok" }

    /// Per-class lines for a verdict's message and `show`.
    public var lines: [String] {
        ["Prevalence audit (holdout): " + verdictText,
         String(format: "balanced accuracy %.3f -> %.3f, majority baseline %.3f ('%@')",
                parentBalancedAccuracy, candidateBalancedAccuracy, majorityBaseline, majorityLabel)]
            + classes.map { change in
                String(format: "  %@: recall %.2f -> %.2f, predicted %.0f%% -> %.0f%% (n=%d)", change.label,
                       change.parentRecall, change.candidateRecall, change.parentShare * 100, change.candidateShare * 100, change.support)
            }
    }
}
