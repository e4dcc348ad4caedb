import Evaluation
import Foundation
import PromptRepo

/// `git grad bisect`: the step on main's first-parent history that introduced a regression, found
/// by binary search, so a history of N steps costs about log2(N) + 2 evaluations (each cached).
///
/// Every version is judged with one yardstick: the grad.toml and data of the newest version, so
/// a score changes only because the prompt did.
public struct RegressionBisect {
    /// One evaluated version.
    public struct Probe: Sendable, Equatable {
        public let commit: ObjectID
        public let score: Double
        public let bad: Bool
    }

    public struct Result: Sendable {
        /// The first version that scores below the good one by more than the threshold.
        public let firstBad: ObjectID
        public let firstBadScore: Double
        /// Its first parent, the last good version, and its score (what reverting restores).
        public let lastGood: ObjectID
        public let lastGoodScore: Double
        public let probes: [Probe]
        public let versions: Int
    }

    public let split: Split
    public let threshold: Double
    /// Oldest first: the good version, then main's first-parent history up to the bad one.
    public let versions: [ObjectID]
    public let config: GradConfig
    /// The split's examples, from the bad version's data.
    public let examples: [Example]

    /// - Parameters:
    ///   - good: a version on `bad`'s first-parent history; nil is its root (the seed).
    public init(_ repository: PromptRepository, good: ObjectID?, bad: ObjectID, split: Split, threshold: Double, config: GradConfig) throws {
        var history = try repository.firstParentHistory(from: bad)
        if let good {
            guard let index = history.firstIndex(of: good) else {
                throw PromptRepoError.conflict(
                    "\(good.short) is not on the first-parent history of \(bad.short); give --good a version of main")
            }
            history = Array(history[...index])
        }
        guard history.count >= 2 else {
            throw PromptRepoError.conflict("there is no step between the good and the bad version; nothing to bisect")
        }
        versions = history.reversed()
        examples = try PromptVersion(repository, at: bad, config: config).examples(split, in: repository)
        self.split = split
        self.threshold = threshold
        self.config = config
    }

    /// Searches with `score` evaluating one version; nil when the bad version is not worse than
    /// the good one by more than the threshold (there is no regression to find).
    public func run(score: (ObjectID) async throws -> Double) async throws -> (result: Result?, probes: [Probe]) {
        var probes: [Probe] = []
        var scores: [Int: Double] = [:]
        let goodScore = try await score(versions[0])
        scores[0] = goodScore
        probes.append(Probe(commit: versions[0], score: goodScore, bad: false))
        func isBad(_ index: Int) async throws -> Bool {
            let value = try await score(versions[index])
            scores[index] = value
            let bad = value < goodScore - threshold - 1e-12
            probes.append(Probe(commit: versions[index], score: value, bad: bad))
            return bad
        }
        var low = 0, high = versions.count - 1
        guard try await isBad(high) else { return (nil, probes) }
        // Invariant: versions[low] is good, versions[high] is bad.
        while high - low > 1 {
            let middle = (low + high) / 2
            if try await isBad(middle) { high = middle } else { low = middle }
        }
        return (Result(
            firstBad: versions[high], firstBadScore: scores[high]!, lastGood: versions[low], lastGoodScore: scores[low]!,
            probes: probes, versions: versions.count), probes)
    }

    /// Scores one version on the split with this bisection's grad.toml and data.
    public func evaluate(_ commit: ObjectID, in repository: PromptRepository, with evaluator: Evaluator,
                         progress: (@Sendable (ExampleOutcome) -> Void)? = nil) async throws -> Double {
        let version = try PromptVersion(repository, at: commit, config: config)
        return meanScore(try await evaluator.evaluate(prompt: version.prompt, examples: examples, progress: progress))
    }
}
