import Foundation
import GitKit

/// One line of a prompt with where it came from.
public struct BlamedLine: Sendable, Equatable {
    public let number: Int
    public let text: String
    /// The commit that last changed the line.
    public let commit: ObjectID
    public let origin: LineOrigin
}

/// Who wrote a prompt line: an optimization step, or a person (any commit that is not a step).
public enum LineOrigin: Sendable, Equatable {
    /// A step's candidate; `mergedBy` is the accepted merge that brought it to main.
    case step(run: String, step: Int, operatorName: String?, mergedBy: ObjectID?, gradient: String)
    case commit(summary: String, author: String)
}

extension PromptRepository {
    /// Each line of the prompt file `path` at `revision`, attributed through libgit2's blame,
    /// which follows merges into the candidate branches: a line an accepted step wrote is the
    /// step's (with its run, operator, merge and gradient), a hand-edited line is its commit's.
    public func blame(path: String, at revision: ObjectID) throws -> [BlamedLine] {
        let text = try promptText(path, at: revision)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let hunks = try git.blame(path: path, at: revision)
        var origins: [ObjectID: LineOrigin] = [:]
        var merges: [String: ObjectID]?
        var result: [BlamedLine] = []
        for hunk in hunks {
            if origins[hunk.commit] == nil {
                let commit = try git.commit(hunk.commit)
                let message = try StepMessage.decode(commit.message)
                if let run = message.value(TrailerKey.run), let step = message.value(TrailerKey.step).flatMap(Int.init),
                   message.value(TrailerKey.kind) != "merge" {
                    if merges == nil { merges = try stepMerges(onFirstParentOf: revision) }
                    origins[hunk.commit] = .step(
                        run: run, step: step, operatorName: message.value(TrailerKey.operatorName),
                        mergedBy: merges?["\(run)/\(step)"], gradient: message.body)
                } else {
                    origins[hunk.commit] = .commit(summary: commit.summary, author: commit.author.name)
                }
            }
            for number in hunk.startLine..<(hunk.startLine + hunk.lineCount) where number <= lines.count {
                result.append(BlamedLine(number: number, text: lines[number - 1], commit: hunk.commit, origin: origins[hunk.commit]!))
            }
        }
        return result
    }

    /// The accepted merges on `tip`'s first-parent history, by "run/step".
    private func stepMerges(onFirstParentOf tip: ObjectID) throws -> [String: ObjectID] {
        var merges: [String: ObjectID] = [:]
        for id in try git.walk(from: tip, firstParentOnly: true) {
            let commit = try git.commit(id)
            guard commit.isMerge else { continue }
            let trailers = try StepMessage.trailers(of: commit.message)
            let value = { (key: String) in trailers.last { $0.key == key }?.value }
            if value(TrailerKey.kind) == "merge", let run = value(TrailerKey.run), let step = value(TrailerKey.step) {
                merges["\(run)/\(step)"] = id
            }
        }
        return merges
    }
}
