import FakeLLMServer
import Foundation

/// The A/A benchmark of the acceptance gate: a loopback model under which no candidate is better
/// than its parent. Every prompt gets each holdout row right with the same probability (½), drawn
/// from a hash of the prompt and the row, so a candidate differs from its parent only by chance.
/// `git grad optimize` runs end to end against it (the `rewrite` operator; each rewrite is a new
/// prompt), once per rule and seed, and the merges it makes are false merges by construction.
enum NullGate {
    /// FNV-1a, then SplitMix64's finalizer: the same on every run and platform, and every bit
    /// mixed (FNV's lowest bit alone is only the parity of the bytes' lowest bits).
    static func hash(_ text: String) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 { value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    /// The server's answers: a new prompt per rewrite request (its body holds the variant's
    /// seed), and for a task request the right label with probability ½ per (prompt, row).
    static let script: @Sendable (FakeLLMServer.RecordedRequest) -> FakeLLMServer.Reply = { request in
        let text = request.lastUserMessage
        if text.contains("Rewrite the prompt below") || text.contains("<prompt>") {
            let tag = String(hash(request.body), radix: 16)
            return .completion("<summary>variant \(tag)</summary>\n<prompt>\nVARIANT \(tag)\nAnswer yes or no.\n\nQuestion: {{question}}\n\nAnswer:\n</prompt>")
        }
        if text.contains("Explain what in the prompt caused") || text.contains("Critiques of") {
            return .completion("- The prompt should say when to answer yes.")
        }
        guard let row = text.firstMatch(of: /row (\d+)/).map({ String($0.1) }) else { return .completion("yes") }
        let version = text.firstMatch(of: /VARIANT (\w+)/).map { String($0.1) } ?? "seed"
        let truth = Int(row).map { $0 % 2 == 0 ? "yes" : "no" } ?? "yes"
        let right = hash(version + "/" + row) % 2 == 0
        return .completion(right ? truth : (truth == "yes" ? "no" : "yes"))
    }

    /// A template repository: yes/no rows `row N`, 40 train and `holdout` holdout rows.
    static func template(holdout: Int) throws -> URL {
        let template = FileManager.default.temporaryDirectory.appendingPathComponent("git-grad-null-\(UUID().uuidString)")
        for folder in ["prompts", "data"] {
            try FileManager.default.createDirectory(at: template.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
            [task]
            prompt = "prompts/p.md"
            train = "data/train.jsonl"
            holdout = "data/holdout.jsonl"
            input = "question"
            target = "label"
            id = "id"
            [metric]
            kind = "choice"
            labels = ["yes", "no"]
            [model]
            max_concurrency = 4
            timeout_seconds = 30
            """.write(to: template.appendingPathComponent("grad.toml"), atomically: true, encoding: .utf8)
        try "Answer yes or no.\n\nQuestion: {{question}}\n\nAnswer:\n".write(
            to: template.appendingPathComponent("prompts/p.md"), atomically: true, encoding: .utf8)
        func rows(_ range: Range<Int>, prefix: String) -> String {
            range.map { #"{"id": "\#(prefix)\#($0)", "question": "row \#($0)", "label": "\#($0 % 2 == 0 ? "yes" : "no")"}"# }
                .joined(separator: "\n") + "\n"
        }
        try rows(1000..<1040, prefix: "t").write(to: template.appendingPathComponent("data/train.jsonl"), atomically: true, encoding: .utf8)
        try rows(0..<holdout, prefix: "h").write(to: template.appendingPathComponent("data/holdout.jsonl"), atomically: true, encoding: .utf8)
        return template
    }

    struct Tally {
        var runs = 0
        var steps = 0
        var candidates = 0
        var merges = 0
        var stepsWithMerge = 0
    }

    /// Runs `optimize` under each rule until at least `candidates` candidates were judged.
    static func run(binary: URL, serverBaseURL: String, candidates: Int, holdout: Int = 100) throws {
        print("A/A: candidates no better than their parent (each prompt right on each of \(holdout) holdout rows with p = ½), "
            + "3 variants a step, load \(loadAverage()), \(ISO8601DateFormatter().string(from: Date()))")
        let template = try template(holdout: holdout)
        defer { try? FileManager.default.removeItem(at: template) }
        for rule in ["significant", "net"] {
            var tally = Tally()
            var seed = 1
            while tally.candidates < candidates {
                let repo = template.appendingPathExtension("\(rule)-\(seed)")
                defer { try? FileManager.default.removeItem(at: repo) }
                try runProcess(binary, ["init", repo.path, "--from", template.path], in: template)
                let events = try runProcess(binary, [
                    "optimize", "--steps", "25", "--variants", "3", "--operators", "rewrite", "--rule", rule, "--seed", String(seed),
                    "--provider", "local", "--base-url", serverBaseURL, "--optimizer-model", "fake-optimizer", "--json",
                ], in: repo)
                for line in events.split(separator: "\n") {
                    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                          let event = object["event"] as? String, let data = object["data"] as? [String: Any] else { continue }
                    if event == "verdict", data["holdout_after"] is NSNumber { tally.candidates += 1 }
                    if event == "merged" { tally.merges += 1 }
                    if event == "step" { tally.steps += 1 }
                }
                tally.runs += 1
                seed += 1
            }
            print(String(
                format: "  rule %-11@ %d runs, %d steps, %d candidates judged: %d merged = %.3f of candidates, %.3f of steps",
                rule, tally.runs, tally.steps, tally.candidates, tally.merges, Double(tally.merges) / Double(max(1, tally.candidates)),
                Double(tally.merges) / Double(max(1, tally.steps))))
        }
    }

    @discardableResult
    static func runProcess(_ executable: URL, _ arguments: [String], in directory: URL) throws -> String {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.executableLoad, userInfo: ["command": arguments.joined(separator: " "), "status": process.terminationStatus])
        }
        return String(decoding: data, as: UTF8.self)
    }
}
