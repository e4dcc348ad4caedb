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

    /// A step's candidate branches by name and tip, read without opening a commit.
    struct StepBranches {
        var branches: [(branch: CandidateBranch, tip: ObjectID)]
    }

    /// How many candidate branches every run in the repository made: the candidates judged on the
    /// holdout (an upper bound: a candidate identical to its parent was not evaluated).
    public func candidateCount() throws -> Int {
        try candidateBranches().values.reduce(0) { total, steps in total + steps.values.reduce(0) { $0 + $1.branches.count } }
    }

    /// The candidate branches, grouped by run and step, from their names alone (cheap: no commit read).
    func candidateBranches() throws -> [String: [Int: StepBranches]] {
        var result: [String: [Int: StepBranches]] = [:]
        for branch in try repository.git.branches(matching: "grad/*") {
            guard let parsed = CandidateBranch(parsing: branch.name) else { continue }
            result[parsed.run.value, default: [:]][parsed.step, default: StepBranches(branches: [])].branches.append((parsed, branch.target))
        }
        return result
    }

    /// The candidate branches, grouped by run and step, each read from its commits.
    public func candidates() throws -> [String: [Int: [CandidateRecord]]] {
        try candidateBranches().mapValues { steps in try steps.mapValues { try records($0) } }
    }

    func records(_ step: StepBranches) throws -> [CandidateRecord] {
        try step.branches.sorted { $0.branch.variant < $1.branch.variant }.map { try candidateRecord(branch: $0.branch, tip: $0.tip) }
    }

    /// Reads a candidate branch: its tip is either the verdict commit (whose parent is the
    /// candidate) or, while verification is pending, the candidate commit itself.
    public func candidateRecord(branch: CandidateBranch, tip: ObjectID) throws -> CandidateRecord {
        let git = repository.git
        let tipCommit = try git.commit(tip)
        // A verdict commit is read for its trailers alone; only the candidate's message is decoded whole.
        let tipTrailers = try StepMessage.trailers(of: tipCommit.message)
        let isVerdict = Self.isVerdict(tipTrailers)
        let candidateID = isVerdict ? tipCommit.parents.first ?? tip : tip
        let candidate = try StepMessage.decode(candidateID == tip ? tipCommit.message : try git.commit(candidateID).message)
        func verdictValue(_ key: String) -> String? { isVerdict ? tipTrailers.last { $0.key == key }?.value : nil }
        return CandidateRecord(
            branch: branch.name, commit: candidateID.hex, variant: branch.variant, subject: candidate.subject,
            gradient: candidate.body, verdict: verdictValue(TrailerKey.verdict),
            scoreHoldout: verdictValue(TrailerKey.scoreHoldout),
            scoreTrain: verdictValue(TrailerKey.scoreTrain) ?? candidate.value(TrailerKey.scoreTrain),
            operatorName: candidate.value(TrailerKey.operatorName))
    }

    /// Whether a branch tip's trailers are a verdict's.
    static func isVerdict(_ trailers: [Trailer]) -> Bool { trailers.last { $0.key == TrailerKey.kind }?.value == "verdict" }

    static func kind(of message: StepMessage, isMerge: Bool) -> HistoryEntry.Kind {
        if message.value(TrailerKey.reverts) != nil { return .revert }
        let step = message.value(TrailerKey.step).flatMap(Int.init)
        if isMerge, message.value(TrailerKey.run) != nil, step != nil { return .accepted }
        return step == 0 ? .seed : .commit
    }

    /// Whether a run's first candidate was made from a commit of this history's first-parent
    /// line, walking the line further back as far as needed (commit headers only: no message is
    /// decoded; dates are not trusted to stop early, clocks can disagree).
    func startedFrom(_ steps: [Int: StepBranches], line: inout FirstParentLine) throws -> Bool {
        guard let first = steps.keys.min().flatMap({ steps[$0]?.branches.first }) else { return false }
        let git = repository.git
        // The branch tip is the verdict (its parent the candidate) or, pending, the candidate.
        let tipCommit = try git.commit(first.tip)
        let candidate = try Self.isVerdict(StepMessage.trailers(of: tipCommit.message)) ? tipCommit.parents.first ?? first.tip : first.tip
        guard let parent = try git.commit(candidate).parents.first else { return false }
        while !line.walked.contains(parent), line.next != nil { _ = try line.advance(git) }
        return line.walked.contains(parent)
    }
}

/// Where a step that never reached main goes among main's entries (newest first): before the
/// first entry it is newer than, or as old as and a later step of the same run. The position
/// depends on that step and the entries alone, so `log -n N` places it exactly where the whole
/// log does, and a step placed after every entry read is not among the first N.
struct StepPlacement {
    /// The oldest date among the first i + 1 entries: non-increasing, so it can be searched.
    private let oldestSoFar: [Date]
    /// The first entry of each run and date, with its step.
    private var firstOfRunAndDate: [String: [Date: [(index: Int, step: Int)]]] = [:]

    init(_ entries: [HistoryEntry]) {
        var oldest = Date.distantFuture
        oldestSoFar = entries.map { entry in
            oldest = min(oldest, entry.date)
            return oldest
        }
        for (index, entry) in entries.enumerated() {
            guard let run = entry.run else { continue }
            firstOfRunAndDate[run, default: [:]][entry.date, default: []].append((index, entry.step ?? 0))
        }
    }

    /// The index of the entry the step goes before, or nil when it goes after them all.
    func position(run: String, step: Int, date: Date) -> Int? {
        // The first entry older than the step: binary search on the running minimum.
        var low = 0, high = oldestSoFar.count
        while low < high {
            let middle = (low + high) / 2
            if oldestSoFar[middle] < date { high = middle } else { low = middle + 1 }
        }
        var best = low < oldestSoFar.count ? low : nil
        if let sameDate = firstOfRunAndDate[run]?[date]?.first(where: { $0.step < step }) {
            best = min(best ?? sameDate.index, sameDate.index)
        }
        return best
    }
}

/// Main's first-parent line, read one commit at a time (a revwalk sorts the whole graph first).
struct FirstParentLine {
    var next: ObjectID?
    var walked: Set<ObjectID> = []

    init(next: ObjectID?) { self.next = next }

    mutating func advance(_ git: Repository) throws -> (ObjectID, Commit) {
        let id = next!
        let commit = try git.commit(id)
        walked.insert(id)
        next = commit.parents.first
        return (id, commit)
    }
}
