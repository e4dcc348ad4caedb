import Foundation

/// Errors in a prompt repository's files. Each names the file and, where there is one, the line,
/// field or key, and says what to do, so the command line can print it as one line.
public enum PromptRepoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// grad.toml is not valid TOML.
    case configSyntax(file: String, line: Int, column: Int, message: String)
    /// A grad.toml key is unknown, has the wrong type, or holds a value that is not allowed.
    case configValue(file: String, key: String, message: String)
    /// A dataset row is broken or lacks a field.
    case dataset(file: String, line: Int, message: String)
    /// A dataset file as a whole is unusable (missing, empty, duplicate ids).
    case datasetFile(file: String, message: String)
    /// A file the configuration names does not exist.
    case missingFile(path: String, role: String)
    /// git-grad's own record (a note, a manifest, what a reference points at) cannot be read, or
    /// was written by a newer git-grad; the message names it and says how to recover.
    case damagedRecord(String)
    /// A prompt template cannot be used (no placeholder for an input, an unknown one, bad structure).
    case prompt(String)
    /// An experiment's grid, cells, seeds or name are not usable.
    case experiment(String)
    /// A label or run name with characters git-grad does not allow.
    case invalidName(String)
    /// Another git-grad process holds the repository's writer lock, or the lock cannot be taken.
    case locked(String)
    /// git could not write what git-grad asked (disk full, permissions).
    case writeFailed(String)
    /// The directory is not a prompt repository.
    case notAPromptRepository(String)
    /// A label does not exist, or moved since the caller looked at it.
    case label(String)
    /// No run of that name is recorded.
    case noSuchRun(String)
    /// A run or experiment manifest (`what`: `run x1`) under `reference` is not valid JSON of its kind.
    case unreadableManifest(what: String, reference: String, fix: String)
    /// The branch an experiment run merges into is gone.
    case missingTrunk(String)
    /// The repository's state does not allow the operation now (uncommitted edits, a run that
    /// ended or belongs to an experiment, HEAD on a branch about to go); the message says what to do.
    case conflict(String)

    public var description: String {
        switch self {
        case .configSyntax(let file, let line, let column, let message):
            return "\(file):\(line):\(column): \(message); fix the TOML syntax"
        case .configValue(let file, let key, let message):
            return "\(file): \(key): \(message)"
        case .dataset(let file, let line, let message):
            return "\(file):\(line): \(message)"
        case .datasetFile(let file, let message):
            return "\(file): \(message)"
        case .missingFile(let path, let role):
            return "\(path): \(role) file not found; create it or fix its path in grad.toml"
        case .damagedRecord(let message), .prompt(let message), .experiment(let message), .invalidName(let message),
             .locked(let message), .writeFailed(let message):
            return message
        case .notAPromptRepository(let message), .label(let message), .conflict(let message):
            return message
        case .noSuchRun(let run):
            return "no run named \(run); `git grad runs` lists the runs"
        case .unreadableManifest(let what, let reference, let fix):
            return "the manifest of \(what) (\(reference)) cannot be read; \(fix)"
        case .missingTrunk(let trunk):
            return "branch \(trunk) is missing; the run that merges into it cannot go on"
        }
    }
}
