import Foundation

/// The metric program of a `command` metric, run as one long-lived process that reads a JSON line
/// per row on stdin and answers one line per row on stdout, in order. Rows are pipelined: a
/// request queues its line for a serial writer queue and waits for its answer without holding a
/// thread, and a reader thread hands the answers out first in, first out. stderr is drained all the time by a thread of its
/// own (a script that writes a megabyte of warnings no longer fills the pipe and hangs), and its
/// last line names the cause when the program fails.
///
/// Older programs keep working. A fresh process gets one row until it has answered it (so a
/// program that answers a row and exits loses nothing: it is started again for the next), and a
/// program that reads to the end of its input before answering (`sys.stdin.read()`) gets its
/// stdin closed after `probeSeconds` without an answer, and from then on one row per process,
/// stdin closed, as the one-row protocol had it.
final class MetricCommand: @unchecked Sendable {
    struct Pending {
        let id: String
        let line: Data
        let continuation: CheckedContinuation<String, Error>
    }

    let command: [String]
    let workingDirectory: URL
    let probeSeconds: Double
    /// Guards the state below. The reader threads take it briefly and never write to the
    /// program; every write and close runs on `writer`, in the order it was queued under the
    /// lock, so a program blocked on a full stdout pipe can always be drained.
    private let lock = NSLock()
    private let writer = DispatchQueue(label: "git-grad.metric-command.writer")
    private var process: Process?
    private var input: Channel?
    /// Rows written to the current process, oldest first, and rows not written yet.
    private var inFlight: [Pending] = []
    private var queued: [Pending] = []
    private var answeredByThisProcess = 0
    /// Set once a program needed its stdin closed to answer: one row per process from then on.
    private var oneRowPerProcess = false
    private var stderrTail = Data()
    private var generation = 0

    /// A program's stdin, written and closed only on the writer queue: a closed one is skipped.
    final class Channel: @unchecked Sendable {
        let handle: FileHandle
        private var closed = false
        init(_ handle: FileHandle) { self.handle = handle }
        func write(_ lines: [Data]) {
            for line in lines where !closed { try? handle.write(contentsOf: line + Data("\n".utf8)) }
        }
        func close() {
            guard !closed else { return }
            closed = true
            try? handle.close()
        }
    }

    init(command: [String], workingDirectory: URL, probeSeconds: Double = 10) {
        self.command = command
        self.workingDirectory = workingDirectory
        self.probeSeconds = probeSeconds
        // A program that exits while a row is being written must not take this process with it.
        signal(SIGPIPE, SIG_IGN)
    }

    deinit {
        if let input { writer.async { input.close() } }
        if let process, process.isRunning { process.terminate() }
    }

    private var name: String { command.joined(separator: " ") }

    /// The program's answer line for one row.
    func answer(id: String, line: Data) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            lock.withLock {
                queued.append(Pending(id: id, line: line, continuation: continuation))
                dispatchQueued()
            }
        }
    }

    /// Hands queued rows to the program as far as its state allows: all of them to a process that
    /// has answered (it reads rows as they come), one to a fresh process, one per process (stdin
    /// then closed) in the one-row mode. Starts the process when there is none. Called with
    /// `lock` held; the writes go to the writer queue in this order (a broken pipe means the
    /// program exited, and `finished` answers the rows).
    private func dispatchQueued() {
        guard !queued.isEmpty else { return }
        if process == nil {
            do {
                try start()
            } catch {
                let failed = queued
                queued = []
                for request in failed {
                    request.continuation.resume(throwing: EvaluationError.scorer("metric command \(name) could not start: \(error)"))
                }
                return
            }
        }
        let take: Int
        if oneRowPerProcess {
            take = inFlight.isEmpty && answeredByThisProcess == 0 ? 1 : 0
        } else {
            take = answeredByThisProcess > 0 ? queued.count : (inFlight.isEmpty ? 1 : 0)
        }
        guard take > 0, let channel = input else { return }
        let sent = Array(queued.prefix(take))
        queued.removeFirst(sent.count)
        inFlight += sent
        if answeredByThisProcess == 0, !oneRowPerProcess, let first = sent.first { armProbe(for: first.id, generation: generation) }
        let lines = sent.map(\.line)
        let close = oneRowPerProcess
        writer.async {
            channel.write(lines)
            if close { channel.close() }
        }
    }

    /// A fresh process that has not answered its first row within `probeSeconds` is waiting for
    /// the end of its input: close its stdin, and use one row per process from then on.
    private func armProbe(for id: String, generation: Int) {
        DispatchQueue.global().asyncAfter(deadline: .now() + probeSeconds) { [weak self] in
            guard let self else { return }
            self.lock.withLock {
                guard generation == self.generation, self.answeredByThisProcess == 0, self.inFlight.first?.id == id,
                      let channel = self.input else { return }
                self.oneRowPerProcess = true
                self.writer.async { channel.close() }
            }
        }
    }

    /// Starts the program and its reader threads. Called with `lock` held.
    private func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // Python buffers a pipe's output: without this a looping script would keep its answers.
        process.arguments = ["PYTHONUNBUFFERED=1"] + command
        process.currentDirectoryURL = workingDirectory
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        generation += 1
        let mine = generation
        self.process = process
        input = Channel(stdin.fileHandleForWriting)
        answeredByThisProcess = 0
        stderrTail = Data()
        let errors = stderr.fileHandleForReading
        let stderrDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [weak self] in
            while case let chunk = errors.availableData, !chunk.isEmpty {
                guard let self else { break }
                self.lock.withLock {
                    guard mine == self.generation else { return }
                    self.stderrTail.append(chunk)
                    if self.stderrTail.count > 8192 { self.stderrTail = self.stderrTail.suffix(4096) }
                }
            }
            stderrDone.signal()
        }
        let output = stdout.fileHandleForReading
        Thread.detachNewThread { [weak self] in
            var buffer = Data()
            while case let chunk = output.availableData, !chunk.isEmpty {
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer = Data(buffer[buffer.index(after: newline)...])
                    self?.deliver(line, generation: mine)
                }
            }
            if !buffer.isEmpty { self?.deliver(String(decoding: buffer, as: UTF8.self), generation: mine) }
            process.waitUntilExit()
            // The last words on stderr name the cause: wait for them (briefly).
            _ = stderrDone.wait(timeout: .now() + 2)
            self?.finished(process, generation: mine)
        }
    }

    /// An answer line: the oldest row in flight gets it; a process that answered its first row
    /// gets the rows that waited.
    private func deliver(_ line: String, generation: Int) {
        lock.lock()
        guard generation == self.generation, !inFlight.isEmpty else { return lock.unlock() }
        let first = inFlight.removeFirst()
        answeredByThisProcess += 1
        if !oneRowPerProcess { dispatchQueued() }
        lock.unlock()
        first.continuation.resume(returning: line)
    }

    /// The program exited: the rows it did not answer go to a new process when it exited cleanly
    /// after answering; any other exit fails them, naming the first row and the last line of
    /// stderr.
    private func finished(_ exited: Process, generation: Int) {
        lock.lock()
        guard generation == self.generation else { return lock.unlock() }
        process = nil
        if let channel = input { writer.async { channel.close() } }
        input = nil
        let unanswered = inFlight
        inFlight = []
        if exited.terminationStatus == 0, answeredByThisProcess > 0 {
            queued = unanswered + queued
            dispatchQueued()
            return lock.unlock()
        }
        let failed = unanswered + queued
        queued = []
        let stderrLine = String(decoding: stderrTail, as: UTF8.self).split(whereSeparator: \.isNewline).last.map { String($0.prefix(200)) } ?? ""
        lock.unlock()
        for (index, request) in failed.enumerated() {
            let cause = exited.terminationStatus == 0 ? "ended without answering" : "exited \(exited.terminationStatus)"
            let row = index == 0 ? "row \(request.id)" : "row \(request.id) (after row \(failed[0].id) failed)"
            request.continuation.resume(throwing: EvaluationError.scorer(
                "metric command \(name) \(cause) on \(row)" + (stderrLine.isEmpty ? "" : ": \(stderrLine)")))
        }
    }
}
