import Evaluation
import Foundation
import PromptRepo

/// Per-example comparison of a candidate with the current prompt on the holdout set.
public struct FlipTally: Sendable, Equatable {
    /// Baseline correctness and label of each holdout example, in evaluation order.
    public let baseline: [(id: String, label: String, correct: Bool)]
    /// The parent's score of each example (0 or 1 for label metrics; a grade otherwise).
    public let baselineScores: [Double]
    public private(set) var candidateScores: [Double] = []
    public private(set) var evaluated = 0
    public private(set) var regressions = 0
    public private(set) var improvements = 0
    public private(set) var candidateCorrect = 0
    private var netLossByLabel: [String: Int] = [:]

    public static func == (lhs: FlipTally, rhs: FlipTally) -> Bool {
        lhs.evaluated == rhs.evaluated && lhs.regressions == rhs.regressions && lhs.improvements == rhs.improvements
            && lhs.candidateScores == rhs.candidateScores
    }

    public init(baseline: [(id: String, label: String, correct: Bool)], scores: [Double]? = nil) {
        self.baseline = baseline
        baselineScores = scores ?? baseline.map { $0.correct ? 1 : 0 }
    }

    public var remaining: Int { baseline.count - evaluated }

    /// The paired comparison of the examples evaluated so far.
    public var comparison: PairedComparison {
        PairedComparison(parent: Array(baselineScores.prefix(evaluated)), candidate: candidateScores)
    }

    /// Adds the next example's candidate result (examples are fed in baseline order).
    public mutating func add(candidateCorrect correct: Bool, score: Double? = nil) {
        let base = baseline[evaluated]
        candidateScores.append(score ?? (correct ? 1 : 0))
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

    /// The tally if every remaining example improved where it can (a full score) and none regressed.
    func bestCase() -> FlipTally {
        var best = self
        while best.remaining > 0 {
            best.add(candidateCorrect: true, score: max(1, best.baselineScores[best.evaluated]))
        }
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

extension FlipTally {
    /// Wrong answers a prompt fixed and right ones it broke, pairing two prompts' outcomes by row
    /// id (rows only one side answered are left out): a step's screening and the rules check.
    static func flips(before: [ExampleOutcome], after: [ExampleOutcome]) -> (fixed: Int, broken: Int) {
        let beforeByID = Dictionary(before.map { ($0.example.id, $0.correct) }, uniquingKeysWith: { first, _ in first })
        let pairs = after.compactMap { outcome in beforeByID[outcome.example.id].map { ($0, outcome.correct) } }
        return (pairs.filter { !$0.0 && $0.1 }.count, pairs.filter { $0.0 && !$0.1 }.count)
    }
}
