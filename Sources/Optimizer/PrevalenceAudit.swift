import Evaluation
import Foundation
import PromptRepo

/// The prevalence audit of a verdict ("Textual Gradients are a Flawed Metaphor": gains can come
/// from suppressing a class). It compares the candidate's holdout answers with its parent's, class
/// by class, and flags a collapse: one label predicted for at least `collapseShare` of the holdout
/// while the data's share of it is far lower (and lower than the parent predicted it), or a class
/// the parent recalled falling to recall 0. Metrics without classes skip the audit.
public struct PrevalenceAudit: Sendable, Equatable {
    public struct ClassChange: Sendable, Equatable {
        public let label: String
        public let support: Int
        public let parentRecall: Double
        public let candidateRecall: Double
        public let parentShare: Double
        public let candidateShare: Double
    }

    public let classes: [ClassChange]
    public let parentBalancedAccuracy: Double
    public let candidateBalancedAccuracy: Double
    public let majorityBaseline: Double
    public let majorityLabel: String
    /// Why the candidate collapsed a class, or nil.
    public let collapse: String?

    /// Audits the examples the candidate was evaluated on; nil without a label set.
    public init?(parent: [ExampleOutcome], candidate: [ExampleOutcome], labels: [String], collapseShare: Double = 0.8) {
        guard !labels.isEmpty, !candidate.isEmpty else { return nil }
        let parentByID = Dictionary(parent.map { ($0.example.id, $0) }, uniquingKeysWith: { first, _ in first })
        let pairs = candidate.compactMap { outcome in parentByID[outcome.example.id].map { (before: $0, after: outcome) } }
        guard !pairs.isEmpty else { return nil }
        let before = SplitStatistics(outcomes: pairs.map(\.before), labels: labels)
        let after = SplitStatistics(outcomes: pairs.map(\.after), labels: labels)
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

        var reasons: [String] = []
        if let dominant = classes.max(by: { $0.candidateShare < $1.candidateShare }) {
            let dataShare = Double(dominant.support) / total
            if dominant.candidateShare >= collapseShare, dataShare <= collapseShare - 0.3,
               dominant.candidateShare > dominant.parentShare + 0.05 {
                reasons.append(String(
                    format: "'%@' predicted for %.0f%% of the holdout (data %.0f%%, parent %.0f%%)", dominant.label,
                    dominant.candidateShare * 100, dataShare * 100, dominant.parentShare * 100))
            }
        }
        for change in classes where change.parentRecall * Double(change.support) >= 2 - 1e-9 && change.candidateRecall == 0 {
            reasons.append(String(format: "recall of '%@' fell to 0 (parent %.2f, %d examples)", change.label, change.parentRecall, change.support))
        }
        collapse = reasons.isEmpty ? nil : "class collapse: " + reasons.joined(separator: "; ")
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
