import Foundation
import GitKit

/// Reverting a step on main: a new commit whose tree undoes `target`, with git's own message
/// shape plus a `Reverts:` trailer.
public struct RevertResult: Sendable {
    public let commit: ObjectID
    public let reverted: ObjectID
    public let workingTreeUpdated: Bool
}

extension PromptRepository {
    /// Reverts `target` on main. Refuses when prompt files have uncommitted edits, when the revert
    /// would change nothing or conflicts, and when main moved while the commit was written.
    /// `trailers` are added after `Reverts:` (`revert --regression` adds `Restores-Score:`).
    public func revert(_ target: ObjectID, config: GradConfig, trailers: [Trailer] = []) throws -> RevertResult {
        let dirty = try uncommittedPromptFiles(config)
        guard dirty.isEmpty else {
            throw PromptRepoError.format(
                "\(dirty.joined(separator: ", ")): uncommitted edits; commit or stash them, then run revert again")
        }
        let tip = try mainTip()
        let commit = try git.commit(target)
        guard try target == tip || git.mergeBase(target, tip) == target else {
            throw PromptRepoError.format("\(target.short) is not on main; only steps on main can be reverted")
        }
        guard !commit.parents.isEmpty else {
            throw PromptRepoError.format(
                "\(target.short) is the first commit (the seed); reverting it would delete every file. Revert a later step instead")
        }
        let tree = try git.revertTree(target, onto: tip)
        guard tree != (try git.commit(tip).tree) else {
            throw PromptRepoError.format("reverting \(target.short) changes nothing on main; it may already be reverted")
        }
        let message = StepMessage(
            subject: "Revert \"\(commit.summary)\"",
            body: "This reverts commit \(target.hex).",
            trailers: [Trailer(key: TrailerKey.reverts, value: target.hex)] + trailers)
        let newCommit: ObjectID
        do {
            newCommit = try git.createCommit(
                message: message.encode(), tree: tree, parents: [tip], updateReference: GradRefs.main)
        } catch GitError.referenceMoved {
            throw PromptRepoError.format("main moved while the revert was being written; run revert again")
        }
        let updated = try syncWorkingTree(from: tip, to: newCommit)
        return RevertResult(commit: newCommit, reverted: target, workingTreeUpdated: updated)
    }
}

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
        if let noteA = try evaluationNote(a), let noteB = try evaluationNote(b) {
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

/// A word-level diff in git's `--word-diff=plain` notation: `[-removed-]{+added+}`.
public enum WordDiff {
    public enum Piece: Equatable, Sendable { case same(String), removed(String), added(String) }

    /// Splits into words and the whitespace between them, so whitespace survives the round trip.
    static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var currentIsSpace: Bool?
        for character in text {
            let isSpace = character.isWhitespace
            if currentIsSpace != nil && isSpace != currentIsSpace { tokens.append(current); current = "" }
            current.append(character)
            currentIsSpace = isSpace
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    public static func pieces(old: String, new: String) -> [Piece] {
        let a = tokens(old), b = tokens(new)
        // Longest common subsequence table, from the end.
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in stride(from: a.count - 1, through: 0, by: -1) {
            for j in stride(from: b.count - 1, through: 0, by: -1) {
                table[i][j] = a[i] == b[j] ? table[i + 1][j + 1] + 1 : max(table[i + 1][j], table[i][j + 1])
            }
        }
        var pieces: [Piece] = []
        func append(_ piece: Piece) {
            switch (pieces.last, piece) {
            case (.same(let x)?, .same(let y)): pieces[pieces.count - 1] = .same(x + y)
            case (.removed(let x)?, .removed(let y)): pieces[pieces.count - 1] = .removed(x + y)
            case (.added(let x)?, .added(let y)): pieces[pieces.count - 1] = .added(x + y)
            default: pieces.append(piece)
            }
        }
        var i = 0, j = 0
        while i < a.count || j < b.count {
            if i < a.count, j < b.count, a[i] == b[j] { append(.same(a[i])); i += 1; j += 1 }
            else if i < a.count, j == b.count || table[i + 1][j] >= table[i][j + 1] { append(.removed(a[i])); i += 1 }
            else { append(.added(b[j])); j += 1 }
        }
        return pieces
    }

    public static func plain(old: String, new: String) -> String {
        pieces(old: old, new: new).map { piece in
            switch piece {
            case .same(let text): return text
            case .removed(let text): return "[-\(text)-]"
            case .added(let text): return "{+\(text)+}"
            }
        }.joined()
    }
}
