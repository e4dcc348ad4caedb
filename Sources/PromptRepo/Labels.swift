import Foundation
import GitKit

/// One move of a deployment label: who moved it, from which prompt version to which, when and why.
public struct LabelMove: Sendable, Equatable {
    public let label: String
    /// The label commit that records this move.
    public let commit: ObjectID
    /// The labelled prompt version; nil when the move removed the label.
    public let target: ObjectID?
    public let previousTarget: ObjectID?
    /// The label commit of the move before this one; nil for the first move.
    public let previousMove: ObjectID?
    public let reason: String
    public let movedBy: Signature
}

/// Deployment labels (`production`, `staging`): each is a ref under `refs/grad/labels/` that
/// points at a chain of label commits, one per move.
///
/// A reflog would record the moves too, but it never leaves the machine; commits travel with push
/// and clone. A label commit has the empty tree; its parents are the previous label commit (if
/// any) and then the labelled prompt commit, which therefore stays reachable: pushed with the
/// label and never pruned. Removing a label records a move to nothing, so its history survives.
public struct Labels {
    /// What the label must point at for a move to happen (compare-and-swap).
    public enum Expectation: Sendable, Equatable {
        case anything
        /// Only if the label does not exist or was removed.
        case nothing
        case version(ObjectID)

        var target: ObjectID? { if case .version(let id) = self { id } else { nil } }
    }

    enum Key {
        static let label = "Grad-Label"
        static let target = "Label-Target"
        static let from = "Label-From"
    }

    let repository: PromptRepository
    /// The task whose labels these are (nil: the one task of a `[task]` file).
    public let task: String?
    private var git: Repository { repository.git }

    public init(_ repository: PromptRepository, task: String? = nil) {
        self.repository = repository
        self.task = task
    }

    private func reference(_ name: String) throws -> String { try GradRefs.label(name, task: task) }

    /// The prompt version a label points at; nil when there is no such label or it was removed.
    public func target(_ name: String) throws -> ObjectID? {
        guard let tip = try git.referenceTarget(try reference(name)) else { return nil }
        return try move(at: tip, label: name).target
    }

    /// Every label that points at a prompt version, by name.
    public func list() throws -> [LabelMove] {
        let prefix = GradRefs.labelPrefix(task: task)
        return try git.references(matching: prefix + "*")
            .filter { !$0.name.dropFirst(prefix.count).contains("/") }
            .map { try move(at: $0.target, label: String($0.name.dropFirst(prefix.count))) }
            .filter { $0.target != nil }
            .sorted { $0.label < $1.label }
    }

    /// A label's moves, newest first.
    public func history(_ name: String, limit: Int? = nil) throws -> [LabelMove] {
        guard var next = try git.referenceTarget(try reference(name)) else { throw Self.unknown(name) }
        var moves: [LabelMove] = []
        while limit.map({ moves.count < $0 }) ?? true {
            let move = try move(at: next, label: name)
            moves.append(move)
            guard let previous = move.previousMove else { break }
            next = previous
        }
        return moves
    }

    /// Points a label at `target`, recording who, when and why.
    ///
    /// `expecting` is a compare-and-swap: the move happens only if the label still points there.
    /// Independently of it, a writer that
    /// moves the label between this read and the write makes this move fail rather than be lost.
    /// Returns nil when the label already points at `target`.
    @discardableResult
    public func set(_ name: String, to target: ObjectID, expecting: Expectation = .anything, reason: String = "") throws -> LabelMove? {
        try record(name, to: target, expecting: expecting, reason: reason)
    }

    /// Removes a label from use; its history stays.
    @discardableResult
    public func remove(_ name: String, expecting: Expectation = .anything, reason: String = "") throws -> LabelMove? {
        guard try git.referenceTarget(try reference(name)) != nil else { throw Self.unknown(name) }
        return try record(name, to: nil, expecting: expecting, reason: reason)
    }

    private func record(_ name: String, to target: ObjectID?, expecting: Expectation, reason: String) throws -> LabelMove? {
        let reference = try reference(name)
        let tip = try git.referenceTarget(reference)
        let current = try tip.map { try move(at: $0, label: name) }
        let currentTarget = current?.target
        if expecting != .anything, expecting.target != currentTarget {
            throw PromptRepoError.label(
                "label \(name) points at \(currentTarget?.short ?? "nothing"), not \(expecting.target?.short ?? "nothing") as expected; nothing changed")
        }
        if current != nil, currentTarget == target { return nil }
        if let target { _ = try git.commit(target) }

        let message = StepMessage(
            subject: "label \(name): \(currentTarget?.short ?? "none") -> \(target?.short ?? "none")",
            body: reason,
            trailers: [
                Trailer(key: Key.label, value: name),
                Trailer(key: Key.target, value: target?.hex ?? "none"),
                Trailer(key: Key.from, value: currentTarget?.hex ?? "none"),
            ])
        let parents = [tip, target].compactMap { $0 }
        let commit = try git.createCommit(message: message.encode(), tree: try git.emptyTree(), parents: parents)
        do {
            try git.updateReference(reference, to: commit, expecting: tip, logMessage: "git-grad: \(message.subject)")
        } catch GitError.referenceMoved {
            throw PromptRepoError.label("label \(name) was moved by another writer meanwhile; nothing changed, look again and retry")
        }
        return try move(at: commit, label: name)
    }

    /// Reads a label commit, checking it against its parents so a hand-made commit cannot point a
    /// label at a version it does not carry.
    func move(at commit: ObjectID, label: String) throws -> LabelMove {
        let record = try git.commit(commit)
        let message = try StepMessage.decode(record.message)
        let damaged = PromptRepoError.label(
            "label \(label): commit \(commit.short) is not a label commit; repair \(GradRefs.labelPrefix(task: task))\(label) by hand")
        guard message.value(Key.label) == label, let targetText = message.value(Key.target),
              let fromText = message.value(Key.from) else { throw damaged }
        let target = try Self.objectID(targetText, or: damaged)
        if let target, record.parents.last != target { throw damaged }
        // Parents: the previous move (if any), then the target (unless the move removed the label).
        let previousMove = target == nil ? record.parents.first : (record.parents.count == 2 ? record.parents[0] : nil)
        return LabelMove(
            label: label, commit: commit, target: target, previousTarget: try Self.objectID(fromText, or: damaged),
            previousMove: previousMove, reason: message.body, movedBy: record.author)
    }

    private static func objectID(_ text: String, or error: PromptRepoError) throws -> ObjectID? {
        if text == "none" { return nil }
        guard let id = ObjectID(hex: text) else { throw error }
        return id
    }

    static func unknown(_ name: String) -> PromptRepoError {
        .label("no label '\(name)'; `git grad label list` shows the labels")
    }
}

extension PromptRepository {
    /// A revision as the commands take it: `label:NAME`, anything git understands (`main~2`, a
    /// commit id, a branch), or the name of a label.
    public func resolveRevision(_ revision: String, task: String? = nil) throws -> ObjectID {
        let labels = Labels(self, task: task)
        if revision.hasPrefix("label:") {
            let name = String(revision.dropFirst("label:".count))
            guard let target = try labels.target(name) else { throw Labels.unknown(name) }
            return target
        }
        do {
            return try git.resolveCommit(revision)
        } catch GitError.notFound {
            if (try? GradRefs.label(revision, task: task)) != nil, let target = try labels.target(revision) { return target }
            throw PromptRepoError.label(
                "unknown revision '\(revision)'; use a commit id, a branch, main~N or a label (`git grad label list`)")
        }
    }
}
