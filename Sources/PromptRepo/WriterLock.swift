import Foundation
import GitKit

/// The kernel lock every git-grad writer holds while it writes a reference: `flock` on
/// `.git/grad/writer.lock`, so two git-grad processes never write references at the same moment,
/// and a lock the kernel drops when its holder dies (kill -9 included), unlike git's lock files.
///
/// Holding it is also what makes a leftover git lock file recognisable: while we hold the lock no
/// other git-grad writer is between creating and renaming one (packing references included), so
/// a `.lock` file under git-grad's own references (refs/grad, refs/heads/grad, refs/notes/grad,
/// main, packed-refs) that is `staleAge` old was left by a killed writer. The holder removes it
/// and writes again, instead of every later write failing until a person deletes it.
final class WriterLock: ReferenceWriteCoordinator {
    let gitDirectory: URL
    private var descriptor: Int32 = -1
    private var depth = 0

    init(gitDirectory: URL) { self.gitDirectory = gitDirectory }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The lock files git-grad may break: those of the references it writes.
    static func isOwnLockFile(_ relativePath: String) -> Bool {
        let own = ["refs/grad/", "refs/heads/grad/", "refs/notes/grad-task/"]
        let exact = ["refs/notes/grad.lock", "refs/heads/main.lock", "packed-refs.lock"]
        return exact.contains(relativePath) || own.contains { relativePath.hasPrefix($0) && relativePath.hasSuffix(".lock") }
    }

    func coordinate<T>(_ reference: String, _ write: () throws -> T) throws -> T {
        try acquire()
        defer { release() }
        do {
            return try write()
        } catch let error as GitError {
            guard let lockFile = error.heldLockFile, breakStaleLock(lockFile) else { throw error }
            return try write()
        }
    }

    private func acquire() throws {
        if depth == 0 {
            if descriptor < 0 {
                let directory = gitDirectory.appendingPathComponent("grad")
                try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                descriptor = open(directory.appendingPathComponent("writer.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else {
                    throw PromptRepoError.locked(
                        "\(directory.path)/writer.lock: cannot open the writer lock (\(String(cString: strerror(errno)))); make .git writable")
                }
            }
            while flock(descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    throw PromptRepoError.locked("\(gitDirectory.path)/grad/writer.lock: cannot lock (\(String(cString: strerror(errno))))")
                }
            }
        }
        depth += 1
    }

    private func release() {
        depth -= 1
        if depth == 0, descriptor >= 0 { flock(descriptor, LOCK_UN) }
    }

    /// A lock file at least this old, while we hold the writer lock, was left by a killed writer:
    /// a live one (git-grad's, or a git command run by hand) holds it for milliseconds.
    static let staleAge: TimeInterval = 2

    /// Removes `path` when it is a lock file of git-grad's own references that is, or becomes
    /// within a few seconds, `staleAge` old without being released. True when it is gone and the
    /// write is worth repeating.
    private func breakStaleLock(_ path: String) -> Bool {
        let base = gitDirectory.standardizedFileURL.path + "/"
        let full = URL(fileURLWithPath: path).standardizedFileURL.path
        guard full.hasPrefix(base), Self.isOwnLockFile(String(full.dropFirst(base.count))) else { return false }
        for _ in 0..<30 {
            guard let modified = (try? FileManager.default.attributesOfItem(atPath: full))?[.modificationDate] as? Date else { return true }
            if Date().timeIntervalSince(modified) >= Self.staleAge {
                return (try? FileManager.default.removeItem(atPath: full)) != nil
            }
            usleep(100_000)
        }
        return false
    }
}
