import Evaluation
import Foundation
import PromptRepo

/// `git grad check --against BASE HEAD`: would HEAD be merged if an optimization step proposed it?
///
/// Both versions are evaluated on the holdout and HEAD is judged by the repository's preservation
/// rule and prevalence audit, exactly as a candidate is. BASE's grad.toml and data define the test:
/// a change under review cannot loosen the rule or swap the holdout that judges it.
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

        public var passed: Bool { verdict.passed }
    }

    public let base: PromptVersion
    public let head: PromptVersion
    public let holdout: [Example]

    /// Reads both versions; HEAD's prompt through BASE's grad.toml, the holdout from BASE.
    public init(_ repository: PromptRepository, base: ObjectID, head: ObjectID, config: GradConfig) throws {
        self.base = try PromptVersion(repository, at: base, config: config)
        self.head = try PromptVersion(repository, at: head, config: config)
        holdout = try self.base.examples(.holdout, in: repository)
    }

    public func run(evaluator: Evaluator, progress: (@Sendable (ExampleOutcome) -> Void)? = nil) async throws -> Result {
        let config = base.config
        let labels = config.metric.classLabels
        let baseline = try await evaluator.evaluate(prompt: base.prompt, examples: holdout, progress: progress)
        let verifier = Verifier(
            evaluator: evaluator, rule: PreservationRule(config.search), earlyStop: false,
            audit: AuditSettings(config.search, metric: config.metric))
        let verdict = try await verifier.verify(candidate: head.prompt, holdout: holdout, baseline: baseline, progress: progress)
        let headByID = Dictionary(verdict.outcomes.map { ($0.example.id, $0) }, uniquingKeysWith: { first, _ in first })
        let flips = baseline.compactMap { before -> Flip? in
            guard let after = headByID[before.example.id], after.correct != before.correct else { return nil }
            return Flip(id: before.example.id, expected: before.example.target, baseOutput: before.output,
                        headOutput: after.output, improved: after.correct)
        }
        return Result(
            base: base.commit, head: head.commit,
            baseStatistics: SplitStatistics(outcomes: baseline, labels: labels),
            headStatistics: SplitStatistics(outcomes: verdict.outcomes, labels: labels),
            verdict: verdict, flips: flips)
    }
}
