import Evaluation
import Foundation
import LLM
import PromptRepo

/// The optimizer's side of the git record. libgit2 handles are not thread-safe, so this actor
/// owns the one `RunStore` (and through it the repository handle) and every read and write of
/// the optimizer goes through it; the store does the git work.
public actor GitRecorder {
    let store: RunStore
    var repository: PromptRepository { store.repository }
    /// The branch merges go to: main, or an experiment run's own trunk.
    public let trunk: String

    public init(directory: URL, trunk: String = GradRefs.mainBranch) throws {
        store = RunStore(repository: try PromptRepository.open(directory), trunk: trunk)
        self.trunk = trunk
    }

    /// Whether this recorder merges into main (and so keeps the working tree in step).
    public nonisolated var mergesIntoMain: Bool { trunk == GradRefs.mainBranch }

    public var root: URL { repository.root }
    public var gitDirectory: URL { repository.gitDirectory }

    /// The tip of the branch this recorder merges into (main unless it is an experiment run's).
    public func trunkTip() throws -> ObjectID { try store.trunkTip() }

    /// Creates the trunk branch at `commit` unless it exists (an experiment run's first start).
    public func createTrunkIfMissing(at commit: ObjectID) throws { try store.createTrunkIfMissing(at: commit) }

    public func config(at commit: ObjectID) throws -> GradConfig { try repository.config(at: commit) }

    public func uncommittedPromptFiles(_ config: GradConfig) throws -> [String] { try repository.uncommittedPromptFiles(config) }

    public func promptText(_ path: String, at commit: ObjectID) throws -> String { try repository.promptText(path, at: commit) }

    public func promptBlob(_ path: String, at commit: ObjectID) throws -> String {
        try repository.promptBlob(path, at: commit)?.hex ?? ""
    }

    /// A dataset as committed (so a run sees exactly what the commit holds).
    public func dataset(_ path: String, at commit: ObjectID, loader: DatasetLoader) throws -> [Example] {
        guard let data = try repository.fileData(path, at: commit) else {
            throw PromptRepoError.missingFile(path: "\(path) (committed on main)", role: "dataset")
        }
        return try loader.parse(data, file: path)
    }

    public func note(_ commit: ObjectID) throws -> EvaluationNote? { try repository.evaluationNote(commit) }

    /// See `PromptRepository.recordEvaluation`: the one way eval and the optimizer write a note.
    public func recordEvaluation(
        _ outcomes: [ExampleOutcome], split: String, total: Int, complete: Bool = true, verdict: String? = nil,
        of commit: ObjectID, config: GradConfig
    ) throws {
        try repository.recordEvaluation(outcomes, split: split, total: total, complete: complete, verdict: verdict, of: commit, config: config)
    }

    // MARK: Runs

    /// Records a new run's manifest when the run first has something to record, so a start that
    /// fails (a refused connection, a bad URL) leaves no run behind. Does nothing when it exists.
    public func recordRunIfNew(_ manifest: RunManifest) throws {
        let reference = RunManifest.reference(manifest.run)
        guard try !isRecorded(manifest.run) else { return }
        do {
            try ManifestStore(repository).write(
                try RunManifest.encoder.encode(manifest), to: reference, replacing: nil, message: "git-grad: run \(manifest.run) started")
        } catch is ManifestStore.Moved {
            // Another process recorded it first: its candidate branches will collide loudly.
        }
    }

    /// Whether the run has a manifest, i.e. recorded something.
    public func isRecorded(_ run: String) throws -> Bool { try ManifestStore(repository).exists(RunManifest.reference(run)) }

    /// Marks a recorded run as ended (`finished`, or `stopped: why`), so `--resume` without an id
    /// never picks it. A run that recorded nothing stays unrecorded.
    public func markRunEnded(_ run: String, outcome: String, usage: UsageTotals? = nil, wallSeconds: Double? = nil) throws {
        guard let (current, stored) = try storedRunManifest(run) else { return }
        var manifest = stored
        manifest.ended = Date()
        manifest.outcome = outcome
        manifest.usage = usage ?? manifest.usage
        manifest.wallSeconds = wallSeconds ?? manifest.wallSeconds
        try ManifestStore(repository).write(
            try RunManifest.encoder.encode(manifest), to: RunManifest.reference(run), replacing: current,
            message: "git-grad: run \(run) \(outcome)")
    }

    /// Packs the loose objects and references a run wrote (see `Repository.packLooseObjects`).
    public func packObjects() throws { try store.packObjects() }

    /// Every recorded run, oldest first. A manifest that cannot be read is an error naming it,
    /// never a run silently left out.
    public func manifests() throws -> [RunManifest] {
        try store.names(under: "refs/grad/runs/").compactMap { try runManifest($0) }.sorted { ($0.started, $0.run) < ($1.started, $1.run) }
    }

    /// The manifest of `run`, nil when the run was never recorded.
    public func runManifest(_ run: String) throws -> RunManifest? { try storedRunManifest(run)?.manifest }

    /// The manifest of `run` with the id of the version read, for a compare-and-swap rewrite.
    func storedRunManifest(_ run: String) throws -> (version: ObjectID, manifest: RunManifest)? {
        do {
            guard let stored = try ManifestStore(repository).read(RunManifest.reference(run)) else { return nil }
            return (stored.id, try RunManifest.decoder.decode(RunManifest.self, from: stored.data))
        } catch {
            throw PromptRepoError.format(
                "the manifest of run \(run) (refs/grad/runs/\(run)) cannot be read; remove the run with `git grad runs drop \(run) --force`")
        }
    }

    /// What `git grad runs` lists about one run.
    public struct RunOverview: Sendable, Encodable {
        public var run: String
        public var started: Date
        /// `unfinished` (resumable), `finished`, or `stopped: <why>`.
        public var status: String
        /// Steps with at least one candidate, of the steps planned.
        public var stepsRecorded: Int
        public var stepsPlanned: Int
        public var candidates: Int
        /// Steps of the run merged into its trunk.
        public var accepted: Int
        /// The branch the run merges into: main, or an experiment run's own branch.
        public var trunk: String
    }

    /// The recorded runs with their status and counts, oldest first.
    public func runOverviews() throws -> [RunOverview] {
        let manifests = try manifests()
        let branchesByRun = Dictionary(grouping: try store.candidateBranches().map(\.branch), by: \.run.value)
        let mergedByRun = try mergedStepsByRun()
        return try manifests.map { manifest in
            let branches = branchesByRun[manifest.run] ?? []
            var accepted = mergedByRun[manifest.run]?.count ?? 0
            if let trunk = manifest.trunk, let tip = try repository.branchTip(trunk) {
                accepted = try mergedStepsByRun(on: tip)[manifest.run]?.count ?? 0
            }
            return RunOverview(
                run: manifest.run, started: manifest.started, status: manifest.status,
                stepsRecorded: Set(branches.map(\.step)).count, stepsPlanned: manifest.steps, candidates: branches.count,
                accepted: accepted, trunk: manifest.trunkBranch)
        }
    }

    /// Removes a run's manifest and candidate branches (its merges stay on main). Returns how
    /// many references were removed; throws when the run does not exist.
    public func dropRun(_ run: RunID) throws -> Int { try store.dropRun(run, manifestReference: RunManifest.reference(run.value)) }

    /// Steps of `run` merged into the trunk, from its first-parent history.
    public func mergedSteps(run: String) throws -> Set<Int> { try mergedStepsByRun(on: try trunkTip())[run] ?? [] }

    /// Every run's steps merged into the branch at `tip` (main's by default), from its first-parent history.
    func mergedStepsByRun(on tip: ObjectID? = nil) throws -> [String: Set<Int>] {
        try mergesByRun(on: tip ?? repository.mainTip()).mapValues { Set($0.keys) }
    }

    /// The merge commits on `tip`'s first-parent history, by run and step.
    func mergesByRun(on tip: ObjectID) throws -> [String: [Int: ObjectID]] { try store.mergesByRun(on: tip) }

    /// The recorded candidates of one step, by variant: (candidate commit, verdict commit?).
    public func recordedCandidates(run: RunID, step: Int, variants: Int) throws -> [Int: (candidate: ObjectID, verdict: ObjectID?, message: StepMessage)] {
        try store.recordedCandidates(run: run, step: step, variants: variants)
    }

    public func message(_ commit: ObjectID) throws -> StepMessage { try repository.stepMessage(commit) }

    /// Candidates every run of the repository judged (see `HistoryReader.candidateCount`).
    public func candidateCount() throws -> Int { try HistoryReader(repository).candidateCount() }

    public func parent(of commit: ObjectID) throws -> ObjectID? { try repository.firstParent(of: commit) }

    /// The run's verified candidates of steps before `step`, oldest first (for the merge operator).
    public func candidateResults(run: RunID, before step: Int) throws -> [RunStore.CandidateResult] {
        try store.candidateResults(run: run, before: step)
    }

    /// See `RunStore.mergedPromptText`.
    public func mergedPromptText(of commits: [ObjectID], onto tip: ObjectID, promptPath: String) throws -> String? {
        try store.mergedPromptText(of: commits, onto: tip, promptPath: promptPath)
    }

    // MARK: Writing steps

    public func commitCandidate(branch: CandidateBranch, parent: ObjectID, promptPath: String, text: String, message: StepMessage) throws -> ObjectID {
        try store.commitCandidate(branch: branch, parent: parent, promptPath: promptPath, text: text, message: message)
    }

    public func commitVerdict(branch: CandidateBranch, candidate: ObjectID, message: StepMessage) throws -> ObjectID {
        try store.commitVerdict(branch: branch, candidate: candidate, message: message)
    }

    /// Merges an accepted candidate into the trunk if it is still at `expectedMain`; throws
    /// `RunStore.TrunkMoved` otherwise.
    public func merge(verdictCommit: ObjectID, expectedMain: ObjectID, message: StepMessage) throws -> (commit: ObjectID, workingTreeUpdated: Bool) {
        try store.merge(verdictCommit: verdictCommit, expectedTip: expectedMain, message: message)
    }
}
