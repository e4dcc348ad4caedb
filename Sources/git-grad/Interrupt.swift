import Foundation
import LLM

/// Ctrl-C (SIGINT) and SIGTERM while a command talks to models: the command line, not a
/// library, owns signals. It stops the embedded model servers this process started (which would
/// otherwise outlive it for half a second), says what is kept, and exits 128 + the signal.
/// Nothing is lost: every step is recorded before it counts, and main only ever moves to a
/// verified commit.
enum InterruptHandler {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    private static let lock = NSLock()

    /// Installs the handler once; later calls do nothing.
    static func install() {
        lock.lock()
        defer { lock.unlock() }
        guard sources.isEmpty else { return }
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                LocalModelServer.stopAll()
                let text = "\ngit-grad: interrupted; finished steps are kept (optimize and experiment continue with --resume)\n"
                _ = text.withCString { write(STDERR_FILENO, $0, strlen($0)) }
                exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }
}
