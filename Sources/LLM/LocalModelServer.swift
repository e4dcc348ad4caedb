import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A model git-grad can run itself: its name in grad.toml and the GGUF file that holds it.
public struct LocalModel: Sendable, Equatable {
    public let name: String
    public let fileName: String
    public let bytes: UInt64
    public let sha256: String

    /// The embedded task model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M).
    public static let task = LocalModel(
        name: "qwen2.5-coder-0.5b-instruct", fileName: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", bytes: 491_400_064,
        sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32")
    /// The embedded optimizer model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M): writes one-line rules from errors.
    public static let optimizer = LocalModel(
        name: "qwen2.5-coder-1.5b-instruct", fileName: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", bytes: 1_117_320_768,
        sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046")
    public static let all = [task, optimizer]

    /// The embedded model of that name; any other name runs the task model's file under that name.
    public static func named(_ name: String) -> LocalModel { all.first { $0.name == name } ?? task }
}

/// Where an embedded local model lives: the llama.cpp server runtime in a virtual environment and
/// the GGUF weights, both under `$GIT_GRAD_HOME` (default `~/.cache/git-grad`), put there by
/// `scripts/install-local-model.sh`.
public struct LocalModelInstallation: Sendable {
    public static let installHint = "run scripts/install-local-model.sh (the README's setup command) to install it"

    public let home: URL
    public let python: URL
    public let model: LocalModel
    public let modelFile: URL

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, model: LocalModel = .task) {
        let home: URL
        if let explicit = environment["GIT_GRAD_HOME"], !explicit.isEmpty {
            home = URL(fileURLWithPath: explicit)
        } else if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty {
            home = URL(fileURLWithPath: cache).appendingPathComponent("git-grad")
        } else {
            home = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/git-grad")
        }
        self.home = home
        self.model = model
        python = home.appendingPathComponent("venv/bin/python")
        let override = model == .task ? environment["GIT_GRAD_MODEL_FILE"] : nil
        modelFile = override.map { URL(fileURLWithPath: $0) } ?? home.appendingPathComponent("models/\(model.fileName)")
    }

    public var hasRuntime: Bool { FileManager.default.isExecutableFile(atPath: python.path) }

    public var modelSize: UInt64? {
        (try? FileManager.default.attributesOfItem(atPath: modelFile.path))?[.size] as? UInt64
    }

    /// Checks runtime and weights, saying what to run when either is missing.
    public func validate() throws {
        guard hasRuntime else {
            throw LLMError.localModelUnavailable("local model runtime missing (\(python.path)); \(Self.installHint)")
        }
        guard let size = modelSize else {
            throw LLMError.localModelUnavailable("local model \(model.name) missing (\(modelFile.path)); \(Self.installHint)")
        }
        if modelFile.lastPathComponent == model.fileName && size != model.bytes {
            throw LLMError.localModelUnavailable(
                "local model file \(modelFile.path) has \(size) bytes, expected \(model.bytes); \(Self.installHint)")
        }
    }

    /// SHA-256 of the model file (reads 0.5 or 1.1 GB).
    public func modelDigest() throws -> String {
        guard let handle = FileHandle(forReadingAtPath: modelFile.path) else {
            throw LLMError.localModelUnavailable("cannot read \(modelFile.path)")
        }
        defer { try? handle.close() }
        var digest = SHA256Digest()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { digest.update(chunk) }
        return SHA256Digest.lowercaseHex(digest.finalize())
    }
}

/// A llama.cpp server started for the duration of a command: on a free loopback port, watched so
/// it exits when git-grad does (even after kill -9), stopped on `stop()` and by `stopAll()`
/// (which the command line calls on Ctrl-C).
public final class LocalModelServer: @unchecked Sendable {
    public let baseURL: String
    public let port: Int
    private let process: Process
    private let lock = NSLock()
    private var stopped = false

    /// Python that makes the server exit when its parent (git-grad) disappears, then runs it.
    static let launcher = """
        import os, sys, threading, time, runpy
        parent = os.getppid()
        def watch():
            while True:
                time.sleep(0.5)
                if os.getppid() != parent:
                    os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
        sys.argv = ["llama_cpp.server"] + sys.argv[1:]
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
        """

    private init(process: Process, port: Int) {
        self.process = process
        self.port = port
        self.baseURL = "http://127.0.0.1:\(port)/v1"
    }

    /// Starts the server and waits until it answers; its output goes to `logFile`.
    ///
    /// The free port is found before the server binds it, seconds later once the weights are
    /// loaded; another process can take it meanwhile, so a lost port is retried on a new one.
    /// `firstPort`, when given, is tried first (tests use it to hand the server a taken port).
    public static func start(
        _ installation: LocalModelInstallation, threads: Int = 2, contextSize: Int = 4096, logFile: URL? = nil,
        readyTimeout: Double = 120, firstPort: Int? = nil
    ) async throws -> LocalModelServer {
        var attempt = 1
        while true {
            do {
                return try await startOnce(
                    installation, port: attempt == 1 ? firstPort : nil, threads: threads, contextSize: contextSize,
                    logFile: logFile, readyTimeout: readyTimeout)
            } catch StartFailure.portTaken where attempt < 4 {
                attempt += 1
            } catch StartFailure.portTaken(let message) {
                throw LLMError.localModelUnavailable(message)
            }
        }
    }

    private enum StartFailure: Error { case portTaken(String) }

    private static func startOnce(
        _ installation: LocalModelInstallation, port: Int?, threads: Int, contextSize: Int, logFile: URL?,
        readyTimeout: Double
    ) async throws -> LocalModelServer {
        try installation.validate()
        let port = try port ?? freeLoopbackPort()
        let process = Process()
        process.executableURL = installation.python
        process.arguments = [
            "-c", launcher, "--model", installation.modelFile.path, "--host", "127.0.0.1", "--port", String(port),
            "--n_ctx", String(contextSize), "--n_threads", String(threads),
        ]
        var environment = ProcessInfo.processInfo.environment
        // Without a passive wait policy, generation collapses when another process is busy.
        environment["OMP_WAIT_POLICY"] = "PASSIVE"
        process.environment = environment
        let logURL = logFile ?? FileManager.default.temporaryDirectory.appendingPathComponent("git-grad-llama-\(port).log")
        try? FileManager.default.createDirectory(at: logURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: logURL)
        process.standardOutput = logHandle
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let server = LocalModelServer(process: process, port: port)
        LocalModelServer.register(server)

        switch await ReadinessWait(port: port, isRunning: { server.processIsRunning }, timeout: readyTimeout).outcome() {
        case .answering:
            return server
        case .exited:
            server.stop()
            let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            let tail = log.split(separator: "\n").suffix(3).joined(separator: " | ")
            let message = "local model server exited during start-up (\(tail)); see \(logURL.path)"
            if log.contains("address already in use") { throw StartFailure.portTaken(message) }
            throw LLMError.localModelUnavailable(message)
        case .timedOut(let probes, let lastProbe):
            server.stop()
            throw LLMError.localModelUnavailable(
                "local model server did not answer within \(Int(readyTimeout))s (\(probes) probes, the last \(lastProbe)); see \(logURL.path)")
        }
    }

    var processIsRunning: Bool { process.isRunning }

    /// Stops the server; safe to call more than once.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        LocalModelServer.unregister(self)
    }

    deinit { stop() }

    // MARK: - The servers this process runs

    // The command line owns signals: on Ctrl-C it calls `stopAll()`, then reports and exits.
    nonisolated(unsafe) private static var running: [ObjectIdentifier: LocalModelServer] = [:]
    private static let registryLock = NSLock()

    private static func register(_ server: LocalModelServer) {
        registryLock.lock()
        defer { registryLock.unlock() }
        running[ObjectIdentifier(server)] = server
    }

    private static func unregister(_ server: LocalModelServer) {
        registryLock.lock()
        defer { registryLock.unlock() }
        running[ObjectIdentifier(server)] = nil
    }

    /// Stops every server this process started.
    public static func stopAll() {
        registryLock.lock()
        let servers = Array(running.values)
        registryLock.unlock()
        servers.forEach { $0.stop() }
    }
}

/// Asks the kernel for a free loopback port by binding port 0 (the socket is closed again).
func freeLoopbackPort() throws -> Int {
    let socket = try boundLoopbackSocket()
    close(socket.fd)
    return socket.port
}

/// A socket bound to a kernel-chosen loopback port; the caller closes it.
func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LLMError.localModelUnavailable("cannot create a socket to find a free port") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else {
        close(fd)
        throw LLMError.localModelUnavailable("cannot bind a loopback port")
    }
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else {
        close(fd)
        throw LLMError.localModelUnavailable("cannot read the bound port")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
