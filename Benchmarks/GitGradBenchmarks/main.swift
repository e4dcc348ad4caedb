// Benchmarks for git-grad. Prints figures; asserts nothing.
//
//   swift run -c release GitGradBenchmarks            # all
//   swift run -c release GitGradBenchmarks git 10000  # the git record only, N steps
//   swift run -c release GitGradBenchmarks git 10000 --keep /tmp/big  # and leave the repository there
//   swift run -c release GitGradBenchmarks llm        # the LLM client only
//   swift run -c release GitGradBenchmarks eval 1000  # `git grad eval` as a process, beside Benchmarks/bare-client.py
//   swift run -c release GitGradBenchmarks aa 200     # the A/A gate: false merges when no candidate is better
import FakeLLMServer
import Foundation
import GitKit
import LLM
import NIOCore
import PromptRepo

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func asyncSeconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func directorySize(_ url: URL) -> Int {
    guard let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.fileSizeKey, .isRegularFileKey]) else { return 0 }
    var total = 0
    for case let file as URL in enumerator {
        let values = try? file.resourceValues(forKeys: [.fileSizeKey, .isRegularFileKey])
        if values?.isRegularFile == true { total += values?.fileSize ?? 0 }
    }
    return total
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

/// A synthetic prompt repository of `steps` optimization steps: per step a candidate commit with
/// a gradient and trailers on its own branch, a verdict commit, a two-parent merge into main, and
/// an evaluation note — the same objects `git grad optimize` writes.
func benchmarkGitRecord(steps: Int, keep: URL?, sideTrunk: Bool) async throws {
    let directory = keep ?? FileManager.default.temporaryDirectory.appendingPathComponent("git-grad-bench-\(UUID().uuidString)")
    defer { if keep == nil { try? FileManager.default.removeItem(at: directory) } }
    // Written as `git grad optimize` writes it: through the one writer, RunStore, on a prompt
    // repository made by `git grad init` (so each merge also brings the working tree along).
    let prompts = try PromptRepository.initialize(at: directory, template: nil)
    let promptPath = "prompts/classify.md"
    var main = try prompts.mainTip()
    let store = RunStore(repository: prompts)
    let run = try RunID("bench")
    let trunk = sideTrunk ? "grad/bench/main" : GradRefs.mainBranch
    try await store.createTrunkIfMissing(trunk, at: main)
    let gradient = String(repeating: "- The prompt must state the rule for refunds over the limit.\n", count: 8)
    let examples = (0..<64).map { EvaluationNote.ExampleResult(id: "h\($0)", output: "ledger", expected: "ledger", correct: $0 % 3 != 0, score: 1) }
    let model = EvaluationNote.ModelInfo(provider: "local", name: "m", temperature: 0, maxTokens: 8)
    let sizeBefore = directorySize(directory.appendingPathComponent(".git"))

    var stepSeconds: [Double] = []
    var parts = [Double](repeating: 0, count: 4)  // candidate, verdict, merge, note
    func timed<T>(_ part: Int, _ body: () async throws -> T) async rethrows -> T {
        let start = Date()
        defer { parts[part] += Date().timeIntervalSince(start) }
        return try await body()
    }
    let record = try await asyncSeconds {
        for step in 1...steps {
            stepSeconds.append(try await asyncSeconds {
                let branch = CandidateBranch(run: run, step: step, variant: 1)
                let prompt = "Step \(step) prompt: classify {{text}}.\nRule \(step): refunds over \(step) go to ledger.\n\nAnswer:\n"
                let trailers = [
                    Trailer(key: TrailerKey.run, value: run.value), Trailer(key: TrailerKey.step, value: String(step)),
                    Trailer(key: TrailerKey.variant, value: "1/1"), Trailer(key: TrailerKey.kind, value: "candidate"),
                    Trailer(key: TrailerKey.errors, value: "5/8"), Trailer(key: TrailerKey.scoreTrain, value: "0.375"),
                ]
                let candidate = try await timed(0) { try await store.commitCandidate(
                    branch: branch, parent: main, promptPath: promptPath, text: prompt,
                    message: StepMessage(subject: "Candidate \(step)", body: gradient, trailers: trailers)) }
                let verdict = try await timed(1) { try await store.commitVerdict(
                    branch: branch, candidate: candidate,
                    message: StepMessage(subject: "Verdict s\(step)v1: passed", trailers: [
                        Trailer(key: TrailerKey.run, value: run.value), Trailer(key: TrailerKey.step, value: String(step)),
                        Trailer(key: TrailerKey.kind, value: "verdict"), Trailer(key: TrailerKey.verdict, value: "accepted"),
                    ])) }
                main = try await timed(2) { try await store.merge(
                    verdictCommit: verdict, into: trunk, expectedTip: main,
                    message: StepMessage(subject: "Step \(step): candidate \(step)", body: gradient, trailers: trailers + [
                        Trailer(key: TrailerKey.scoreHoldout, value: "0.500 -> 0.510"), Trailer(key: TrailerKey.verdict, value: "accepted"),
                    ])).commit }
                let merged = main
                try await timed(3) { try await store.recordSplit(
                    .init(split: "holdout", score: 0.66, correct: 42, total: 64, examples: examples), verdict: "accepted", of: merged,
                    promptPath: promptPath, model: model, metric: "choice", task: nil) }
            })
            if step % 1000 == 0 { FileHandle.standardError.write(Data("  … \(step) steps\n".utf8)) }
        }
    }
    let repo = try Repository.open(at: directory)
    let looseSize = directorySize(directory.appendingPathComponent(".git"))
    var packed: PackSummary?
    let packTime = try seconds { packed = try repo.packLooseObjects() }
    let packedSize = directorySize(directory.appendingPathComponent(".git"))
    let promptRepository = try PromptRepository.open(directory)
    var entries = 0
    let logTime = try seconds { entries = try HistoryReader(promptRepository).entries(from: main).count }
    let logTenTime = try seconds { _ = try HistoryReader(promptRepository).entries(from: main, limit: 10) }
    var firstParent = 0
    let walkTime = try seconds { firstParent = try repo.walk(from: main, firstParentOnly: true).count }
    let window = min(1000, steps)
    let first = stepSeconds.prefix(window).reduce(0, +) / Double(window)
    let last = stepSeconds.suffix(window).reduce(0, +) / Double(window)

    print("git record through RunStore, \(steps) steps (candidate + verdict + merge\(sideTrunk ? " into a side trunk" : " into main with its working tree") + note each), load \(loadAverage())")
    print(String(format: "  time per recorded step      %.2f ms mean; first %d steps %.2f ms, last %d steps %.2f ms",
                 record / Double(steps) * 1000, window, first * 1000, window, last * 1000))
    print(String(format: "  of which candidate %.2f, verdict %.2f, merge %.2f, note %.2f ms", parts[0] / Double(steps) * 1000,
                 parts[1] / Double(steps) * 1000, parts[2] / Double(steps) * 1000, parts[3] / Double(steps) * 1000))
    print(String(format: "  .git size per step (loose)  %.1f KB (%.1f MB total)", Double(looseSize - sizeBefore) / Double(steps) / 1024, Double(looseSize) / 1_048_576))
    print(String(format: "  packed (%d objects) in %.2f s: %.1f KB per step (%.1f MB total)",
                 packed?.objects ?? 0, packTime, Double(packedSize - sizeBefore) / Double(steps) / 1024, Double(packedSize) / 1_048_576))
    print(String(format: "  HistoryReader, whole history %.3f s (%d entries); -n 10 %.4f s", logTime, entries, logTenTime))
    print(String(format: "  first-parent walk of main   %.3f s (%d commits)", walkTime, firstParent))
    print(String(format: "  objects                     %d", try repo.objectCount()))
    if let keep { print("  repository kept in \(keep.path): time `git-grad log` there") }
}

/// Sends `count` distinct requests through `client` at once (the client's limiter bounds them).
func sendConcurrently(_ count: Int, through client: LLMClient) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<count {
            group.addTask { _ = try await client.complete(ChatRequest(messages: [ChatMessage(.user, "q\(index)")])) }
        }
        try await group.waitForAll()
    }
}

/// The LLM client's own overhead (zero-latency fake server), and wall time against the ideal
/// N·L/C for a fixed latency L at a few concurrency limits C.
func benchmarkLLMClient() async throws {
    print("LLM client against the loopback fake server, load \(loadAverage())")
    let fast = FakeLLMServer(threads: 1) { _ in .completion("ok") }
    try fast.start()
    let calls = 2000
    for concurrency in [1, 8] {
        let provider = OpenAICompatibleProvider(baseURL: fast.baseURL, model: "bench", apiKey: nil, defaultConcurrency: concurrency)
        let client = LLMClient(provider: provider, limiter: ConcurrencyLimiter(limit: concurrency))
        let time = try await asyncSeconds { try await sendConcurrently(calls, through: client) }
        print(String(format: "  zero latency, C=%d: %.0f calls/s (%.2f ms per call)", concurrency, Double(calls) / time, time / Double(calls) * 1000))
    }
    fast.stop()

    let latency = 0.05
    let slow = FakeLLMServer(latency: .milliseconds(Int64(latency * 1000)), threads: 2) { _ in .completion("ok") }
    try slow.start()
    let n = 200
    for concurrency in [1, 4, 16, 64] {
        let provider = OpenAICompatibleProvider(baseURL: slow.baseURL, model: "bench", apiKey: nil, defaultConcurrency: concurrency)
        let client = LLMClient(provider: provider, limiter: ConcurrencyLimiter(limit: concurrency))
        let time = try await asyncSeconds { try await sendConcurrently(n, through: client) }
        let ideal = Double(n) * latency / Double(concurrency)
        print(String(format: "  L=%.0f ms, N=%d, C=%2d: wall %.2f s, ideal N*L/C %.2f s, ratio %.2f",
                     latency * 1000, n, concurrency, time, ideal, time / ideal))
    }
    slow.stop()

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("git-grad-cache-bench-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    let cache = try ResponseCache(path: directory.appendingPathComponent("cache.sqlite").path)
    let cached = FakeLLMServer(threads: 1) { _ in .completion("ok") }
    try cached.start()
    let provider = OpenAICompatibleProvider(baseURL: cached.baseURL, model: "bench", apiKey: nil)
    let client = LLMClient(provider: provider, cache: cache, limiter: ConcurrencyLimiter(limit: 8))
    for index in 0..<500 { _ = try await client.complete(ChatRequest(messages: [ChatMessage(.user, "q\(index)")])) }
    let hitTime = try await asyncSeconds {
        for index in 0..<500 { _ = try await client.complete(ChatRequest(messages: [ChatMessage(.user, "q\(index)")])) }
    }
    print(String(format: "  cache hits: %.0f per second (%.3f ms each)", 500 / hitTime, hitTime / 500 * 1000))
    cached.stop()
}

/// `git grad eval` as a whole process against the loopback fake server: calls per second at
/// zero latency, cache hits per second on a second run, and wall time against ⌈N/C⌉·L at a fixed
/// latency L, beside the bare client of `Benchmarks/bare-client.py` on the same server.
func benchmarkEval(examples count: Int) throws {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("git-grad")
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
        print("eval benchmark: build git-grad in the same configuration first (\(binary.path) is missing)")
        return
    }
    print("git grad eval, \(count) examples, against the loopback fake server, load \(loadAverage())")
    /// A prompt repository of `count` holdout rows, committed (eval reads the dataset as committed).
    func repository(concurrency: Int, rows count: Int) throws -> URL {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("git-grad-eval-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: template) }
        let directory = template.appendingPathExtension("repo")
        try FileManager.default.createDirectory(at: template.appendingPathComponent("prompts"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: template.appendingPathComponent("data"), withIntermediateDirectories: true)
        let labels = ["safety", "retention", "field", "ledger", "desk"]
        try """
            [task]
            prompt = "prompts/p.md"
            train = "data/train.jsonl"
            holdout = "data/holdout.jsonl"
            input = "message"
            target = "label"
            [metric]
            kind = "choice"
            labels = ["safety", "retention", "field", "ledger", "desk"]
            [model]
            max_concurrency = \(concurrency)
            timeout_seconds = 30
            """.write(to: template.appendingPathComponent("grad.toml"), atomically: true, encoding: .utf8)
        try "Route this message to a queue: {{message}}\n".write(to: template.appendingPathComponent("prompts/p.md"), atomically: true, encoding: .utf8)
        let rows = (0..<count).map { #"{"id": "h\#($0)", "message": "message number \#($0)", "label": "\#(labels[$0 % 5])"}"# }
        try rows.joined(separator: "\n").write(to: template.appendingPathComponent("data/holdout.jsonl"), atomically: true, encoding: .utf8)
        try rows.prefix(10).joined(separator: "\n").write(to: template.appendingPathComponent("data/train.jsonl"), atomically: true, encoding: .utf8)
        try run(binary, ["init", directory.path, "--from", template.path], in: template)
        return directory
    }
    @discardableResult
    func run(_ executable: URL, _ arguments: [String], in directory: URL) throws -> Double {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let time = try seconds {
            try process.run()
            process.waitUntilExit()
        }
        guard process.terminationStatus == 0 else { throw CocoaError(.executableLoad, userInfo: ["command": arguments.joined(separator: " ")]) }
        return time
    }
    let python = URL(fileURLWithPath: "/usr/bin/python3")
    let bareClient = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("bare-client.py")

    // The server runs in a process of its own (this program's `serve` mode): in this process,
    // blocked waiting for the command, its delayed answers came late and the figures were wrong.
    func serve(latencyMilliseconds: Int) throws -> (baseURL: String, process: Process) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["serve", String(latencyMilliseconds)]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        return (String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), process)
    }

    let fast = try serve(latencyMilliseconds: 0)
    defer { fast.process.terminate() }
    for concurrency in [1, 8] {
        let directory = try repository(concurrency: concurrency, rows: count)
        defer { try? FileManager.default.removeItem(at: directory) }
        let flags = ["eval", "--split", "holdout", "--provider", "local", "--base-url", fast.baseURL, "--json"]
        let cold = try run(binary, flags, in: directory)
        let warm = try run(binary, flags, in: directory)
        let bare = try run(python, [bareClient.path, fast.baseURL, String(count), String(concurrency)], in: directory)
        print(String(format: "  zero latency, C=%d: %.0f calls/s (whole process %.2f s); cache hits %.0f/s (%.2f s); bare client %.0f calls/s",
                     concurrency, Double(count) / cold, cold, Double(count) / warm, warm, Double(count) / bare))
    }

    let latency = 0.2
    let slow = try serve(latencyMilliseconds: Int(latency * 1000))
    defer { slow.process.terminate() }
    let n = min(count, 320)
    for concurrency in [1, 8, 32] {
        let examples = concurrency == 1 ? 20 : n
        let directory = try repository(concurrency: concurrency, rows: examples)
        defer { try? FileManager.default.removeItem(at: directory) }
        let flags = ["eval", "--split", "holdout", "--provider", "local", "--base-url", slow.baseURL, "--json", "--no-cache"]
        let wall = try run(binary, flags, in: directory)
        let bare = try run(python, [bareClient.path, slow.baseURL, String(examples), String(concurrency)], in: directory)
        let ideal = (Double(examples) / Double(concurrency)).rounded(.up) * latency
        print(String(format: "  L=%.0f ms, N=%d, C=%2d: wall %.2f s, ideal ⌈N/C⌉·L %.2f s, ratio %.3f (bare client %.3f)",
                     latency * 1000, examples, concurrency, wall, ideal, wall / ideal, bare / ideal))
    }
}

var arguments = Array(CommandLine.arguments.dropFirst())
var keep: URL?
if let index = arguments.firstIndex(of: "--keep"), index + 1 < arguments.count {
    keep = URL(fileURLWithPath: arguments[index + 1]).standardizedFileURL
    arguments.removeSubrange(index...(index + 1))
}
// `--side-trunk`: merge into a branch other than main, as an experiment's runs do (no working tree).
let sideTrunk = arguments.contains("--side-trunk")
arguments.removeAll { $0 == "--side-trunk" }
let which = arguments.first ?? "all"
let steps = arguments.dropFirst().first.flatMap(Int.init) ?? 10_000
if which == "serve" {
    // The fake server alone, to time real commands against by hand: `serve 200` answers after 200 ms.
    let latency = arguments.dropFirst().first.flatMap(Int64.init) ?? 0
    let server = FakeLLMServer(latency: .milliseconds(latency), threads: 2) { _ in .completion("Answer: ledger") }
    try server.start()
    print(server.baseURL)
    FileHandle.standardError.write(Data("\(server.baseURL)\n".utf8))
    while true { sleep(60) }
}
if which == "all" || which == "git" { try await benchmarkGitRecord(steps: steps, keep: keep, sideTrunk: sideTrunk) }
if which == "git-raw" { try benchmarkRawGitRecord(steps: steps) }
if which == "all" || which == "llm" { try await benchmarkLLMClient() }
if which == "aa" {
    let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("git-grad")
    let server = FakeLLMServer(threads: 2, script: NullGate.script)
    try server.start()
    defer { server.stop() }
    try NullGate.run(binary: binary, serverBaseURL: server.baseURL, candidates: arguments.dropFirst().first.flatMap(Int.init) ?? 200)
}
if which == "all" || which == "eval" { try benchmarkEval(examples: arguments.dropFirst().first.flatMap(Int.init) ?? 1000) }
