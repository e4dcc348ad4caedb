import Foundation
import GitKit

/// What `git grad diff A B` shows: the prompt change, the recorded scores and the flipped examples.
public struct PromptComparison: Codable, Sendable {
    public struct Flip: Codable, Sendable, Equatable {
        public let id: String
        public let expected: String
        public let before: String
        public let after: String
    }
    public struct SplitComparison: Codable, Sendable {
        public let split: String
        public let scoreA: Double
        public let scoreB: Double
        public let totalA: Int
        public let totalB: Int
        /// Right in A, wrong in B.
        public let regressions: [Flip]
        /// Wrong in A, right in B.
        public let improvements: [Flip]
    }

    public let a: String
    public let b: String
    public let promptPath: String
    public let oldText: String
    public let newText: String
    public let patch: String
    /// Scores recorded in each commit's trailers (`Score-Holdout`, `Score-Train`).
    public let trailerScoresA: [String: String]
    public let trailerScoresB: [String: String]
    public let splits: [SplitComparison]
}

extension PromptRepository {
    public func compare(_ a: ObjectID, _ b: ObjectID, config: GradConfig) throws -> PromptComparison {
        let path = config.task.prompt
        let oldText = (try? promptText(path, at: a)) ?? ""
        let newText = (try? promptText(path, at: b)) ?? ""
        let patch = try git.diffTrees(try git.commit(a).tree, try git.commit(b).tree, paths: [path])
        func scores(_ id: ObjectID) throws -> [String: String] {
            let message = try stepMessage(id)
            var result: [String: String] = [:]
            for key in [TrailerKey.scoreTrain, TrailerKey.scoreHoldout] {
                if let value = message.value(key) { result[key] = value }
            }
            return result
        }
        var splits: [PromptComparison.SplitComparison] = []
        if let noteA = try evaluationNote(a, task: config.taskName), let noteB = try evaluationNote(b, task: config.taskName) {
            for splitA in noteA.splits {
                guard let splitB = noteB.split(splitA.split) else { continue }
                let byID = Dictionary(splitA.examples.map { ($0.id, $0) }, uniquingKeysWith: { _, last in last })
                var regressions: [PromptComparison.Flip] = [], improvements: [PromptComparison.Flip] = []
                for exampleB in splitB.examples {
                    guard let exampleA = byID[exampleB.id], exampleA.correct != exampleB.correct else { continue }
                    let flip = PromptComparison.Flip(id: exampleB.id, expected: exampleB.expected, before: exampleA.output, after: exampleB.output)
                    if exampleA.correct { regressions.append(flip) } else { improvements.append(flip) }
                }
                splits.append(.init(
                    split: splitA.split, scoreA: splitA.score, scoreB: splitB.score, totalA: splitA.total, totalB: splitB.total,
                    regressions: regressions, improvements: improvements))
            }
        }
        return PromptComparison(
            a: a.hex, b: b.hex, promptPath: path, oldText: oldText, newText: newText, patch: patch,
            trailerScoresA: try scores(a), trailerScoresB: try scores(b), splits: splits)
    }
}
