import Foundation
import GitKit

/// Run and experiment manifests: the JSON settings git-grad keeps under a reference in
/// `refs/grad/` (`refs/grad/runs/<run>`, `refs/grad/experiments/<id>`).
///
/// Each version of a manifest is a commit whose tree holds `manifest.json` and whose parent is the
/// version before it. So a manifest has a history (`git log refs/grad/runs/<run>`), and it travels
/// with push and fetch like a branch: libgit2's push refuses a reference that points at a blob.
/// Manifests written by earlier versions (a reference straight at a JSON blob) still read, and
/// their next write turns them into a commit.
public struct ManifestStore {
    /// The one file in a manifest commit's tree.
    public static let fileName = "manifest.json"

    /// One version of a manifest as the store holds it.
    public struct Version: Sendable, Equatable {
        /// What the reference points at: a manifest commit, or a blob of an older manifest.
        public let id: ObjectID
        public let data: Data
    }

    /// Another writer moved the manifest's reference first (the compare-and-swap lost).
    public struct Moved: Error, Sendable, Equatable {
        public let reference: String
    }

    let repository: PromptRepository
    private var git: Repository { repository.git }

    public init(_ repository: PromptRepository) { self.repository = repository }

    /// The manifest under `reference`, nil when there is none. A reference at something that is
    /// neither a manifest commit nor a blob throws, naming the reference.
    public func read(_ reference: String) throws -> Version? {
        guard let id = try git.referenceTarget(reference) else { return nil }
        switch try git.objectKind(id) {
        case .blob:
            return Version(id: id, data: try git.blobData(id))
        case .commit:
            guard let data = try git.fileData(at: Self.fileName, inCommit: id) else {
                throw PromptRepoError.damagedRecord("\(reference) points at commit \(id.short), which holds no \(Self.fileName)")
            }
            return Version(id: id, data: data)
        case .tree, .tag, nil:
            throw PromptRepoError.damagedRecord("\(reference) does not point at a manifest (commit \(Self.fileName) or JSON blob)")
        }
    }

    /// Whether there is a manifest under `reference`, without reading it.
    public func exists(_ reference: String) throws -> Bool { try git.referenceTarget(reference) != nil }

    /// Writes a new version of the manifest under `reference` and moves the reference to it,
    /// compare-and-swap: only if it still points at `replacing` (nil: only if it does not exist).
    /// A writer that moved it first makes this throw `Moved`.
    @discardableResult
    public func write(_ data: Data, to reference: String, replacing previous: ObjectID?, message: String) throws -> ObjectID {
        let blob = try git.createBlob(data)
        let tree = try git.updateTree(nil, applying: [.upsert(path: Self.fileName, blob: blob)])
        // An older blob manifest has no history to continue: its replacement starts one.
        let parents = try previous.map { try git.objectKind($0) == .commit ? [$0] : [] } ?? []
        let commit = try git.createCommit(message: message, tree: tree, parents: parents)
        do {
            try git.updateReference(reference, to: commit, expecting: previous, logMessage: message)
        } catch GitError.referenceMoved {
            throw Moved(reference: reference)
        }
        return commit
    }

    /// Rewrites the manifests under `refs/grad/` that earlier versions stored as bare blobs as
    /// manifest commits, so that they can be pushed. Returns how many were rewritten.
    public func upgradeBlobManifests() throws -> Int {
        var upgraded = 0
        for reference in try git.references(matching: "refs/grad/*") where try git.objectKind(reference.target) == .blob {
            try write(try git.blobData(reference.target), to: reference.name, replacing: reference.target, message: "git-grad: manifest kept as a commit")
            upgraded += 1
        }
        return upgraded
    }
}
