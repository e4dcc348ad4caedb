import Evaluation
import FakeLLMServer
import Foundation
import GitKit
import LLM
import Optimizer
import PromptRepo
@_exported import TestSupport

/// A toy task for the fake model: items `#N` labelled `a` or `b`. The seed prompt gets the odd
/// items wrong; a prompt containing `MAGIC` gets them right, and one containing `BREAK` also gets
/// the items in `breakIDs` wrong. Requests are told apart by the default meta-prompts' wording.
struct ToyTask {
    static let seedPrompt = "Label the item as a or b.\n\nItem: {{text}}\n\nLabel:\n"
    var trainCount = 12
    /// 24 rows: the seed gets 12 wrong, so a candidate that fixes them all is significant
    /// (sign test p = 2^-12) at alpha 0.05 over two variants.
    var holdoutCount = 24

    func label(_ n: Int) -> String { n % 3 == 0 ? "b" : "a" }

    func rows(_ range: ClosedRange<Int>, prefix: String) -> String {
        range.map { #"{"id": "\#(prefix)\#($0)", "text": "item #\#($0)", "label": "\#(label($0))"}"# }.joined(separator: "\n") + "\n"
    }

    var train: ClosedRange<Int> { 1...trainCount }
    var holdout: ClosedRange<Int> { 101...(100 + holdoutCount) }

    /// `search` holds `key = value` lines that replace the defaults of `[search]`. Screening is
    /// off unless asked for: the toy train set (12 rows, batches of 6) is too small to screen on,
    /// and most tests look at what verification does with every candidate.
    func makeRepository(in directory: TemporaryDirectory, search: String = "") throws -> URL {
        var settings: [(String, String)] = [("steps", "1"), ("batch_size", "6"), ("variants", "2"), ("seed", "3"), ("screen_rows", "0")]
        for line in search.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            settings.removeAll { $0.0 == parts[0] }
            settings.append((parts[0], parts[1]))
        }
        let searchTable = settings.map { "\($0.0) = \($0.1)" }.joined(separator: "\n")
        let template = directory.url.appendingPathComponent("template")
        let files: [String: String] = [
            "grad.toml": """
                [task]
                prompt = "prompts/p.md"
                train = "data/train.jsonl"
                holdout = "data/holdout.jsonl"
                input = "text"
                target = "label"
                id = "id"

                [metric]
                kind = "choice"
                labels = ["a", "b"]

                [model]
                provider = "local"
                base_url = "http://127.0.0.1:1/v1"
                name = "fake-task"

                [search]
                \(searchTable)
                """,
            "prompts/p.md": Self.seedPrompt,
            "data/train.jsonl": rows(train, prefix: "t"),
            "data/holdout.jsonl": rows(holdout, prefix: "h"),
            "notes.txt": "not a prompt file\n",
        ]
        for (path, text) in files {
            let url = template.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        let repo = directory.url.appendingPathComponent("repo")
        _ = try PromptRepository.initialize(at: repo, template: template)
        return repo
    }

    /// The fake model's behaviour. `candidates` are the prompt texts the proposer hands out, by sample.
    func script(candidates: [String], breakIDs: Set<Int> = []) -> @Sendable (FakeLLMServer.RecordedRequest) -> FakeLLMServer.Reply {
        let label = self.label
        let counter = CandidateCounter()
        return { request in
            let content = request.lastUserMessage
            if content.contains("Explain what in the prompt caused") || content.contains("Critiques of the model's wrong answers") {
                return .completion("- The prompt must say that items divisible by three are b.")
            }
            if content.contains("In one or two sentences") {
                return .completion("The answer ignored the divisibility rule.")
            }
            if content.contains("Rewrite the prompt below") {
                // Which candidate: the order of requests is not fixed, so pick by a counter per text.
                let index = counter.next() % max(1, candidates.count)
                return .completion("<summary>candidate \(index + 1)</summary>\n<prompt>\n\(candidates[index])\n</prompt>")
            }
            guard let range = content.range(of: #"#(\d+)"#, options: .regularExpression),
                  let n = Int(content[range].dropFirst())
            else { return .completion("a") }
            if content.contains("MAGIC") {
                if content.contains("BREAK") && breakIDs.contains(n) { return .completion(label(n) == "a" ? "b" : "a") }
                return .completion("Answer: \(label(n))")
            }
            return .completion(n % 2 == 1 ? (label(n) == "a" ? "b" : "a") : label(n))
        }
    }
}

final class CandidateCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int { lock.withLock { defer { value += 1 }; return value } }
}

/// Runs the optimizer against the fake server and returns the summary and the events.
func runOptimizer(repo: URL, server: FakeLLMServer, request: OptimizeRequest = OptimizeRequest(), cache: Bool = true) async throws -> (RunSummary, [OptimizerEvent]) {
    let repository = try PromptRepository.open(repo)
    var config = try repository.config(at: try repository.mainTip())
    let store = RunStore(repository: repository)
    config.model.baseURL = server.baseURL
    config.optimizerModel.baseURL = server.baseURL
    config.model.maxConcurrency = 4
    config.optimizerModel.maxConcurrency = 4
    let runtime = try await ModelRuntime(
        task: config.model, optimizer: config.optimizerModel, prices: [:],
        cacheDirectory: cache ? repo.appendingPathComponent(".git/grad") : nil)
    let events = EventLog()
    let run = OptimizerRun(store: store, runtime: runtime, config: config, metaPrompts: .defaults, emit: { events.append($0) })
    let summary = try await run.run(request)
    return (summary, events.all)
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [OptimizerEvent] = []
    func append(_ event: OptimizerEvent) { lock.withLock { events.append(event) } }
    var all: [OptimizerEvent] { lock.withLock { events } }
}

