import Foundation
import PromptRepo

/// A prompt version as every command evaluates it: the prompt file (and the system file grad.toml
/// names) at a commit, read through a grad.toml, and the splits of that grad.toml's data.
public struct PromptVersion {
    public let commit: ObjectID
    /// The grad.toml whose paths were read; by default the one at `commit`.
    public let config: GradConfig
    public let prompt: PromptPair

    /// Reads the prompt at `commit`. Pass `config` to read it through another version's grad.toml
    /// (`check --against` reads the head through the base's, so both are judged alike).
    public init(_ repository: PromptRepository, at commit: ObjectID, config: GradConfig? = nil) throws {
        let config = try config ?? repository.config(at: commit)
        let task = config.task
        let text = try repository.promptText(task.prompt, at: commit)
        try PromptFile.requireUsable(text, path: task.prompt, inputFields: task.inputFields)
        self.commit = commit
        self.config = config
        prompt = try PromptPair(
            file: text, path: task.prompt,
            system: try task.system.map { PromptTemplate(text: try repository.promptText($0, at: commit), path: $0) },
            inputFields: task.inputFields)
    }

    /// The examples of a split, from the data committed with this version.
    public func examples(_ split: Split, in repository: PromptRepository) throws -> [Example] {
        let path: String? = switch split {
        case .train: config.task.train
        case .holdout: config.task.holdout
        case .test: config.task.test
        }
        guard let path else {
            throw PromptRepoError.configValue(
                file: GradConfig.fileName, key: "task.\(split.rawValue)", message: "is not set; add \(split.rawValue) = \"data/\(split.rawValue).jsonl\"")
        }
        guard let data = try repository.fileData(TestDataSplit.file(of: path), at: commit) else {
            throw PromptRepoError.missingFile(path: "\(path) in \(commit.short)", role: "dataset")
        }
        return try DatasetLoader(task: config.task).parse(data, file: path)
    }
}
