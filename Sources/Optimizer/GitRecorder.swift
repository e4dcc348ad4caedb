import Foundation
import GitKit
import LLM
import PromptRepo

/// Settings of a run, stored under `refs/grad/runs/<run>` (a `ManifestStore` commit holding
/// manifest.json) so `--resume` continues with exactly the settings the run started with.
public struct RunManifest: Codable, Sendable, Equatable {
    public var run: String
    public var started: Date
    public var steps: Int
    public var batchSize: Int
    public var variants: Int
    // Typed: a manifest with a value this version does not know is an error naming the run,
    // never a silent default.
    public var selection: SearchSettings.Selection
    public var feedback: SearchSettings.Feedback
    public var gradient: SearchSettings.Gradient
    public var labels: SearchSettings.Labels
    public var seed: Int
    public var lambda: Double
    public var maxRegressions: Int?
    public var maxRecallDrop: Double?
    public var redraws: Int
    public var patience: Int?
    public var taskModel: String
    public var optimizerModel: String
    /// Absent in manifests written before operators existed: those runs rewrote whole prompts.
    public var operators: [SearchSettings.Operator]?
    public var prevalence: SearchSettings.Prevalence?
    public var collapseShare: Double?
    public var maxRules: Int?
    public var maxDemos: Int?
    public var demoTokens: Int?
    /// When the run ended, and how: `finished`, or `stopped: <why>` when it cannot go on (main
    /// moved under it). Nil while the run can be resumed.
    public var ended: Date?
    public var outcome: String?
    /// The branch the run merges into; nil means main. Runs of an experiment merge into their own
    /// `grad/<run>/main`, so main stays untouched.
    public var trunk: String?
    /// The branch the run merges into, main included.
    public var trunkBranch: String { trunk ?? GradRefs.mainBranch }
    /// What the run cost in the process that finished it, written when it ends.
    public var usage: UsageTotals?
    public var wallSeconds: Double?

    public static func reference(_ run: String) -> String { "refs/grad/runs/\(run)" }

    /// `unfinished` (resumable), `finished`, or `stopped: <why>`.
    public var status: String { ended == nil ? "unfinished" : outcome ?? "finished" }

    /// Manifests are JSON with millisecond times, so runs started in the same second still order.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            var container = encoder.singleValueContainer()
            try container.encode(formatter.string(from: date))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            if let date = formatter.date(from: text) { return date }
            formatter.formatOptions = [.withInternetDateTime]
            if let date = formatter.date(from: text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "'\(text)' is not an ISO 8601 time"))
        }
        return decoder
    }()

    public var search: SearchSettings {
        var search = SearchSettings()
        search.steps = steps
        search.batchSize = batchSize
        search.variants = variants
        search.selection = selection
        search.feedback = feedback
        search.gradient = gradient
        search.labels = labels
        search.seed = seed
        search.lambda = lambda
        search.maxRegressions = maxRegressions
        search.maxRecallDrop = maxRecallDrop
        search.redraws = redraws
        search.patience = patience
        search.operators = operators ?? [.rewrite]
        search.prevalence = prevalence ?? .off
        if let collapseShare { search.collapseShare = collapseShare }
        if let maxRules { search.maxRules = maxRules }
        if let maxDemos { search.maxDemos = maxDemos }
        if let demoTokens { search.demoTokens = demoTokens }
        return search
    }

    /// The `Grad-Settings` trailer value.
    public var settingsTrailer: String {
        var parts = [
            "selection=\(selection.rawValue)", "feedback=\(feedback.rawValue)", "gradient=\(gradient.rawValue)", "labels=\(labels.rawValue)",
            "variants=\(variants)", "batch=\(batchSize)", "lambda=\(lambda)",
        ]
        if let maxRegressions { parts.append("max-regressions=\(maxRegressions)") }
        if let maxRecallDrop { parts.append("max-recall-drop=\(maxRecallDrop)") }
        if let operators { parts.append("operators=\(operators.map(\.rawValue).joined(separator: ","))") }
        if let prevalence { parts.append("prevalence=\(prevalence.rawValue)") }
        return parts.joined(separator: " ")
    }
}

/// The git side of a run. libgit2 handles are not thread-safe, so one actor owns the repository
/// and every git operation of the optimizer goes through it.
public actor GitRecorder {
    let repository: PromptRepository
    /// The branch merges go to: main, or an experiment run's own trunk.
    public let trunk: String

    public init(directory: URL, trunk: String = GradRefs.mainBranch) throws {
        repository = try PromptRepository.open(directory)
        self.trunk = trunk
    }

    var trunkReference: String { "refs/heads/\(trunk)" }

    /// Whether this recorder merges into main (and so keeps the working tree in step).
    public nonisolated var mergesIntoMain: Bool { trunk == GradRefs.mainBranch }

    public var root: URL { repository.root }
    public var gitDirectory: URL { repository.git.gitDirectory }

    /// The tip of the branch this recorder merges into (main unless it is an experiment run's).
    public func trunkTip() throws -> ObjectID {
        if mergesIntoMain { return try repository.mainTip() }
        guard let tip = try repository.git.branchTarget(trunk) else {
            throw PromptRepoError.format("branch \(trunk) is missing; the run that merges into it cannot go on")
        }
        return tip
    }

    /// Creates the trunk branch at `commit` unless it exists (an experiment run's first start).
    public func createTrunkIfMissing(at commit: ObjectID) throws {
        guard !mergesIntoMain, try repository.git.branchTarget(trunk) == nil else { return }
        do {
            try repository.git.updateReference(trunkReference, to: commit, expecting: nil, logMessage: "git-grad: experiment run trunk")
        } catch GitError.referenceMoved {
            // Created by another process in between: it stands.
        }
    }

    public func config(at commit: ObjectID) throws -> GradConfig { try repository.config(at: commit) }

    public func uncommittedPromptFiles(_ config: GradConfig) throws -> [String] { try repository.uncommittedPromptFiles(config) }

    public func promptText(_ path: String, at commit: ObjectID) throws -> String { try repository.promptText(path, at: commit) }

    public func promptBlob(_ path: String, at commit: ObjectID) throws -> String {
        try repository.promptBlob(path, at: commit)?.hex ?? ""
    }

    /// A dataset as committed (so a run sees exactly what the commit holds).
    public func dataset(_ path: String, at commit: ObjectID, loader: DatasetLoader) throws -> [Example] {
        guard let data = try repository.git.fileData(at: path, inCommit: commit) else {
            throw PromptRepoError.missingFile(path: "\(path) (committed on main)", role: "dataset")
        }
        return try loader.parse(data, file: path)
    }

    public func note(_ commit: ObjectID) throws -> EvaluationNote? { try repository.evaluationNote(commit) }

    public func writeNote(_ note: EvaluationNote, on commit: ObjectID) throws { try repository.writeEvaluationNote(note, on: commit) }

    // MARK: Runs

    /// Records a new run's manifest when the run first has something to record, so a start that
    /// fails (a refused connection, a bad URL) leaves no run behind. Does nothing when it exists.
    public func recordRunIfNew(_ manifest: RunManifest) throws {
        let reference = RunManifest.reference(manifest.run)
        guard try repository.git.referenceTarget(reference) == nil else { return }
        do {
            try ManifestStore(repository).write(
                try RunManifest.encoder.encode(manifest), to: reference, replacing: nil, message: "git-grad: run \(manifest.run) started")
        } catch GitError.referenceMoved {
            // Another process recorded it first: its candidate branches will collide loudly.
        }
    }

    /// Whether the run has a manifest, i.e. recorded something.
    public func isRecorded(_ run: String) throws -> Bool {
        try repository.git.referenceTarget(RunManifest.reference(run)) != nil
    }

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
    public func packObjects() throws { try repository.git.packLooseObjects() }

    /// Every recorded run, oldest first. A manifest that cannot be read is an error naming it,
    /// never a run silently left out.
    public func manifests() throws -> [RunManifest] {
        try repository.git.references(matching: "refs/grad/runs/*").compactMap { reference in
            try runManifest(String(reference.name.dropFirst("refs/grad/runs/".count)))
        }.sorted { ($0.started, $0.run) < ($1.started, $1.run) }
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
        var branchesByRun: [String: [CandidateBranch]] = [:]
        for branch in try repository.git.branches(matching: "grad/*") {
            if let parsed = CandidateBranch(parsing: branch.name) { branchesByRun[parsed.run.value, default: []].append(parsed) }
        }
        let mergedByRun = try mergedStepsByRun()
        return try manifests.map { manifest in
            let branches = branchesByRun[manifest.run] ?? []
            var accepted = mergedByRun[manifest.run]?.count ?? 0
            if let trunk = manifest.trunk, let tip = try repository.git.branchTarget(trunk) {
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
    public func dropRun(_ run: RunID) throws -> Int {
        let git = repository.git
        let manifest = RunManifest.reference(run.value)
        let branches = try git.branches(matching: "grad/\(run.value)/*").map(\.name)
        let hasManifest = try git.referenceTarget(manifest) != nil
        guard hasManifest || !branches.isEmpty else {
            throw PromptRepoError.format("no run named \(run); `git grad runs` lists the runs")
        }
        if let head = try git.currentBranch(), branches.contains(head) {
            throw PromptRepoError.format("HEAD is on \(head), a branch of run \(run); `git checkout main` first")
        }
        for branch in branches { try git.deleteBranch(branch) }
        if hasManifest { try git.deleteReference(manifest) }
        return branches.count + (hasManifest ? 1 : 0)
    }

    /// Steps of `run` merged into the trunk, from its first-parent history.
    public func mergedSteps(run: String) throws -> Set<Int> { try mergedStepsByRun(on: try trunkTip())[run] ?? [] }

    /// Every run's steps merged into the branch at `tip` (main's by default), from its first-parent history.
    func mergedStepsByRun(on tip: ObjectID? = nil) throws -> [String: Set<Int>] {
        try mergesByRun(on: tip ?? repository.mainTip()).mapValues { Set($0.keys) }
    }

    /// The merge commits on `tip`'s first-parent history, by run and step.
    func mergesByRun(on tip: ObjectID) throws -> [String: [Int: ObjectID]] {
        var merges: [String: [Int: ObjectID]] = [:]
        for id in try repository.git.walk(from: tip, firstParentOnly: true) {
            let message = try repository.stepMessage(id)
            if message.value(TrailerKey.kind) == "merge", let run = message.value(TrailerKey.run),
               let step = message.value(TrailerKey.step).flatMap(Int.init) { merges[run, default: [:]][step] = id }
        }
        return merges
    }

    /// The recorded candidates of one step, by variant: (candidate commit, verdict commit?).
    public func recordedCandidates(run: RunID, step: Int, variants: Int) throws -> [Int: (candidate: ObjectID, verdict: ObjectID?, message: StepMessage)] {
        var result: [Int: (ObjectID, ObjectID?, StepMessage)] = [:]
        for variant in 1...variants {
            let branch = CandidateBranch(run: run, step: step, variant: variant)
            guard let tip = try repository.git.referenceTarget(branch.reference) else { continue }
            let tipMessage = try repository.stepMessage(tip)
            if tipMessage.value(TrailerKey.kind) == "verdict", let parent = try repository.git.commit(tip).parents.first {
                result[variant] = (parent, tip, try repository.stepMessage(parent))
            } else {
                result[variant] = (tip, nil, tipMessage)
            }
        }
        return result
    }

    public func message(_ commit: ObjectID) throws -> StepMessage { try repository.stepMessage(commit) }

    public func parent(of commit: ObjectID) throws -> ObjectID? { try repository.git.commit(commit).parents.first }

    // MARK: Candidates of a run (for the merge operator)

    /// What one verified candidate of a run changed on the holdout set, from its note and its
    /// parent's note.
    public struct CandidateResult: Sendable, Equatable {
        public var commit: ObjectID
        public var step: Int
        public var variant: Int
        /// Holdout ids the candidate answered right where its parent was wrong.
        public var fixed: Set<String>
        /// Whether main already contains the candidate (it was accepted).
        public var inMain: Bool
    }

    /// The run's verified candidates of steps before `step`, oldest first.
    public func candidateResults(run: RunID, before step: Int) throws -> [CandidateResult] {
        let git = repository.git
        let tip = try trunkTip()
        var results: [CandidateResult] = []
        for branch in try git.branches(matching: "grad/\(run.value)/*") {
            guard let parsed = CandidateBranch(parsing: branch.name), parsed.step < step else { continue }
            let tipMessage = try repository.stepMessage(branch.target)
            guard tipMessage.value(TrailerKey.kind) == "verdict", let candidate = try git.commit(branch.target).parents.first,
                  let parent = try git.commit(candidate).parents.first,
                  let mine = try repository.evaluationNote(candidate)?.split("holdout"),
                  let before = try repository.evaluationNote(parent)?.split("holdout")
            else { continue }
            let wrongBefore = Set(before.examples.filter { !$0.correct }.map(\.id))
            let fixed = Set(mine.examples.filter { $0.correct && wrongBefore.contains($0.id) }.map(\.id))
            let inMain = try git.mergeBase(candidate, tip) == candidate
            results.append(CandidateResult(commit: candidate, step: parsed.step, variant: parsed.variant, fixed: fixed, inMain: inMain))
        }
        return results.sorted { ($0.step, $0.variant) < ($1.step, $1.variant) }
    }

    /// The prompt text of three-way merges (libgit2) of `commits` into main's `tip`, one after the
    /// other; nil when any merge conflicts. When a chat-structured prompt takes part, all three
    /// texts are first laid out alike (a system message with a rules section), so rule lines and
    /// worked-example blocks fall in separate hunks. Only unreferenced scratch objects are written.
    public func mergedPromptText(of commits: [ObjectID], onto tip: ObjectID, promptPath: String) throws -> String? {
        let git = repository.git
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

    // MARK: Writing steps

    /// Commits a candidate prompt on its own branch with parent = `parent` (main's tip). The branch
    /// must not exist yet: the compare-and-swap makes a concurrent writer fail loudly.
    public func commitCandidate(branch: CandidateBranch, parent: ObjectID, promptPath: String, text: String, message: StepMessage) throws -> ObjectID {
        let git = repository.git
        let blob = try git.createBlob(text)
        let tree = try git.updateTree(try git.commit(parent).tree, applying: [.upsert(path: promptPath, blob: blob)])
        let commit = try git.createCommit(message: message.encode(), tree: tree, parents: [parent])
        try git.updateReference(branch.reference, to: commit, expecting: nil, logMessage: "git-grad: candidate")
        return commit
    }

    /// Records a verdict as an empty commit on the candidate's branch (so plain `git log` shows it).
    public func commitVerdict(branch: CandidateBranch, candidate: ObjectID, message: StepMessage) throws -> ObjectID {
        let git = repository.git
        let commit = try git.createCommit(message: message.encode(), tree: try git.commit(candidate).tree, parents: [candidate])
        try git.updateReference(branch.reference, to: commit, expecting: candidate, logMessage: "git-grad: verdict")
        return commit
    }

    /// Merges an accepted candidate's branch into the trunk as a two-parent merge commit, only if
    /// the trunk is still at `expectedMain`; then brings a clean working tree along when it is main.
    public func merge(verdictCommit: ObjectID, expectedMain: ObjectID, message: StepMessage) throws -> (commit: ObjectID, workingTreeUpdated: Bool) {
        let commit = try repository.git.createMergeCommit(
            ours: expectedMain, theirs: verdictCommit, message: message.encode(), updateReference: trunkReference)
        let updated = mergesIntoMain ? try repository.syncWorkingTree(from: expectedMain, to: commit) : false
        return (commit, updated)
    }
}
