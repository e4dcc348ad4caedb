import FakeLLMServer
import Foundation
import Testing

/// A split's score has one definition, the mean of the examples' scores (accuracy for label
/// metrics, the mean grade for judge and command metrics), and every place that shows it shows
/// the same number: the merge message, the verdict trailers, `log`, `eval` and the notes.
@Suite struct ScoreDefinitionTests {
    /// A graded command metric: 1 for the right queue, 0.25 for a wrong answer, so the mean grade
    /// (what is recorded) and the fraction correct (what it must not be mixed with) differ.
    static let scorer = """
        import json, sys
        line = json.loads(sys.stdin.readline())
        print(1.0 if line["expected"] in line["output"] else 0.25)
        """

    @Test func aCommandMetricShowsTheSameMeanGradeEverywhere() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let config = try String(contentsOf: repo.appendingPathComponent("grad.toml"), encoding: .utf8)
            let metric = try #require(config.range(of: "[metric]"))
            let next = try #require(config.range(of: "[model]"))
            let graded = config.replacingCharacters(
                in: metric.lowerBound..<next.lowerBound, with: "[metric]\nkind = \"command\"\ncommand = [\"python3\", \"score.py\"]\npass_threshold = 0.5\n\n")
            try graded.write(to: repo.appendingPathComponent("grad.toml"), atomically: true, encoding: .utf8)
            try Self.scorer.write(to: repo.appendingPathComponent("score.py"), atomically: true, encoding: .utf8)
            try git("add", "-A", in: repo)
            try git("commit", "-q", "-m", "Grade answers with score.py", in: repo)

            let flags = ["--provider", "local", "--base-url", server.baseURL]
            try grad(["optimize", "--steps", "1", "--variants", "1", "--operators", "rewrite"] + flags, in: repo)
            let trailer = { (key: String, revision: String) in
                try git("log", "-1", "--format=%(trailers:key=\(key),valueonly)", revision, in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let mergeChange = try trailer("Score-Holdout", "main")
            let parts = mergeChange.components(separatedBy: " -> ")
            try #require(parts.count == 2, "merge Score-Holdout: \(mergeChange)")
            let before = try #require(Double(parts[0])), after = try #require(Double(parts[1]))

            // eval's score of both versions, and the notes: the mean grade, not the fraction correct.
            func evalScore(_ revision: String) throws -> Double {
                let json = try grad(["eval", revision, "--split", "holdout", "--json"] + flags, in: repo)
                let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
                let statistics = try #require(object["statistics"] as? [String: Any] ?? object)
                let score = try #require(statistics["score"] as? Double)
                let correct = try #require(statistics["correct"] as? Int), total = try #require(statistics["total"] as? Int)
                if correct < total {
                    #expect(abs(score - Double(correct) / Double(total)) > 0.01, "a graded metric's mean differs from its fraction correct")
                }
                return score
            }
            #expect(String(format: "%.3f", try evalScore("main^1")) == parts[0])
            #expect(String(format: "%.3f", try evalScore("main")) == parts[1])
            #expect(after > before)

            // The accepted candidate's verdict commit (the merge's second parent) says the same.
            #expect(try trailer("Score-Holdout", "main^2") == mergeChange)
            // And so does `log`.
            let log = try grad("log", "-n", "1", in: repo)
            #expect(log.contains("holdout \(mergeChange)"), "\(log)")
        }
    }
}
