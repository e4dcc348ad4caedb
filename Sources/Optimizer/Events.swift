import Foundation
import Evaluation
import LLM
import PromptRepo

/// What a run reports while it works: the command line draws progress bars from these on a
/// terminal and prints them as JSON lines with `--json`.
public enum OptimizerEvent: Sendable, Encodable {
    case message(String)
    case projection(calls: Int, cost: Double?)
    case phase(name: String, total: Int)
    case progress(name: String, done: Int, total: Int, cacheHits: Int, tokens: Int)
    case stepStarted(step: Int, of: Int)
    case gradient(step: Int, errors: Int, batch: Int, text: String)
    case candidate(step: Int, variant: Int, branch: String, commit: String, summary: String, operatorName: String, feedback: String)
    case verdict(step: Int, variant: Int, passed: Bool, text: String, holdoutBefore: Double, holdoutAfter: Double?)
    case merged(step: Int, variant: Int, commit: String, holdoutBefore: Double, holdoutAfter: Double, workingTreeUpdated: Bool)
    case stepSkipped(step: Int, reason: String)
    case stopped(reason: String)
    case summary(RunSummary)

    enum CodingKeys: String, CodingKey { case event, data }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        var fields: [String: AnyEncodable] = [:]
        let name: String
        switch self {
        case .message(let text): name = "message"; fields = ["text": .init(text)]
        case .projection(let calls, let cost): name = "projection"; fields = ["calls": .init(calls), "cost": .init(cost)]
        case .phase(let phase, let total): name = "phase"; fields = ["name": .init(phase), "total": .init(total)]
        case .progress(let phase, let done, let total, let hits, let tokens):
            name = "progress"
            fields = ["name": .init(phase), "done": .init(done), "total": .init(total), "cache_hits": .init(hits), "tokens": .init(tokens)]
        case .stepStarted(let step, let of): name = "step"; fields = ["step": .init(step), "of": .init(of)]
        case .gradient(let step, let errors, let batch, let text):
            name = "gradient"; fields = ["step": .init(step), "errors": .init(errors), "batch": .init(batch), "text": .init(text)]
        case .candidate(let step, let variant, let branch, let commit, let summary, let op, let feedback):
            name = "candidate"
            fields = ["step": .init(step), "variant": .init(variant), "branch": .init(branch), "commit": .init(commit), "summary": .init(summary),
                      "operator": .init(op), "feedback": .init(feedback)]
        case .verdict(let step, let variant, let passed, let text, let before, let after):
            name = "verdict"
            fields = ["step": .init(step), "variant": .init(variant), "passed": .init(passed), "verdict": .init(text),
                      "holdout_before": .init(before), "holdout_after": .init(after)]
        case .merged(let step, let variant, let commit, let before, let after, let updated):
            name = "merged"
            fields = ["step": .init(step), "variant": .init(variant), "commit": .init(commit), "holdout_before": .init(before),
                      "holdout_after": .init(after), "working_tree_updated": .init(updated)]
        case .stepSkipped(let step, let reason): name = "step_skipped"; fields = ["step": .init(step), "reason": .init(reason)]
        case .stopped(let reason): name = "stopped"; fields = ["reason": .init(reason)]
        case .summary(let summary): name = "summary"; fields = ["summary": .init(summary)]
        }
        try container.encode(name, forKey: .event)
        try container.encode(fields, forKey: .data)
    }
}

/// Type-erased Encodable for event payloads.
public struct AnyEncodable: Encodable, Sendable {
    let encodeValue: @Sendable (Encoder) throws -> Void
    public init<T: Encodable & Sendable>(_ value: T) { encodeValue = { try value.encode(to: $0) } }
    public func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}

/// The end-of-run report.
public struct RunSummary: Sendable, Codable, Equatable {
    public var run: String
    public var stepsRun: Int
    public var accepted: Int
    public var rejected: Int
    public var skipped: Int
    public var seedHoldout: Double
    public var finalHoldout: Double
    public var seedTest: Double?
    public var finalTest: Double?
    public var seedCommit: String
    public var finalCommit: String
    public var usage: UsageTotals
    public var stoppedBecause: String?
    public var wallSeconds: Double
    /// Every accepted step: which operator made it and the holdout score before and after.
    public var acceptedSteps: [AcceptedStep]
    /// Candidates accepted and rejected, by operator.
    public var operators: [String: OperatorTally]
    /// Whether the run left a record (a manifest and candidate branches); a run whose steps all
    /// found nothing to learn from records nothing.
    public var recorded = false
    /// Candidates this run judged on the holdout, the holdout's size, and candidates judged on it
    /// by every run in the repository: the final holdout score was selected on it and reads high.
    public var holdoutJudged = 0
    public var holdoutSize = 0
    public var holdoutJudgedAllRuns = 0

    /// How far the repository's use of the holdout has gone (see `HoldoutReuse`).
    public var holdoutReuse: HoldoutReuse { HoldoutReuse(candidates: holdoutJudgedAllRuns, size: holdoutSize) }
}

extension RunSummary {
    /// Counts one step's outcome.
    mutating func add(_ outcome: OptimizerRun.StepOutcome) {
        switch outcome {
        case .alreadyDecided:
            break
        case .skipped:
            stepsRun += 1
            skipped += 1
        case .finished(let rejectedCount, let operatorsByVariant, let acceptedStep, let judged):
            stepsRun += 1
            holdoutJudged += judged
            rejected += rejectedCount
            accepted += acceptedStep == nil ? 0 : 1
            for (variant, op) in operatorsByVariant {
                let won = acceptedStep?.variant == variant
                operators[op.rawValue, default: OperatorTally()].accepted += won ? 1 : 0
                operators[op.rawValue, default: OperatorTally()].rejected += won ? 0 : 1
            }
            if let acceptedStep { acceptedSteps.append(acceptedStep) }
        }
    }
}

public struct AcceptedStep: Sendable, Codable, Equatable {
    public var step: Int
    public var variant: Int
    public var operatorName: String
    public var holdoutBefore: Double
    public var holdoutAfter: Double
}

public struct OperatorTally: Sendable, Codable, Equatable {
    public var accepted = 0
    public var rejected = 0
    public init() {}
}

extension RunUsage {
    /// The usage totals of a run, as its manifest records them.
    init(_ totals: UsageTotals) {
        self.init(
            calls: totals.calls, cacheHits: totals.cacheHits, promptTokens: totals.promptTokens, completionTokens: totals.completionTokens,
            cost: totals.cost)
    }
}
