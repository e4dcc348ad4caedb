import Foundation
import GRDB

/// Completed responses in SQLite (GRDB), keyed by a hash of the canonical request, so a repeated
/// run makes no new calls. Rows hold the answer and token counts; never a key or a header.
public final class ResponseCache: Sendable {
    private let database: DatabaseQueue
    public let path: String

    /// Opens (creating if needed) the cache at `path`, e.g. `.git/grad/cache.sqlite`.
    public init(path: String) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        } catch {
            throw Self.failure(error, path: path, creatingFolder: true)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // A write-ahead log with NORMAL sync: a stored answer costs no fsync (with the default
        // rollback journal each one cost a millisecond, most of `eval`'s time at a fast server).
        // A process killed at any moment loses nothing committed; a power cut may lose the last
        // answers, which are only cached and get asked again.
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        database = try Self.guarding(path) { try DatabaseQueue(path: path, configuration: configuration) }
        // Two runs (on two tasks) may open one cache at once. Switching to WAL takes an exclusive
        // lock that SQLite may refuse at once instead of waiting, so the mode is set only when it
        // is not WAL yet (it persists in the file) and a busy refusal is tried again.
        try Self.guarding(path) { try Self.retryingWhenBusy {
            try database.writeWithoutTransaction { db in
                if try String.fetchOne(db, sql: "PRAGMA journal_mode")?.lowercased() != "wal" {
                    try db.execute(sql: "PRAGMA journal_mode = WAL")
                }
            }
        } }
        try Self.guarding(path) { try Self.retryingWhenBusy { try database.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS responses (
                    key TEXT PRIMARY KEY,
                    provider TEXT NOT NULL,
                    model TEXT NOT NULL,
                    text TEXT NOT NULL,
                    prompt_tokens INTEGER NOT NULL,
                    completion_tokens INTEGER NOT NULL,
                    created_at REAL NOT NULL
                )
                """)
        } } }
    }

    /// `body`, tried again for up to 10 s while SQLite answers busy or locked (another process is
    /// opening the same cache).
    static func retryingWhenBusy<T>(_ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(10)
        while true {
            do {
                return try body()
            } catch let error as DatabaseError where [.SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode.primaryResultCode)
                && Date() < deadline {
                usleep(50_000)
            }
        }
    }

    /// Runs a database operation, turning SQLite's failures (a full disk, a read-only `.git`)
    /// into one error that names the cache file and what to do.
    static func guarding<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch { throw failure(error, path: path) }
    }

    /// The cache error for a failed operation; a cancelled task stays a cancellation.
    static func failure(_ error: Error, path: String, creatingFolder: Bool = false) -> Error {
        error is CancellationError ? error : LLMError.cacheUnavailable(path: path, reason: reason(error, creatingFolder: creatingFolder))
    }

    static func reason(_ error: Error, creatingFolder: Bool = false) -> String {
        if let error = error as? DatabaseError {
            switch error.resultCode {
            case .SQLITE_FULL, .SQLITE_IOERR: return "a write failed (is the disk full?)"
            case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM: return "it cannot be opened for writing (permissions, or a read-only disk)"
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return "the file is damaged; delete it (it only holds cached answers)"
            default: return "SQLite error \(error.resultCode.rawValue)"
            }
        }
        guard creatingFolder else { return String(describing: error) }
        // Foundation's file errors carry the system's reason (EACCES, EROFS, ENOSPC) underneath.
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return "its folder cannot be created (\(String(cString: strerror(Int32(underlying.code)))))"
        }
        return "its folder cannot be created (\(nsError.localizedDescription))"
    }

    /// The cache key: SHA-256 of the provider kind, model and every request parameter (sample
    /// index included) as canonical JSON.
    public static func key(kind: String, model: String, request: ChatRequest) -> String {
        struct Canonical: Encodable {
            let kind: String
            let model: String
            let request: ChatRequest
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(Canonical(kind: kind, model: model, request: request))) ?? Data()
        return SHA256Digest.hex(data)
    }

    public func lookup(_ key: String) async throws -> ChatResponse? {
        do { return try await read(key) } catch { throw Self.failure(error, path: path) }
    }

    private func read(_ key: String) async throws -> ChatResponse? {
        try await database.read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key = ?", arguments: [key])
            else { return nil }
            // Stored as a blob so an answer with a NUL in it comes back whole (TEXT stops at NUL).
            let text: String
            switch (row[0] as DatabaseValue).storage {
            case .blob(let data): text = String(decoding: data, as: UTF8.self)
            case .string(let string): text = string
            default: return nil
            }
            return ChatResponse(text: text, promptTokens: row[1], completionTokens: row[2], cached: true)
        }
    }

    public func store(_ key: String, kind: String, model: String, response: ChatResponse) async throws {
        do { try await write(key, kind: kind, model: model, response: response) } catch { throw Self.failure(error, path: path) }
    }

    private func write(_ key: String, kind: String, model: String, response: ChatResponse) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO responses (key, provider, model, text, prompt_tokens, completion_tokens, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [key, kind, model, Data(response.text.utf8), response.promptTokens, response.completionTokens, Date().timeIntervalSince1970])
        }
    }

    public func count() async throws -> Int {
        try await database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM responses") ?? 0 }
    }
}
