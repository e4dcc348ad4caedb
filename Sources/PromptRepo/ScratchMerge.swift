import Foundation
import GitKit

/// Three-way merges of prompt versions done with scratch commits that no reference points at (the
/// merge operator's candidates). Only unreferenced objects are written.
struct ScratchMerge {
    let repository: PromptRepository
    private var git: Repository { repository.git }

    /// The prompt text of three-way merges (libgit2) of `commits` into the trunk's `tip`, one after
    /// the other; nil when any merge conflicts. When a chat-structured prompt takes part, all three
    /// texts are first laid out alike (a system message with a rules section), so rule lines and
    /// worked-example blocks fall in separate hunks.
    func mergedPromptText(of commits: [ObjectID], onto tip: ObjectID, promptPath: String) throws -> String? {
        var current = tip
        let original = try repository.promptText(promptPath, at: tip)
        var text = original
        for commit in commits {
            let base = try git.mergeBase(commit, current)
            guard base != commit else { continue }
            let texts = [try base.map { try repository.promptText(promptPath, at: $0) } ?? "", text, try repository.promptText(promptPath, at: commit)]
            let files = texts.map(PromptFile.parse)
            let laidOut = files.contains(where: \.isChat) ? files.map { $0.withRulesSection().render() } : texts
            guard let merged = try git.mergeFileContents(ancestor: laidOut[0], ours: laidOut[1], theirs: laidOut[2]) else { return nil }
            text = merged
            let tree = try git.updateTree(try git.commit(current).tree, applying: [.upsert(path: promptPath, blob: try git.createBlob(merged))])
            current = try git.createCommit(message: "git-grad: merge operator (scratch)\n", tree: tree, parents: [current, commit])
        }
        let result = PromptFile.parse(text).withoutEmptyRulesSection().render()
        return result == original || result == PromptFile.parse(original).withRulesSection().render() ? nil : result
    }
}
