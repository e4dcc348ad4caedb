import Foundation
import PromptRepo

/// A one-line progress bar on stderr when it is a terminal; silent otherwise.
final class ProgressBar: @unchecked Sendable {
    let name: String
    let total: Int
    let enabled: Bool
    private let started = Date()
    private let lock = NSLock()
    private var done = 0
    private var hits = 0
    private var tokens = 0

    init(name: String, total: Int, enabled: Bool = true) {
        self.name = name
        self.total = total
        self.enabled = enabled && isatty(STDERR_FILENO) != 0
        draw()
    }

    func advance(cached: Bool) {
        lock.lock()
        done += 1
        if cached { hits += 1 }
        lock.unlock()
        draw()
    }

    func update(done: Int, hits: Int, tokens: Int) {
        lock.lock()
        self.done = done
        self.hits = hits
        self.tokens = tokens
        lock.unlock()
        draw()
    }

    private func draw() {
        guard enabled else { return }
        lock.lock()
        let (done, hits, tokens) = (self.done, self.hits, self.tokens)
        lock.unlock()
        let width = 24
        let filled = total == 0 ? width : min(width, done * width / max(total, 1))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let elapsed = Int(Date().timeIntervalSince(started))
        var line = "\r\u{1B}[2K\(name.escapingControlCharacters) \(bar) \(done)/\(total)  \(elapsed)s  cache \(hits)"
        if tokens > 0 { line += "  tokens \(tokens)" }
        writeStandardError(line)
    }

    func finish() {
        guard enabled else { return }
        writeStandardError("\r\u{1B}[2K")
    }
}
