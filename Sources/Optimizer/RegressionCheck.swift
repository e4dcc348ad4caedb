import Evaluation
import Foundation
import PromptRepo

/// `git grad check --against BASE HEAD`, two questions on the holdout:
/// - by default, "is HEAD worse than BASE?" (non-inferiority, the regression gate): HEAD fails on
///   a significant regression (one-sided sign test at alpha), more broken examples than
///   preservation allows, or a class collapse; an unchanged prompt passes without a model call;
/// - with `asStep`, "would the optimizer merge HEAD as a step?": the acceptance test, preservation
///   and the audit exactly as a candidate is judged, so a hand edit is held to the same bar.
/// BASE's grad.toml and data define the test: a change under review cannot loosen the rule or swap
/// the holdout that judges it.
public struct RegressionCheck {
    /// An example one version gets right and the other wrong.
    public struct Flip: Sendable, Equatable {
        public let id: String
        public let expected: String
        public let baseOutput: String
        public let headOutput: String
        /// True when HEAD fixed it, false when HEAD broke it.
        public let improved: Bool
    }

    public struct Result: Sendable {
        public let base: ObjectID
        public let head: ObjectID
        public let baseStatistics: SplitStatistics
        public let headStatistics: SplitStatistics
        public let verdict: Verdict
        public let flips: [Flip]
        /// True when HEAD's prompt is BASE's, byte for byte: nothing was evaluated.
        public let unchanged: Bool

        public var passed: Bool { verdict.passed }
    }

    public enum Question: Sendable { case notWorse, asStep }

    public let base: PromptVersion
    public let head: PromptVersion
    public let holdout: [Example]

    /// Reads both versions; HEAD's prompt through BASE's grad.toml, the holdout from BASE.
    public init(_ repository: PromptRepository, base: ObjectID, head: ObjectID, config: GradConfig) throws {
        self.base = try PromptVersion(repository, at: base, config: config)
        self.head = try PromptVersion(repository, at: head, config: config)
        holdout = try self.base.examples(.holdout, in: repository)
    }

    /// Whether HEAD's prompt (file, system message, worked examples) is BASE's.
    public var unchanged: Bool { base.prompt == head.prompt }

    public func run(
        evaluator: Evaluator?, question: Question = .notWorse, progress: (@Sendable (ExampleOutcome) -> Void)? = nil
    ) async throws -> Result {
        let config = base.config
        if unchanged {
            let statistics = config.metric.statistics([])
            let text = question == .asStep ? "rejected: identical to the base prompt" : "passed: the prompt is unchanged (nothing evaluated)"
            let verdict = Verdict(
                passed: question == .notWorse, text: text, tally: FlipTally(baseline: []), baselineScore: 0, candidateScore: nil, outcomes: [])
            return Result(
                base: base.commit, head: head.commit, baseStatistics: statistics, headStatistics: statistics, verdict: verdict, flips: [],
                unchanged: true)
        }
        guard let evaluator else { preconditionFailure("a changed prompt needs an evaluator") }
        let baseline = try await evaluator.evaluate(prompt: base.prompt, examples: holdout, progress: progress)
        let rule = PreservationRule(config.search, question: question == .asStep ? .better : .notWorse)
        let verifier = Verifier(
            evaluator: evaluator, rule: rule, earlyStop: false, audit: AuditSettings(config.search, metric: config.metric, targets: holdout.map(\.target)))
        var verdict = try await verifier.verify(candidate: head.prompt, holdout: holdout, baseline: baseline, progress: progress)
        if question == .notWorse, verdict.passed { verdict.text = "passed: not worse than the base" }
        let headByID = Dictionary(verdict.outcomes.map { ($0.example.id, $0) }, uniquingKeysWith: { first, _ in first })
        let flips = baseline.compactMap { before -> Flip? in
            guard let after = headByID[before.example.id], after.correct != before.correct else { return nil }
            return Flip(id: before.example.id, expected: before.example.target, baseOutput: before.output,
                        headOutput: after.output, improved: after.correct)
        }
        return Result(
            base: base.commit, head: head.commit,
            baseStatistics: config.metric.statistics(baseline),
            headStatistics: config.metric.statistics(verdict.outcomes),
            verdict: verdict, flips: flips, unchanged: false)
    }
}
