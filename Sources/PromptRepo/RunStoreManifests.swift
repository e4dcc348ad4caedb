import Foundation
import GitKit

/// The store's writes of run and experiment manifests, and the removal of a run.
extension RunStore {
    /// Records a new run's manifest when the run first has something to record, so a start that
    /// fails (a refused connection, a bad URL) leaves no run behind. Does nothing when it exists.
    public func recordRunIfNew(_ manifest: RunManifest) throws {
        guard try !RunLedger(repository).isRecorded(manifest.run) else { return }
        do {
            try ManifestStore(repository).write(
                try ManifestJSON.encoder.encode(manifest), to: RunManifest.reference(manifest.run), replacing: nil,
                message: "git-grad: run \(manifest.run) started")
        } catch is ManifestStore.Moved {
            // Another process recorded it first: its candidate branches will collide loudly.
        }
    }

    /// Marks a recorded run as ended (`finished`, or `stopped: why`), so `--resume` without an id
    /// never picks it. A run that recorded nothing stays unrecorded.
    public func markRunEnded(_ run: String, outcome: String, usage: RunUsage? = nil, wallSeconds: Double? = nil) throws {
        guard let (current, stored) = try RunLedger(repository).storedRunManifest(run) else { return }
        var manifest = stored
        manifest.ended = Date()
        manifest.outcome = outcome
        manifest.usage = usage ?? manifest.usage
        manifest.wallSeconds = wallSeconds ?? manifest.wallSeconds
        try ManifestStore(repository).write(
            try ManifestJSON.encoder.encode(manifest), to: RunManifest.reference(run), replacing: current,
            message: "git-grad: run \(run) \(outcome)")
    }

    /// Records an experiment's manifest unless one with its id exists; a different experiment
    /// under the same name is refused.
    public func recordExperimentIfNew(_ manifest: ExperimentManifest) throws {
        if let existing = try RunLedger(repository).experiment(manifest.id) {
            guard existing.grid == manifest.grid, existing.base == manifest.base else {
                throw PromptRepoError.conflict(
                    "experiment \(manifest.id) exists with other settings; resume it with `git grad experiment --resume \(manifest.id)` or pick another --name")
            }
            return
        }
        try ManifestStore(repository).write(
            try ManifestJSON.encoder.encode(manifest), to: ExperimentManifest.reference(manifest.id), replacing: nil,
            message: "git-grad: experiment \(manifest.id)")
    }

    /// Removes a run's manifest and candidate branches (its merges stay on the trunk). Returns how
    /// many references were removed; throws when the run does not exist.
    public func dropRun(_ run: RunID) throws -> Int {
        let git = repository.git
        let manifestReference = RunManifest.reference(run.value)
        let branches = try git.branches(matching: "grad/\(run.value)/*").map(\.name)
        let hasManifest = try git.referenceTarget(manifestReference) != nil
        guard hasManifest || !branches.isEmpty else { throw PromptRepoError.noSuchRun(run.value) }
        if let head = try git.currentBranch(), branches.contains(head) {
            throw PromptRepoError.conflict("HEAD is on \(head), a branch of run \(run); `git checkout main` first")
        }
        for branch in branches { try git.deleteBranch(branch) }
        if hasManifest { try git.deleteReference(manifestReference) }
        return branches.count + (hasManifest ? 1 : 0)
    }
}
