import Foundation
import GitKit

/// One candidate of a step as recorded on its branch.
public struct CandidateRecord: Codable, Sendable, Equatable {
    public var branch: String
    /// The commit that changed the prompt (its message holds the gradient).
    public var commit: String
    public var variant: Int
    public var subject: String
    public var gradient: String
    /// `accepted`, `rejected: <reason>`, or nil while verification has not finished.
    public var verdict: String?
    public var scoreHoldout: String?
    public var scoreTrain: String?
    /// The operator that made the candidate (nil for candidates recorded before operators).
    public var operatorName: String?

    public var isAccepted: Bool { verdict?.hasPrefix("accepted") == true }
}

/// One entry of the gradient history, as `git grad log` prints it.
public struct HistoryEntry: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case seed, accepted, noCandidatePassed = "rejected", revert, commit }

    public var kind: Kind
    /// The commit on main (for `rejected` steps: the newest verdict commit of the step).
    public var commit: String
    public var date: Date
    public var subject: String
    public var run: String?
    public var step: Int?
    public var variant: Int?
    public var verdict: String?
    public var scoreHoldout: String?
    public var scoreTrain: String?
    public var gradient: String
    public var trailers: [String: String]
    /// Every candidate of the step, accepted one included.
    public var candidates: [CandidateRecord]
}

/// Reads the optimization history out of git: main's first-parent line plus the candidate branches.
public struct HistoryReader {
    let repository: PromptRepository

    public init(_ repository: PromptRepository) { self.repository = repository }

    /// The candidate branches, grouped by run and step.
    public func candidates() throws -> [String: [Int: [CandidateRecord]]] {
        var result: [String: [Int: [CandidateRecord]]] = [:]
        for branch in try repository.git.branches(matching: "grad/*") {
            guard let parsed = CandidateBranch(parsing: branch.name) else { continue }
            let record = try candidateRecord(branch: parsed, tip: branch.target)
            result[parsed.run.value, default: [:]][parsed.step, default: []].append(record)
        }
        for run in result.keys {
            for step in result[run]!.keys { result[run]![step]!.sort { $0.variant < $1.variant } }
        }
        return result
    }

    /// Reads a candidate branch: its tip is either the verdict commit (whose parent is the
    /// candidate) or, while verification is pending, the candidate commit itself.
    public func candidateRecord(branch: CandidateBranch, tip: ObjectID) throws -> CandidateRecord {
        let git = repository.git
        var tipMessage = try StepMessage.decode(try git.commit(tip).message)
        var candidateID = tip
        var verdictMessage: StepMessage?
        if tipMessage.value(TrailerKey.kind) == "verdict", let parent = try git.commit(tip).parents.first {
            verdictMessage = tipMessage
            candidateID = parent
            tipMessage = try StepMessage.decode(try git.commit(parent).message)
        }
        return CandidateRecord(
            branch: branch.name, commit: candidateID.hex, variant: branch.variant, subject: tipMessage.subject,
            gradient: tipMessage.body, verdict: verdictMessage?.value(TrailerKey.verdict),
            scoreHoldout: verdictMessage?.value(TrailerKey.scoreHoldout),
            scoreTrain: verdictMessage?.value(TrailerKey.scoreTrain) ?? tipMessage.value(TrailerKey.scoreTrain),
            operatorName: tipMessage.value(TrailerKey.operatorName))
    }

    /// The history reachable from `start` along first parents, newest first, with the steps of
    /// the same runs in which no candidate passed. `run` keeps one run; `includeAllRuns` adds runs
    /// that never reached this history.
    public func entries(from start: ObjectID, run: String? = nil, includeAllRuns: Bool = false, limit: Int? = nil) throws -> [HistoryEntry] {
        let git = repository.git
        let allCandidates = try candidates()
        var entries: [HistoryEntry] = []
        var runsSeen: Set<String> = []
        var stepsOnMain: Set<String> = []
        var walked: Set<ObjectID> = []

        for id in try git.walk(from: start, firstParentOnly: true) {
            walked.insert(id)
            let commit = try git.commit(id)
            let message = try StepMessage.decode(commit.message)
            let runID = message.value(TrailerKey.run)
            let step = message.value(TrailerKey.step).flatMap(Int.init)
            let kind: HistoryEntry.Kind
            if message.value(TrailerKey.reverts) != nil {
                kind = .revert
            } else if commit.isMerge, runID != nil, step != nil {
                kind = .accepted
            } else if step == 0 {
                kind = .seed
            } else {
                kind = .commit
            }
            if let runID { runsSeen.insert(runID) }
            if let runID, let step { stepsOnMain.insert("\(runID)/\(step)") }
            entries.append(HistoryEntry(
                kind: kind, commit: id.hex, date: commit.committer.time, subject: commit.summary, run: runID, step: step,
                variant: message.value(TrailerKey.variant).flatMap { Int($0.split(separator: "/").first ?? "") },
                verdict: message.value(TrailerKey.verdict), scoreHoldout: message.value(TrailerKey.scoreHoldout),
                scoreTrain: message.value(TrailerKey.scoreTrain), gradient: message.body,
                trailers: Dictionary(message.trailers.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last }),
                candidates: runID.flatMap { r in step.flatMap { allCandidates[r]?[$0] } } ?? []))
        }

        // Steps where every candidate was rejected never reach main: add them from their branches.
        var rejectedSteps: [HistoryEntry] = []
        // A run shows when it reached this history or started from it (even if nothing was accepted).
        var runsToShow = includeAllRuns ? Set(allCandidates.keys) : runsSeen
        for (runID, steps) in allCandidates where !runsToShow.contains(runID) {
            guard let first = steps.keys.min().flatMap({ steps[$0]?.first }), let id = ObjectID(hex: first.commit) else { continue }
            if let parent = try git.commit(id).parents.first, walked.contains(parent) { runsToShow.insert(runID) }
        }
        for (runID, steps) in allCandidates where runsToShow.contains(runID) {
            for (step, candidates) in steps where !stepsOnMain.contains("\(runID)/\(step)") {
                let tips = try candidates.compactMap { try git.branchTarget($0.branch) }
                let date = try tips.map { try git.commit($0).committer.time }.max() ?? Date.distantPast
                let decided = candidates.allSatisfy { $0.verdict != nil }
                rejectedSteps.append(HistoryEntry(
                    kind: .noCandidatePassed, commit: tips.first?.hex ?? "", date: date,
                    subject: candidates.contains(where: \.isAccepted) ? "accepted, merged outside this history"
                        : decided ? "no candidate passed verification" : "verification pending",
                    run: runID, step: step, variant: nil, verdict: decided ? "rejected" : nil, scoreHoldout: nil, scoreTrain: nil,
                    gradient: candidates.first?.gradient ?? "", trailers: [:], candidates: candidates))
            }
        }

        // Main's own order is kept; the rejected steps are merged in by time (then step number).
        var extras = rejectedSteps.sorted { ($0.date, $0.step ?? 0) > ($1.date, $1.step ?? 0) }[...]
        var result: [HistoryEntry] = []
        for entry in entries {
            while let extra = extras.first, extra.date > entry.date
                || (extra.date == entry.date && extra.run == entry.run && (extra.step ?? 0) > (entry.step ?? 0)) {
                result.append(extras.removeFirst())
            }
            result.append(entry)
        }
        result.append(contentsOf: extras)
        if let run { result = result.filter { $0.run == run } }
        if let limit { result = Array(result.prefix(limit)) }
        return result
    }
}
