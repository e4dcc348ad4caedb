import Foundation
import GitKit

/// A git repository that follows git-grad's conventions: grad.toml at the root, prompts and data
/// as files, steps as commits on `main` and `grad/*` branches, evaluation results as notes.
///
/// Owns a `GitKit.Repository`, so it is not `Sendable`: keep it on one actor or thread. The
/// handle stays inside PromptRepo: clients read and write git through this type, `RunStore`,
/// `ManifestStore`, `Labels` and `Sharing`.
public final class PromptRepository {
    let git: Repository
    /// The working tree root.
    public let root: URL

    init(git: Repository) throws {
        guard let root = git.workingDirectory else { throw GitError.bareRepository(git.gitDirectory.path) }
        self.git = git
        self.root = root
        // Every reference this handle writes holds git-grad's kernel writer lock (see WriterLock).
        git.writeCoordinator = WriterLock(gitDirectory: git.gitDirectory)
    }

    /// Opens the repository containing `directory`.
    public static func open(_ directory: URL) throws -> PromptRepository {
        do {
            return try PromptRepository(git: try Repository.open(at: directory))
        } catch GitError.notFound {
            throw PromptRepoError.notAPromptRepository(
                "\(directory.path): not a git repository; run `git grad init` there or pass -C DIR")
        }
    }

    /// grad.toml as committed at `revision` when it is there, else from the working tree, for
    /// `task` (a name or a prompt path; nil when there is one task). The prompt file is read from
    /// the same version, for the settings it carries (see `PromptFileSettings`).
    public func config(at revision: ObjectID? = nil, task: String? = nil) throws -> GradConfig {
        if let revision, let data = try git.fileData(at: GradConfig.fileName, inCommit: revision) {
            return try GradConfig.parse(String(decoding: data, as: UTF8.self), task: task) { path in
                try self.git.fileData(at: path, inCommit: revision)
            }
        }
        return try GradConfig.load(from: root, task: task)
    }

    /// The tasks of grad.toml at `revision` (else in the working tree).
    public func tasks(at revision: ObjectID? = nil) throws -> GradTasks {
        if let revision, let data = try git.fileData(at: GradConfig.fileName, inCommit: revision) {
            return try GradTasks.read(String(decoding: data, as: UTF8.self))
        }
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent(GradConfig.fileName).path) else {
            throw PromptRepoError.notAPromptRepository("\(root.path): no grad.toml; run `git grad init` to create a prompt repository")
        }
        return try GradTasks.read(String(decoding: data, as: UTF8.self))
    }

    /// The `.git` directory (where the response cache and model logs live beside the record).
    public var gitDirectory: URL { git.gitDirectory }

    /// A commit's subject line (its first paragraph on one line), for listings.
    public func commitSummary(_ commit: ObjectID) throws -> String { try git.commit(commit).summary }

    /// A file as committed, nil when the commit has no such file.
    public func fileData(_ path: String, at commit: ObjectID) throws -> Data? { try git.fileData(at: path, inCommit: commit) }

    /// The tip of a branch, nil when there is no such branch.
    public func branchTip(_ branch: String) throws -> ObjectID? { try git.branchTarget(branch) }

    /// A commit's first parent, nil for a root commit.
    public func firstParent(of commit: ObjectID) throws -> ObjectID? { try git.commit(commit).parents.first }

    /// `tip` and its first parents, newest first: the versions a branch went through.
    public func firstParentHistory(from tip: ObjectID) throws -> [ObjectID] { try git.walk(from: tip, firstParentOnly: true) }

    /// The unified diff of a prompt file between two versions (`from` nil: from nothing), with
    /// git's `a/` and `b/` paths.
    public func promptDiff(_ path: String, from old: ObjectID?, to new: ObjectID) throws -> String {
        let before = try old.map { try promptText(path, at: $0) } ?? ""
        return try unifiedDiff(old: before, new: try promptText(path, at: new), oldPath: "a/\(path)", newPath: "b/\(path)")
    }

    /// The tip of main, or a clear error when there is none yet.
    public func mainTip() throws -> ObjectID {
        guard let tip = try git.referenceTarget(GradRefs.main) else {
            throw PromptRepoError.notAPromptRepository("\(root.path): branch main has no commits; run `git grad init`")
        }
        return tip
    }

    /// The text of the prompt file at a commit.
    public func promptText(_ path: String, at commit: ObjectID) throws -> String {
        guard let data = try git.fileData(at: path, inCommit: commit) else {
            throw PromptRepoError.missingFile(path: "\(path) in commit \(commit.short)", role: "prompt")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The blob id of the prompt at a commit: the prompt version's identity.
    public func promptBlob(_ path: String, at commit: ObjectID) throws -> ObjectID? {
        try git.blobID(at: path, inTree: try git.commit(commit).tree)
    }

    public func stepMessage(_ commit: ObjectID) throws -> StepMessage {
        try StepMessage.decode(try git.commit(commit).message)
    }

    /// A commit's evaluation note for `task` (each named task has its own notes reference, so
    /// two tasks evaluating one commit never overwrite each other).
    public func evaluationNote(_ commit: ObjectID, task: String? = nil) throws -> EvaluationNote? {
        guard let text = try git.note(on: commit, notesReference: GradRefs.notes(task: task)) else { return nil }
        do {
            return try EvaluationNote.decode(text)
        } catch PromptRepoError.damagedRecord(EvaluationNote.notJSON) {
            throw PromptRepoError.damagedRecord(
                "the \(EvaluationNote.notJSON) (on commit \(commit.short), \(GradRefs.notes(task: task))); remove it with `git notes --ref=\(GradRefs.notes(task: task).dropFirst("refs/notes/".count)) remove \(commit.short)` and evaluate again")
        }
    }

    public func writeEvaluationNote(_ note: EvaluationNote, on commit: ObjectID, task: String? = nil) throws {
        do {
            try git.setNote(try note.encoded(), on: commit, notesReference: GradRefs.notes(task: task), overwrite: true)
        } catch GitError.libgit2(let failure) {
            // libgit2 reports a failed write of a note's objects vaguely ("note could not be found").
            throw PromptRepoError.writeFailed(
                "git could not write the evaluation note on \(commit.short) (refs/notes/grad: \(failure.message)); check free disk space and that .git is writable, then run again")
        }
    }

    /// Records one split's results in `commit`'s evaluation note, keeping the other splits when
    /// the note was made with the same prompt and model. `git grad eval` and the optimizer's store
    /// both write notes through this.
    @discardableResult
    public func recordSplit(
        _ result: EvaluationNote.SplitResult, verdict: String? = nil, of commit: ObjectID, promptPath: String,
        model: EvaluationNote.ModelInfo, metric: String, task: String? = nil
    ) throws -> EvaluationNote {
        var note = EvaluationNote.recording(
            result, in: try evaluationNote(commit, task: task), promptBlob: try promptBlob(promptPath, at: commit)?.hex ?? "", model: model,
            metric: metric)
        if let verdict { note.verdict = verdict }
        try writeEvaluationNote(note, on: commit, task: task)
        return note
    }

    /// Prompt files that have uncommitted edits in the working tree or index.
    public func uncommittedPromptFiles(_ config: GradConfig) throws -> [String] {
        try git.status(paths: config.task.promptFiles).map(\.path)
    }

    /// After `main` moved from `oldTip` to `newTip` by a commit written straight to the ref, bring
    /// the working tree along when HEAD is on main. Returns false (and leaves the files alone)
    /// when the user has edits there that the update would overwrite.
    @discardableResult
    public func syncWorkingTree(from oldTip: ObjectID, to newTip: ObjectID) throws -> Bool {
        guard try git.currentBranch() == GradRefs.mainBranch else { return false }
        do {
            try git.updateWorkingTree(from: try git.commit(oldTip).tree, to: try git.commit(newTip).tree)
            return true
        } catch GitError.uncommittedChanges {
            return false
        }
    }

    // MARK: - Creating a prompt repository

    /// Creates a prompt repository in `directory`: copies `template`'s files (or writes a minimal
    /// example) and records them as the first commit on main with `Grad-Step: 0`.
    public static func initialize(at directory: URL, template: URL?) throws -> PromptRepository {
        let fileManager = FileManager.default
        if let template {
            guard fileManager.fileExists(atPath: template.appendingPathComponent(GradConfig.fileName).path) else {
                throw PromptRepoError.notAPromptRepository("\(template.path): no grad.toml; --from needs a prompt repository template")
            }
            // Validate config, data and prompts before anything is written, so bad input changes nothing.
            _ = try validateFiles(at: template)
        }
        if fileManager.fileExists(atPath: directory.appendingPathComponent(GradConfig.fileName).path) {
            throw PromptRepoError.notAPromptRepository("\(directory.path): already has a grad.toml; nothing to initialize")
        }
        if let existing = try? Repository.open(at: directory), existing.workingDirectory?.standardizedFileURL.path == directory.standardizedFileURL.path,
           try existing.referenceTarget("HEAD") != nil
        {
            throw PromptRepoError.notAPromptRepository("\(directory.path): is already a git repository with commits; init a new directory")
        }

        let files: [(path: String, data: Data)]
        if let template {
            files = try templateFiles(template)
        } else {
            files = MinimalTemplate.files.map { ($0.path, Data($0.text.utf8)) }
        }
        for file in files {
            let url = directory.appendingPathComponent(file.path)
            guard !fileManager.fileExists(atPath: url.path) else {
                throw PromptRepoError.notAPromptRepository("\(url.path): already exists; init into an empty directory")
            }
        }
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        for file in files {
            let url = directory.appendingPathComponent(file.path)
            try fileManager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try file.data.write(to: url)
        }

        let git = try Repository.create(at: directory, initialBranch: GradRefs.mainBranch)
        var changes: [TreeChange] = []
        for file in files { changes.append(.upsert(path: file.path, blob: try git.createBlob(file.data))) }
        let tree = try git.updateTree(nil, applying: changes)
        let message = StepMessage(
            subject: "Seed prompt", body: "The prompt repository as created by git grad init.",
            trailers: [Trailer(key: TrailerKey.step, value: "0")])
        try git.createCommit(message: message.encode(), tree: tree, parents: [], updateReference: GradRefs.main)
        try git.resetIndex(to: tree)
        return try PromptRepository(git: git)
    }

    private static func templateFiles(_ template: URL) throws -> [(path: String, data: Data)] {
        let fileManager = FileManager.default
        guard let enumerator = fileManager.enumerator(at: template, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        var files: [(String, Data)] = []
        let base = template.standardizedFileURL.path
        for case let url as URL in enumerator {
            // Hidden files (.git, .env with a key, editor state) are never copied into a commit.
            if url.lastPathComponent.hasPrefix(".") { enumerator.skipDescendants(); continue }
            guard (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true else { continue }
            var relative = String(url.standardizedFileURL.path.dropFirst(base.count))
            if relative.hasPrefix("/") { relative.removeFirst() }
            files.append((relative, try Data(contentsOf: url)))
        }
        return files.sorted { $0.0 < $1.0 }
    }
}
