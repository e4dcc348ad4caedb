import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Waits for a freshly started model server to answer `GET /v1/models`, on a thread of its own
/// with plain blocking sockets.
///
/// Why not an awaited HTTP call per probe: the wait has a deadline, and an awaiting task can sit in
/// the scheduler's queue far longer than any per-call timeout while other work holds the
/// cooperative threads. In CI one probe's reply waited 96 s for a thread, so a server that was up
/// after 9 s "did not answer within 120 s". A dedicated thread measures the deadline in real time.
struct ReadinessWait: Sendable {
    enum Outcome: Equatable, Sendable {
        case answering
        /// The server process ended before it answered.
        case exited
        case timedOut(probes: Int, lastProbe: ProbeResult)
    }

    /// What one probe found; its description finishes "the last …" in an error message.
    enum ProbeResult: Equatable, Sendable, CustomStringConvertible {
        case answered
        case refused
        case noReply(seconds: Double)
        case status(Int)
        case failed(String)

        var description: String {
            switch self {
            case .answered: return "answered"
            case .refused: return "was refused"
            case .noReply(let seconds): return "had no reply within \(seconds)s"
            case .status(let code): return "got HTTP \(code)"
            case .failed(let reason): return "failed: \(reason)"
            }
        }
    }

    let port: Int
    let isRunning: @Sendable () -> Bool
    let timeout: Double
    var interval: Double = 0.25
    /// Long enough for a first request that Python answers slowly on a loaded machine.
    var probeTimeout: Double = 5

    func outcome() async -> Outcome {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: waitBlocking()) }.start()
        }
    }

    func waitBlocking() -> Outcome {
        let deadline = Date().addingTimeInterval(timeout)
        var probes = 0
        var last = ProbeResult.refused
        while Date() < deadline {
            guard isRunning() else { return .exited }
            probes += 1
            last = Self.probe(port: port, timeout: min(probeTimeout, max(0.1, deadline.timeIntervalSinceNow)))
            if last == .answered { return .answering }
            Thread.sleep(forTimeInterval: interval)
        }
        return isRunning() ? .timedOut(probes: probes, lastProbe: last) : .exited
    }

    /// One `GET /v1/models` on a fresh loopback connection, blocking for at most `timeout` seconds
    /// per socket operation.
    static func probe(port: Int, timeout: Double) -> ProbeResult {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failed("socket() errno \(errno)") }
        defer { close(fd) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1_000_000))
        let limitSize = socklen_t(MemoryLayout<timeval>.size)
        // On Linux the send timeout also bounds connect().
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, limitSize)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, limitSize)

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 {
            switch errno {
            case ECONNREFUSED: return .refused
            case EINPROGRESS, EAGAIN, ETIMEDOUT: return .noReply(seconds: timeout)
            case let code: return .failed("connect() errno \(code)")
            }
        }

        let request = Array("GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { return errno == EAGAIN ? .noReply(seconds: timeout) : .failed("send() errno \(errno)") }
            sent += count
        }

        // Only the status line matters: "HTTP/1.1 200 OK".
        var reply: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while !reply.contains(UInt8(ascii: "\n")) && reply.count < 4096 {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            if count < 0 { return errno == EAGAIN ? .noReply(seconds: timeout) : .failed("recv() errno \(errno)") }
            reply += buffer[..<count]
        }
        let statusLine = String(decoding: reply.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let code = Int(fields[1]) else {
            return .failed("no HTTP status line in the reply")
        }
        return code == 200 ? .answered : .status(code)
    }
}
