import Foundation
import GitKit

/// What `git grad pull` or `push` did.
public struct SyncReport: Sendable, Equatable {
    /// References new here (pull) or updated on the remote (push).
    public var updated: [String] = []
    /// References both sides moved; the local one is kept (or, on push, was not sent).
    public var diverged: [String] = []
    /// Notes on the same objects from both sides that were combined.
    public var notesMerged = 0
    public var mainMoved: (from: ObjectID, to: ObjectID)?
    public var workingTreeUpdated = false

    public static func == (a: SyncReport, b: SyncReport) -> Bool {
        a.updated == b.updated && a.diverged == b.diverged && a.notesMerged == b.notesMerged
            && a.mainMoved?.from == b.mainMoved?.from && a.mainMoved?.to == b.mainMoved?.to
    }
}

/// Sharing the grad record through a remote: main, the candidate branches (`grad/*`), the run and
/// experiment manifests and labels (`refs/grad/*`) and the evaluation notes, all through libgit2.
///
/// Nothing is overwritten: a reference only moves forward (fast-forward); one both sides moved is
/// reported and the local one kept; notes are merged, never rejected. Main only fast-forwards, so
/// it stays at a verified prompt: when two clones each merged steps, the later one is told so in
/// one line and keeps its run, pushed under its own (unique) branch names, nothing lost.
public struct Sharing {
    /// Where pulled references wait until they are integrated.
    static let staging = "refs/grad-sync/"
    /// The refspecs `remote setup` adds so that plain `git fetch` and `git push` carry the record.
    public static let fetchRefspecs = ["refs/heads/grad/*:refs/heads/grad/*", "refs/grad/*:refs/grad/*", "+refs/notes/grad:refs/notes/grad-remote",
        "+refs/notes/grad-task/*:refs/notes/grad-task-remote/*"]
    public static let pushRefspecs = ["refs/heads/main:refs/heads/main", "refs/heads/grad/*:refs/heads/grad/*", "refs/grad/*:refs/grad/*", "refs/notes/grad:refs/notes/grad",
        "refs/notes/grad-task/*:refs/notes/grad-task/*"]

    let repository: PromptRepository
    private var git: Repository { repository.git }

    public init(_ repository: PromptRepository) { self.repository = repository }

    /// Writes the refspecs into a configured remote; returns how many were new.
    public func setUp(remote: String) throws -> Int {
        guard git.hasRemote(named: remote) else {
            throw PromptRepoError.conflict("no remote '\(remote)'; add it first with `git remote add \(remote) URL`")
        }
        return try git.addRefspecs(toRemote: remote, fetch: Self.fetchRefspecs, push: Self.pushRefspecs)
    }

    /// Fetches the remote's record and integrates it: new references are created, references that
    /// only moved there fast-forward here, notes are merged, main fast-forwards when it can.
    public func pull(from remote: String) throws -> SyncReport {
        try clearStaging()
        defer { try? clearStaging() }
        try git.fetch(from: remote, refspecs: [
            "+refs/heads/main:\(Self.staging)heads/main", "+refs/heads/grad/*:\(Self.staging)heads/grad/*",
            "+refs/grad/*:\(Self.staging)grad/*", "+refs/notes/grad:\(Self.staging)notes/grad",
            "+refs/notes/grad-task/*:\(Self.staging)notes/grad-task/*",
        ])
        var report = SyncReport()
        for staged in try git.references(matching: Self.staging + "*") {
            let name = "refs/" + staged.name.dropFirst(Self.staging.count)
            switch name {
            case GradRefs.main:
                try integrateMain(staged.target, into: &report)
            case GradRefs.notes, _ where name.hasPrefix(GradRefs.taskNotesPrefix):
                report.notesMerged += try mergeNotes(name, theirs: staged.target, remote: remote, into: &report)
            default:
                try fastForward(name, to: staged.target, into: &report)
            }
        }
        return report
    }

    /// Pulls first (so notes and references are merged, not refused), then pushes main, the
    /// candidate branches, the manifests, labels and notes. Main is sent only when the remote's
    /// main is part of it; everything else is sent either way, so a run is never lost.
    public func push(to remote: String) throws -> SyncReport {
        _ = try ManifestStore(repository).upgradeBlobManifests()
        var report = try pull(from: remote)
        let mainDiverged = report.diverged.contains(GradRefs.main)
        var references = try git.references(matching: "refs/heads/grad/*").map(\.name)
            + git.references(matching: "refs/grad/*").map(\.name)
        if try git.referenceTarget(GradRefs.notes) != nil { references.append(GradRefs.notes) }
        references += try git.references(matching: GradRefs.taskNotesPrefix + "*").map(\.name)
        if !mainDiverged { references.insert(GradRefs.main, at: 0) }
        let rejected = try git.push(to: remote, refspecs: references.map { "\($0):\($0)" })
        report.diverged += rejected.map { $0.reference.isEmpty ? $0.reason : $0.reference }
        report.updated = references.filter { reference in !rejected.contains { $0.reference == reference } }
        return report
    }

    // MARK: - Integrating

    private func integrateMain(_ theirs: ObjectID, into report: inout SyncReport) throws {
        guard let ours = try git.referenceTarget(GradRefs.main) else {
            // A fresh clone or `git init` + `remote add`: main comes from the remote.
            let headIsUnborn = try git.currentBranch().map { try git.branchTarget($0) == nil } ?? false
            try git.updateReference(GradRefs.main, to: theirs, expecting: nil, logMessage: "git-grad: pull (main from the remote)")
            report.updated.append(GradRefs.main)
            report.workingTreeUpdated = try headIsUnborn && checkOutMain(theirs)
            return
        }
        guard ours != theirs, try git.mergeBase(ours, theirs) != theirs else { return }
        guard try git.mergeBase(ours, theirs) == ours else {
            report.diverged.append(GradRefs.main)
            return
        }
        try git.updateReference(GradRefs.main, to: theirs, expecting: ours, logMessage: "git-grad: pull (fast-forward)")
        report.mainMoved = (ours, theirs)
        report.updated.append(GradRefs.main)
        report.workingTreeUpdated = try repository.syncWorkingTree(from: ours, to: theirs)
    }

    /// A repository whose HEAD named a branch without commits gets HEAD on main and main's files
    /// in its working tree and index, so it holds the prompt repository. Files already there
    /// that main would overwrite are kept, and the checkout is skipped.
    private func checkOutMain(_ tip: ObjectID) throws -> Bool {
        guard git.workingDirectory != nil else { return false }
        try git.setHead(branch: GradRefs.mainBranch)
        do {
            try git.updateWorkingTree(from: try git.updateTree(nil, applying: []), to: try git.commit(tip).tree)
            return true
        } catch GitError.uncommittedChanges {
            return false
        }
    }

    private func fastForward(_ name: String, to theirs: ObjectID, into report: inout SyncReport) throws {
        guard let ours = try git.referenceTarget(name) else {
            try git.updateReference(name, to: theirs, expecting: nil, logMessage: "git-grad: pull")
            report.updated.append(name)
            return
        }
        if try ours == theirs || git.mergeBase(ours, theirs) == theirs { return }
        if try git.mergeBase(ours, theirs) == ours {
            try git.updateReference(name, to: theirs, expecting: ours, logMessage: "git-grad: pull (fast-forward)")
            report.updated.append(name)
        } else {
            report.diverged.append(name)
        }
    }

    /// Merges the remote's notes into ours: a note only one side has is kept; the same object
    /// noted on both sides gets the union of the evaluated splits. The result is a merge commit
    /// with both tips as parents, so the next push fast-forwards.
    private func mergeNotes(_ notes: String, theirs: ObjectID, remote: String, into report: inout SyncReport) throws -> Int {
        guard let ours = try git.referenceTarget(notes) else {
            try git.updateReference(notes, to: theirs, expecting: nil, logMessage: "git-grad: pull notes")
            report.updated.append(notes)
            return 0
        }
        let base = try git.mergeBase(ours, theirs)
        if ours == theirs || base == theirs { return 0 }
        if base == ours {
            try git.updateReference(notes, to: theirs, expecting: ours, logMessage: "git-grad: pull notes (fast-forward)")
            report.updated.append(notes)
            return 0
        }
        let stagedNotes = Self.staging + notes.dropFirst("refs/".count)
        var combined = 0
        for (annotated, blob) in try git.notes(notesReference: stagedNotes) {
            let theirText = String(decoding: try git.blobData(blob), as: UTF8.self)
            guard let ourText = try git.note(on: annotated, notesReference: notes) else {
                try git.setNote(theirText, on: annotated, notesReference: notes)
                continue
            }
            guard ourText != theirText else { continue }
            try git.setNote(Self.mergedNote(ours: ourText, theirs: theirText), on: annotated, notesReference: notes)
            combined += 1
        }
        let merged = try git.referenceTarget(notes)!
        let commit = try git.createCommit(
            message: "Notes merged from \(remote) by 'git-grad'\n", tree: try git.commit(merged).tree, parents: [merged, theirs])
        try git.updateReference(notes, to: commit, expecting: merged, logMessage: "git-grad: pull notes (merge)")
        report.updated.append(notes)
        return combined
    }

    /// Our note with the splits only theirs has added; a note that is not git-grad's is kept as ours.
    static func mergedNote(ours: String, theirs: String) -> String {
        guard var mine = try? EvaluationNote.decode(ours), let other = try? EvaluationNote.decode(theirs) else { return ours }
        for split in other.splits where !mine.splits.contains(where: { $0.split == split.split }) {
            mine.splits.append(split)
        }
        return (try? mine.encoded()) ?? ours
    }

    private func clearStaging() throws {
        for reference in try git.references(matching: Self.staging + "*") { try git.deleteReference(reference.name) }
    }
}
