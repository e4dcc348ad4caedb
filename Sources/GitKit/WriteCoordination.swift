import Foundation

/// Serializes a process's reference writes with other processes' and may repair what a killed
/// writer left behind. GitKit knows nothing of whose references are whose: its owner decides
/// (PromptRepo holds a kernel lock and breaks stale lock files under git-grad's own references).
public protocol ReferenceWriteCoordinator: AnyObject {
    /// Runs `write`, which writes `reference`, while the coordinator's other writers are excluded.
    func coordinate<T>(_ reference: String, _ write: () throws -> T) throws -> T
}

extension Repository {
    /// Runs a reference write through the coordinator, if one is set.
    func coordinated<T>(_ reference: String?, _ write: () throws -> T) throws -> T {
        guard let reference, let writeCoordinator else { return try write() }
        return try writeCoordinator.coordinate(reference, write)
    }
}

extension GitError {
    /// The lock file libgit2 could not create because it exists (`GIT_ELOCKED`), as it named it.
    public var heldLockFile: String? {
        guard case .libgit2(let failure) = self, failure.message.contains(".lock") else { return nil }
        guard let start = failure.message.range(of: "'"), let end = failure.message[start.upperBound...].range(of: ".lock'") else { return nil }
        return String(failure.message[start.upperBound..<end.lowerBound]) + ".lock"
    }
}
