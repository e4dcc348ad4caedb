import Foundation

/// The optimizer's search settings (see the seed papers for what each option reproduces). Every
/// setting has one name, used by grad.toml's `[search]`, run manifests, experiment grids,
/// `--set` and the `Grad-Settings` trailer alike: see `SearchSetting.all`.
public struct SearchSettings: Sendable, Equatable {
    public enum Selection: String, Sendable, CaseIterable, Codable { case validated, naive }
    public enum Feedback: String, Sendable, CaseIterable, Codable { case errors, all, none }
    public enum Gradient: String, Sendable, CaseIterable, Codable { case oneStep = "one-step", twoStep = "two-step" }
    public enum Labels: String, Sendable, CaseIterable, Codable { case correct, shuffled }
    /// How a candidate is made from the current prompt (see the Optimizer's operators).
    public enum Operator: String, Sendable, CaseIterable, Codable {
        case rules, demos, rewrite, merge, glossary

        /// Operators by name, for grad.toml and `--operators`; throws for the first bad one.
        public static func parse(_ names: [String]) throws(UnknownOperator) -> [Operator] {
            try names.map { name throws(UnknownOperator) in
                guard let op = Operator(rawValue: name) else { throw UnknownOperator(name: name) }
                return op
            }
        }
    }

    /// A name that is no operator; `description` says which names are.
    public struct UnknownOperator: Error, CustomStringConvertible {
        public let name: String
        public var description: String {
            let names = Operator.allCases.map(\.rawValue)
            return "'\(name)' is not an operator; use \(names.dropLast().joined(separator: ", ")) or \(names.last!)"
        }
    }
    /// How a verified candidate is accepted: by a significance test (the default) or by the
    /// papers' net rule `improvements - lambda * regressions > 0`.
    public enum Rule: String, Sendable, CaseIterable, Codable { case significant, net }
    /// What the prevalence audit does with a candidate whose gain comes with a class collapse.
    public enum Prevalence: String, Sendable, CaseIterable, Codable { case reject, flag, off }

    public var steps = 3
    public var batchSize = 8
    public var variants = 2
    public var selection = Selection.validated
    public var feedback = Feedback.errors
    public var gradient = Gradient.oneStep
    public var labels = Labels.correct
    public var seed = 7
    /// The acceptance rule: a significance test, or the net rule with `lambda`.
    public var rule = Rule.significant
    /// The test's level: the chance of merging a candidate no better than its parent, per step.
    public var alpha = 0.05
    /// Preservation (significant rule): at most this many broken examples per fixed one; nil
    /// (runs recorded before the test existed) bounds nothing.
    public var maxBrokenRatio: Double? = 0.5
    /// The net rule: pass when improvements - lambda * regressions > 0.
    public var lambda = 1.0
    public var maxRegressions: Int?
    /// No class's holdout recall may fall by more than this (0...1).
    public var maxRecallDrop: Double?
    /// Extra minibatches drawn when a batch has no errors.
    public var redraws = 3
    /// Steps in a row without an accepted candidate before stopping.
    public var patience: Int?
    public var maxCalls: Int?
    public var maxTokens: Int?
    public var maxCost: Double?
    /// The operators variants are spread across; nil picks the default for the optimizer model.
    public var operators: [Operator]?
    /// Prevalence audit: reject (default), flag only, or off.
    public var prevalence = Prevalence.reject
    /// A label predicted for at least this share of the holdout counts as a collapse.
    public var collapseShare = 0.8
    /// The `rules` operator keeps at most this many rules.
    public var maxRules = 8
    /// The `demos` operator places at most this many worked examples ... Many: the 0.5B's test
    /// accuracy on the sample rose with the number of train rows shown (ten 0.37, twenty 0.45,
    /// thirty 0.50, all 48 0.55; docs/benchmarks.md), so the cap is rarely the count. Where many
    /// rows hurt (BBH object_counting), the holdout refuses them and the run halves the count for
    /// its later steps (`RejectedIdeas.demoLimit` in Optimizer) ...
    public var maxDemos = 64
    /// ... but about this many tokens of them, which keeps a prompt within the embedded model's
    /// 4,096-token context with room for the instruction, the row and the answer.
    public var demoTokens = 2400
    /// Screening: each candidate is scored on this many train rows (outside the step's
    /// minibatch) before the holdout; 0 (the default until it measures better on the sample and
    /// BBH, docs/benchmarks.md) sends every candidate to the holdout. Runs recorded before
    /// screening existed resume with 0.
    public var screenRows = 0
    /// How many screened candidates of a step go to the holdout: the best on the screening rows,
    /// and only those better there than the current prompt.
    public var verify = 2

    public init() {}

    /// The operators for an optimizer model: the measured default for the embedded local model
    /// (which cannot rewrite a whole prompt), a whole-prompt rewrite for any other. With the
    /// embedded models the gains come from worked examples: one set a step and one rules candidate
    /// (checked on its minibatch first). Each candidate that reaches the holdout lowers every
    /// candidate's level; `merge` never won in any measured run and took that share, so it is
    /// opt-in (docs/benchmarks.md).
    public static func defaultOperators(for optimizer: ModelSettings) -> [Operator] {
        optimizer.provider == .local && optimizer.baseURL == nil ? [.demos, .rules] : [.rewrite]
    }

    /// The `Grad-Settings` trailer value: the settings that shape the method, by their one name.
    public var trailerText: String {
        SearchSetting.all.filter(\.inTrailer).compactMap { setting in setting.value(in: self).map { "\(setting.name)=\($0)" } }
            .joined(separator: " ")
    }
}
