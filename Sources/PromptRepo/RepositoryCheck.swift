import Foundation
import GitKit

/// The files `git grad init` writes when no template is given: a tiny sentiment task.
enum MinimalTemplate {
    static let files: [(path: String, text: String)] = [
        ("grad.toml", """
        # git-grad prompt repository. See `git grad --help`.
        [task]
        prompt = "prompts/classify.md"
        train = "data/train.jsonl"
        holdout = "data/holdout.jsonl"
        input = "text"
        target = "label"
        id = "id"

        [metric]
        kind = "choice"
        labels = ["positive", "negative"]

        [search]
        steps = 3
        variants = 2

        """),
        ("prompts/classify.md", "Is the sentiment of this text positive or negative?\n\nText: {{text}}\n\nAnswer:\n"),
        ("data/train.jsonl", """
        {"id": "t1", "text": "I loved every minute of it.", "label": "positive"}
        {"id": "t2", "text": "A waste of money.", "label": "negative"}
        {"id": "t3", "text": "Not bad at all, would buy again.", "label": "positive"}
        {"id": "t4", "text": "It broke after a day.", "label": "negative"}

        """),
        ("data/holdout.jsonl", """
        {"id": "h1", "text": "Works exactly as promised.", "label": "positive"}
        {"id": "h2", "text": "Never again.", "label": "negative"}

        """),
    ]
}

/// What `git grad check` found: the datasets' sizes and the warnings that do not stop work.
public struct RepositoryCheck: Sendable {
    public var splits: [(name: String, count: Int)] = []
    public var warnings: [DatasetWarning] = []
}

extension PromptRepository {
    /// Validates the working tree's grad.toml, datasets and prompt placeholders, throwing the first
    /// error with its file, line or key.
    public func check() throws -> RepositoryCheck { try Self.validateFiles(at: root) }

    /// The checks of `check()` on the files under `root` (a working tree or an init template).
    static func validateFiles(at root: URL) throws -> RepositoryCheck {
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(GradConfig.fileName).path) else {
            throw PromptRepoError.notAPromptRepository("\(root.path): no grad.toml; run `git grad init` to create a prompt repository")
        }
        let tasks = try GradTasks.read(String(decoding: data, as: UTF8.self))
        var result = RepositoryCheck()
        for task in tasks.entries {
            let checked = try validateTask(try GradConfig.load(from: root, task: task.name ?? task.prompt), at: root)
            // With several tasks each split is named by its task.
            let prefix = tasks.entries.count > 1 ? "\(task.name ?? task.prompt) " : ""
            result.splits += checked.splits.map { (prefix + $0.name, $0.count) }
            result.warnings += checked.warnings
        }
        return result
    }

    /// The checks of one task: its datasets load, its prompt files use only input fields and are usable.
    static func validateTask(_ config: GradConfig, at root: URL) throws -> RepositoryCheck {
        let loader = DatasetLoader(task: config.task)
        var result = RepositoryCheck()
        var loaded: [(name: String, examples: [Example])] = []
        for (name, path) in [("train", config.task.train), ("holdout", config.task.holdout)] + (config.task.test.map { [("test", $0)] } ?? []) {
            let examples = try loader.load(path, root: root)
            loaded.append((name, examples))
            result.splits.append((name, examples.count))
        }
        result.warnings = loader.overlapWarnings(loaded)
        for path in config.task.promptFiles + (config.task.system.map { [$0] } ?? []) {
            guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(path).path) else {
                throw PromptRepoError.missingFile(path: path, role: "prompt")
            }
            let text = String(decoding: data, as: UTF8.self)
            // The prompt's messages only (a `.prompt.yml` file's evaluators use {{expected}} and {{completion}}).
            let messages = try PromptFile.read(text, path: path).promptText
            // Only input fields: a placeholder for the target would hand the model the answer.
            for name in PromptFile.placeholderNames(in: messages) where !config.task.inputFields.contains(name) {
                throw PromptRepoError.configValue(
                    file: path, key: "{{\(name)}}",
                    message: "not an input field; use one of: \(config.task.inputFields.joined(separator: ", ")) (grad.toml [task] input)")
            }
            if config.task.promptFiles.contains(path) {
                try PromptFile.requireUsable(text, path: path, inputFields: config.task.inputFields)
            }
        }
        if config.metric.kind == .choice {
            let labels = Set(config.metric.labels.map { $0.lowercased() })
            for (name, examples) in loaded {
                if let odd = examples.first(where: { !labels.contains($0.target.lowercased()) }) {
                    result.warnings.append(DatasetWarning(message: "\(odd.source): \(name) target '\(odd.target)' is not in metric.labels"))
                }
            }
        }
        return result
    }
}
