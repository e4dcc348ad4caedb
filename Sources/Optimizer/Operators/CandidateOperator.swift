import Evaluation
import Foundation
import LLM
import PromptRepo

/// What an operator sees when it makes a candidate: the current prompt and what this step learned.
public struct OperatorInput: Sendable {
    public var step: Int
    public var variant: Int
    /// The current prompt file's text (main's tip).
    public var current: String
    public var promptPath: String
    /// The minibatch outcomes of the current prompt, and those selected for feedback (errors).
    public var batch: [ExampleOutcome]
    public var selected: [ExampleOutcome]
    /// The answer shown as correct for each selected example (shuffled in the wrong-label ablation).
    public var shownTargets: [String]
    /// The step's textual gradient, for operators that rewrite from it.
    public var gradient: TextualGradient?
    /// Rows that may become worked examples: train only.
    public var train: [Example]
    /// Ids and inputs of holdout and test rows: never shown as worked examples.
    public var excludedIDs: Set<String>
    public var excludedInputs: Set<String>
    public var inputFields: [String]
    public var labels: [String]
    public var search: SearchSettings
    /// What earlier steps of the run tried and the holdout refused: never proposed again.
    public var rejected = RejectedIdeas()
    /// Train rows the current prompt answered, beyond the minibatch (for a task without a label
    /// set, the `demos` operator shows the model's own right answers: bootstrapped worked examples).
    public var trainOutcomes: [ExampleOutcome] = []
    /// Scores a prompt on train rows (cached): an operator checks its idea on the rows it claims to
    /// fix before the holdout sees it. Nil in unit tests of the operators alone.
    public var probe: TrainProbe?

    public typealias TrainProbe = @Sendable (_ prompt: String, _ rows: [Example]) async throws -> [ExampleOutcome]

    public init(
        step: Int, variant: Int, current: String, promptPath: String, batch: [ExampleOutcome], selected: [ExampleOutcome],
        shownTargets: [String], gradient: TextualGradient?, train: [Example], excludedIDs: Set<String>, excludedInputs: Set<String>,
        inputFields: [String], labels: [String], search: SearchSettings
    ) {
        self.step = step
        self.variant = variant
        self.current = current
        self.promptPath = promptPath
        self.batch = batch
        self.selected = selected
        self.shownTargets = shownTargets
        self.gradient = gradient
        self.train = train
        self.excludedIDs = excludedIDs
        self.excludedInputs = excludedInputs
        self.inputFields = inputFields
        self.labels = labels
        self.search = search
    }

    /// A seeded generator for this step and variant, so a resumed run makes the same choices.
    func generator(_ salt: Int) -> SeededGenerator { SeededGenerator(search.seed, step, variant, salt) }
}

/// A candidate made by an operator, before it is committed.
public struct ProposedCandidate: Sendable, Equatable {
    public var variant: Int
    public var operatorName: SearchSettings.Operator
    /// One line: what the candidate changes.
    public var summary: String
    /// The new prompt file's text.
    public var text: String
    /// What the operator learned from the errors (the commit body: the textual gradient).
    public var feedback: String
    /// Operator-specific trailers, such as `Demos:`.
    public var trailers: [Trailer]
}

/// A search operator: one way of making a candidate from the current prompt. Each is a stage of
/// the step with one job; nil means "nothing to propose this time" (not an error).
public protocol CandidateOperator: Sendable {
    var name: SearchSettings.Operator { get }
    /// Whether the step must write a textual gradient before this operator runs.
    var needsGradient: Bool { get }
    /// The candidate; nil when the operator has nothing to propose, `NotProposed` when it made
    /// one and its own check on train turned it down (the terminal says why).
    func propose(_ input: OperatorInput) async throws -> ProposedCandidate?
}

/// An operator's idea that failed its own check before the holdout saw it, and why.
public struct NotProposed: Error, Sendable {
    public var reason: String

    public init(reason: String) { self.reason = reason }
}

extension CandidateOperator {
    public var needsGradient: Bool { false }
}

/// Which operator makes which variant: variants are spread across the configured operators,
/// rotating from step to step so every operator gets its turn.
public struct OperatorSchedule: Sendable, Equatable {
    public let operators: [SearchSettings.Operator]
    public let variants: Int

    public init(operators: [SearchSettings.Operator], variants: Int) {
        self.operators = operators.isEmpty ? [.rewrite] : operators
        self.variants = variants
    }

    public func operatorFor(step: Int, variant: Int) -> SearchSettings.Operator {
        operators[((step - 1) * variants + (variant - 1)) % operators.count]
    }
}

extension ProposedCandidate {
    /// A candidate an interrupted run already committed, read back from its commit.
    init(recorded: RunLedger.RecordedCandidate, variant: Int, text: String) {
        let message = recorded.message
        self.init(
            variant: variant,
            operatorName: message.value(TrailerKey.operatorName).flatMap(SearchSettings.Operator.init(rawValue:)) ?? .rewrite,
            summary: message.subject, text: text, feedback: message.body,
            trailers: message.trailers.filter { [TrailerKey.demos, TrailerKey.merged, TrailerKey.screened, TrailerKey.scoreScreen].contains($0.key) })
    }
}

/// What operators may use: the optimizer model and its meta-prompts, and the run's record.
struct OperatorTools {
    let client: LLMClient
    let metaPrompts: MetaPrompts
    let settings: ModelSettings
    let store: RunStore
    let run: RunID
    let trunk: String
}

extension SearchSettings.Operator {
    /// The one registration point of operators: the stage that makes this operator's candidates.
    /// A new operator is a case of `SearchSettings.Operator`, a `CandidateOperator`, and a line here.
    func make(_ tools: OperatorTools) -> any CandidateOperator {
        switch self {
        case .rules: return RulesOperator(client: tools.client, metaPrompts: tools.metaPrompts, settings: tools.settings)
        case .demos: return DemosOperator()
        case .rewrite: return RewriteOperator(client: tools.client, metaPrompts: tools.metaPrompts, settings: tools.settings)
        case .merge: return MergeOperator(store: tools.store, run: tools.run, trunk: tools.trunk)
        case .glossary: return GlossaryOperator(client: tools.client, metaPrompts: tools.metaPrompts, settings: tools.settings)
        }
    }
}
