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
            // The format decides the layout; a version that no longer reads (broken YAML) cannot be merged.
            guard let files = try? texts.map({ try PromptFile.read($0, path: promptPath) }) else { return nil }
            let laidOut = files.contains(where: \.format.hasMessages) ? files.map { $0.withRulesSection().render() } : texts
            guard let merged = try git.mergeFileContents(ancestor: laidOut[0], ours: laidOut[1], theirs: laidOut[2]) else { return nil }
            text = merged
            let tree = try git.updateTree(try git.commit(current).tree, applying: [.upsert(path: promptPath, blob: try git.createBlob(merged))])
            current = try git.createCommit(message: "git-grad: merge operator (scratch)\n", tree: tree, parents: [current, commit])
        }
        guard let merged = try? PromptFile.read(text, path: promptPath), let originalFile = try? PromptFile.read(original, path: promptPath) else { return nil }
        let result = merged.withoutEmptyRulesSection().render()
        return result == original || result == originalFile.withRulesSection().render() ? nil : result
    }
}
