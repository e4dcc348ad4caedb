import Foundation
import GitKit

/// One task's share of the history: its runs' steps, and the other commits that change its prompt file.
public struct TaskHistoryFilter: Sendable {
    public let name: String?
    public let promptPath: String
    /// The runs whose manifests name this task.
    public let runs: Set<String>

    public init(name: String?, promptPath: String, runs: Set<String>) {
        self.name = name
        self.promptPath = promptPath
        self.runs = runs
    }

    /// Whether a commit on main belongs to the task: a step by its `Grad-Task` trailer or its
    /// run, any other commit when it changes the task's prompt file (the first commit always).
    func keeps(_ message: StepMessage, run: String?, commit: Commit, in git: Repository) throws -> Bool {
        if let task = message.value(TrailerKey.task) { return task == name }
        if let run { return runs.contains(run) }
        guard let parent = commit.parents.first else { return true }
        let before = try git.blobID(at: promptPath, inTree: try git.commit(parent).tree)
        return try before != git.blobID(at: promptPath, inTree: commit.tree)
    }
}

/// `log`'s history: main's first-parent line read as far as asked, with the steps in which no
/// candidate passed placed among its entries.
extension HistoryReader {
    /// The history reachable from `start` along first parents, newest first, with the steps of
    /// the same runs in which no candidate passed. `run` keeps one run; `includeAllRuns` adds runs
    /// that never reached this history.
    ///
    /// Only what is returned is read: main's line is followed parent by parent until `limit`
    /// entries are found, and a candidate branch is opened only when its step is returned or
    /// could be (a step of a shown run newer than the oldest entry read), so `log -n 10` over
    /// 10,000 steps reads a few dozen commits.
    public func entries(
        from start: ObjectID, run: String? = nil, includeAllRuns: Bool = false, limit: Int? = nil, task: TaskHistoryFilter? = nil
    ) throws -> [HistoryEntry] {
        let branches = try candidateBranches().filter { task?.runs.contains($0.key) ?? true }
        var main = try readMainLine(from: start, run: run, limit: limit, task: task)
        let placement = StepPlacement(main.entries)
        let rejected = try rejectedSteps(branches, run: run, includeAllRuns: includeAllRuns, main: &main, placement: placement)
        var result = Self.interleave(main.entries, rejected, placement: placement)
        if let limit { result = Array(result.prefix(limit)) }
        // The candidates of a step on main are read only for the entries returned.
        for index in result.indices where result[index].kind != .noCandidatePassed {
            if let runID = result[index].run, let step = result[index].step, let branchesOfStep = branches[runID]?[step] {
                result[index].candidates = try records(branchesOfStep)
            }
        }
        return result
    }

    /// What the walk down main's first-parent line found.
    struct MainLineRead {
        var entries: [HistoryEntry] = []
        var runsSeen: Set<String> = []
        /// `run/step` of every step on the line.
        var stepsOnMain: Set<String> = []
        var line: FirstParentLine
        /// Whether the walk reached the root (no limit stopped it).
        var exhausted = true
    }

    /// Main's line from `start`, parent by parent, until `limit` entries (of `run`, when given).
    func readMainLine(from start: ObjectID, run: String?, limit: Int?, task: TaskHistoryFilter? = nil) throws -> MainLineRead {
        let git = repository.git
        var read = MainLineRead(line: FirstParentLine(next: start))
        while read.line.next != nil {
            if let limit, read.entries.count >= limit { read.exhausted = false; break }
            let (id, commit) = try read.line.advance(git)
            let message = try StepMessage.decode(commit.message)
            let runID = message.value(TrailerKey.run)
            let step = message.value(TrailerKey.step).flatMap(Int.init)
            if let runID { read.runsSeen.insert(runID) }
            if let runID, let step { read.stepsOnMain.insert("\(runID)/\(step)") }
            if let run, runID != run { continue }
            if let task, try !task.keeps(message, run: runID, commit: commit, in: git) { continue }
            read.entries.append(HistoryEntry(
                kind: Self.kind(of: message, isMerge: commit.isMerge), commit: id.hex, date: commit.committer.time,
                subject: commit.summary, run: runID, step: step,
                variant: message.value(TrailerKey.variant).flatMap { Int($0.split(separator: "/").first ?? "") },
                verdict: message.value(TrailerKey.verdict), scoreHoldout: message.value(TrailerKey.scoreHoldout),
                scoreTrain: message.value(TrailerKey.scoreTrain), gradient: message.body,
                trailers: Dictionary(message.trailers.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }),
                candidates: []))
        }
        return read
    }

    /// Steps where every candidate was rejected never reach main: they are read from their branches.
    func rejectedSteps(
        _ branches: [String: [Int: StepBranches]], run: String?, includeAllRuns: Bool, main: inout MainLineRead, placement: StepPlacement
    ) throws -> [HistoryEntry] {
        var rejected: [HistoryEntry] = []
        for (runID, steps) in branches where run == nil || runID == run {
            var shown = includeAllRuns || main.runsSeen.contains(runID)
            for step in steps.keys.sorted(by: >) where !main.stepsOnMain.contains("\(runID)/\(step)") {
                let tips = steps[step]!.branches.map(\.tip)
                let date = try tips.map { try repository.git.commit($0).committer.time }.max() ?? Date.distantPast
                // A run's steps come one after another, so its earlier steps sort later still.
                if !main.exhausted && placement.position(run: runID, step: step, date: date) == nil { break }
                // A run shows when it reached this history or started from it (even if nothing was accepted).
                if !shown { shown = try startedFrom(steps, line: &main.line) }
                if !shown { break }
                let candidates = try records(steps[step]!)
                let decided = candidates.allSatisfy { $0.verdict != nil }
                rejected.append(HistoryEntry(
                    kind: .noCandidatePassed, commit: tips.first?.hex ?? "", date: date,
                    subject: candidates.contains(where: \.isAccepted) ? "accepted, merged outside this history"
                        : decided ? "no candidate passed verification" : "verification pending",
                    run: runID, step: step, variant: nil, verdict: decided ? "rejected" : nil, scoreHoldout: nil, scoreTrain: nil,
                    gradient: candidates.first?.gradient ?? "", trailers: [:], candidates: candidates))
            }
        }
        return rejected
    }

    /// Main's own order is kept; each rejected step goes before the first entry it is newer than
    /// (or, as old, a later step of the same run), else after them all.
    static func interleave(_ entries: [HistoryEntry], _ rejected: [HistoryEntry], placement: StepPlacement) -> [HistoryEntry] {
        var before: [Int: [HistoryEntry]] = [:]
        for extra in rejected {
            before[placement.position(run: extra.run ?? "", step: extra.step ?? 0, date: extra.date) ?? entries.count, default: []].append(extra)
        }
        var result: [HistoryEntry] = []
        for index in 0...entries.count {
            let placed = (before[index] ?? []).sorted { ($0.date, $0.run ?? "", $0.step ?? 0) > ($1.date, $1.run ?? "", $1.step ?? 0) }
            result.append(contentsOf: placed)
            if index < entries.count { result.append(entries[index]) }
        }
        return result
    }
}
