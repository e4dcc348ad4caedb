import Foundation
import TOMLKit

/// The tasks of a grad.toml: one `[task]` (a task without a name, as before tasks had names), or
/// `[tasks.NAME]` tables, each with its prompt and data and optionally its own `metric`, `model`,
/// `optimizer`, `judge`, `search` and `meta_prompts` tables over the top-level ones, key by key.
public struct GradTasks: Sendable, Equatable {
    /// One task: its name (nil for a `[task]` file) and its prompt file.
    public struct Entry: Sendable, Equatable {
        public var name: String?
        public var prompt: String
    }

    public var entries: [Entry]

    /// The sections a task may override, in the order the file's top level has them.
    static let sections = ["metric", "model", "optimizer", "judge", "search", "meta_prompts"]

    /// The tasks of grad.toml's text.
    public static func read(_ text: String, file: String = GradConfig.fileName) throws -> GradTasks {
        let root = try GradConfig.table(text, file: file)
        return GradTasks(entries: try tables(root, file: file).map { name, table in
            let reader = TOMLReader(table, path: name.map { "tasks.\($0)" } ?? "task", file: file)
            var copy = reader
            return Entry(name: name, prompt: try copy.requiredString("prompt"))
        })
    }

    /// `(name, table)` of each task, names sorted.
    static func tables(_ root: TOMLTable, file: String) throws -> [(String?, TOMLTable)] {
        let single = root["task"]
        let named = root["tasks"]
        if single != nil, named != nil {
            throw PromptRepoError.configValue(file: file, key: "tasks", message: "use either one [task] or [tasks.NAME] tables, not both")
        }
        if let single {
            guard let table = single.table else { throw PromptRepoError.configValue(file: file, key: "task", message: "expected a table") }
            return [(nil, table)]
        }
        guard let named else {
            throw PromptRepoError.configValue(
                file: file, key: "task", message: "missing [task] table; add one with prompt, train and holdout (or [tasks.NAME] tables)")
        }
        guard let tasks = named.table, !tasks.keys.isEmpty else {
            throw PromptRepoError.configValue(file: file, key: "tasks", message: "expected [tasks.NAME] tables, each with a prompt")
        }
        return try tasks.keys.sorted().map { name in
            guard TaskName.isValid(name) else {
                throw PromptRepoError.configValue(file: file, key: "tasks.\(name)", message: "a task name is letters, digits, '-' or '_'")
            }
            guard let table = tasks[name]?.table else {
                throw PromptRepoError.configValue(file: file, key: "tasks.\(name)", message: "expected a table with prompt, train and holdout")
            }
            return (name, table)
        }
    }

    /// The task `selector` names (a task name, or the path of its prompt file), or the only one.
    public func select(_ selector: String?, file: String = GradConfig.fileName) throws -> Entry {
        guard let selector else {
            if entries.count == 1 { return entries[0] }
            throw PromptRepoError.configValue(
                file: file, key: "tasks",
                message: "several tasks (\(names.joined(separator: ", "))); pass --task NAME or the prompt's path")
        }
        let path = Self.normalized(selector)
        if let entry = entries.first(where: { $0.name == selector }) ?? entries.first(where: { Self.normalized($0.prompt) == path }) {
            return entry
        }
        throw PromptRepoError.configValue(
            file: file, key: "tasks",
            message: "no task '\(selector.escapingControlCharacters)'; the tasks are \(entries.map { "\($0.name ?? "(unnamed)") (\($0.prompt))" }.joined(separator: ", "))")
    }

    public var names: [String] { entries.map { $0.name ?? "(unnamed)" } }

    public static func normalized(_ path: String) -> String {
        var path = path
        while path.hasPrefix("./") { path.removeFirst(2) }
        return path
    }

    /// The root table one task sees: its own keys as `[task]`, and each overridable section as
    /// the top-level table with the task's keys laid over it. A task that picks another model
    /// provider does not inherit the top level's server, key variable or model name.
    static func view(of task: TOMLTable, root: TOMLTable) -> TOMLTable {
        let view = TOMLTable()
        for key in root.keys where key != "tasks" && !sections.contains(key) { view[key] = root[key] }
        let own = TOMLTable()
        for key in task.keys where !sections.contains(key) { own[key] = task[key] }
        // A section given as a non-table stays with the task's keys, for the reader to reject.
        for section in sections where task[section] != nil && task[section]?.table == nil { own[section] = task[section] }
        view["task"] = own
        for section in sections {
            let base = root[section]?.table
            let overlay = task[section]?.table
            guard base != nil || overlay != nil else { continue }
            let merged = TOMLTable()
            let switchesProvider = overlay?["provider"]?.string.map { $0 != (base?["provider"]?.string ?? "local") } ?? false
            for key in base?.keys ?? [] where !(switchesProvider && ["name", "base_url", "api_key_env"].contains(key)) {
                merged[key] = base?[key]
            }
            for key in overlay?.keys ?? [] { merged[key] = overlay?[key] }
            view[section] = merged
        }
        return view
    }
}

/// A task's name: what `--task` takes and what its runs, labels and notes are filed under.
public enum TaskName {
    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }
}
