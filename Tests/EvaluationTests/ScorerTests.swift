@testable import Evaluation
import FakeLLMServer
import Foundation
import LLM
import PromptRepo
import Testing

func example(_ target: String, id: String = "e1", fields: [String: String] = ["text": "hi"]) -> Example {
    Example(id: id, fields: fields, target: target, source: "data/x.jsonl:1")
}

@Suite struct ChoiceExtractionTests {
    let scorer = ChoiceScorer(labels: ["safety", "retention", "field", "ledger", "desk"])

    @Test(arguments: [
        ("ledger", "ledger"),
        ("Ledger.", "ledger"),
        ("**Queue:** `desk`", "desk"),
        ("Answer: retention", "retention"),
        ("This mentions a bill, so ledger might fit, but the customer wants to cancel.\nAnswer: retention", "retention"),
        ("I think it's field. Actually no — safety.", "safety"),
        ("The queue is: FIELD", "field"),
        ("Category = \"desk\"", "desk"),
        ("Final answer: (safety)", "safety"),
        ("fieldwork is not a queue; desk", "desk"),
        ("Queue:\n\nledger\n\nExplanation: it is about a refund, not the field team.", "ledger"),
    ])
    func extractsTheIntendedLabel(output: String, expected: String) {
        #expect(scorer.extract(output) == expected)
    }

    @Test func noLabelIsNoAnswer() async throws {
        #expect(scorer.extract("I cannot tell.") == nil)
        let score = try await scorer.score(output: "I cannot tell.", example: example("desk"))
        #expect(!score.correct)
        #expect(score.extracted.isEmpty)
    }

    @Test func scoresAgainstTheTargetCaseInsensitively() async throws {
        #expect(try await scorer.score(output: "Answer: Desk", example: example("desk")).correct)
        #expect(try await !scorer.score(output: "Answer: field", example: example("desk")).correct)
    }
}

@Suite struct OtherScorerTests {
    @Test func exactNormalizes() async throws {
        let scorer = ExactScorer()
        #expect(try await scorer.score(output: "  Paris. ", example: example("paris")).correct)
        #expect(try await !scorer.score(output: "Paris, France", example: example("paris")).correct)
    }

    @Test func numberTakesTheLastNumberWithinTolerance() async throws {
        let scorer = NumberScorer(tolerance: 0.01)
        #expect(try await scorer.score(output: "3 apples + 4 = 7. The answer is 1,234.", example: example("1234")).correct)
        #expect(try await scorer.score(output: "so -2.5", example: example("-2.50")).correct)
        #expect(try await !scorer.score(output: "about 12", example: example("13")).correct)
        #expect(try await !scorer.score(output: "no idea", example: example("13")).correct)
        await #expect(throws: EvaluationError.self) { _ = try await scorer.score(output: "1", example: example("n/a")) }
    }

    @Test func regexFillsTheTarget() async throws {
        let scorer = RegexScorer(pattern: #"\b{{target}}\b"#, caseSensitive: false)
        #expect(try await scorer.score(output: "It is 3.5 indeed", example: example("3.5")).correct)
        // The target is escaped: its dot matches only a dot.
        #expect(try await !scorer.score(output: "It is 3x5", example: example("3.5")).correct)
    }

    @Test func containsLooksForTheTarget() async throws {
        #expect(try await ContainsScorer(caseSensitive: false).score(output: "The CAPITAL is Paris", example: example("paris")).correct)
        #expect(try await !ContainsScorer(caseSensitive: true).score(output: "The CAPITAL is Paris", example: example("paris")).correct)
    }

    @Test func commandScorerRunsAnExternalProgram() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scorer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
        import json, sys
        line = json.loads(sys.stdin.readline())
        print(json.dumps({"score": 1.0 if line["output"].strip() == line["expected"] else 0.25}))
        """.write(to: directory.appendingPathComponent("score.py"), atomically: true, encoding: .utf8)
        let scorer = CommandScorer(command: ["python3", "score.py"], workingDirectory: directory, passThreshold: 0.5)
        let right = try await scorer.score(output: "42", example: example("42"))
        #expect(right.correct && right.value == 1)
        let wrong = try await scorer.score(output: "41", example: example("42"))
        #expect(!wrong.correct && wrong.value == 0.25)
        let broken = CommandScorer(command: ["python3", "-c", "import sys; sys.exit(3)"], workingDirectory: directory, passThreshold: 0.5)
        await #expect(throws: EvaluationError.self) { _ = try await broken.score(output: "x", example: example("x")) }
    }

    @Test func judgeReadsBinaryAndPercentScores() async throws {
        let server = FakeLLMServer { request in
            request.lastUserMessage.contains("0 (fails the rubric) to 100") ? .completion("The response is decent.\nScore: 70") : .completion("Score: 0")
        }
        try server.start()
        defer { server.stop() }
        let client = LLMClient(provider: OpenAICompatibleProvider(baseURL: server.baseURL, model: "judge", apiKey: nil))
        let percent = JudgeScorer(client: client, rubric: "Is it polite?", scale: .percent, passThreshold: 0.6)
        let graded = try await percent.score(output: "Thanks!", example: example("polite reply"))
        #expect(graded.value == 0.7 && graded.correct)
        let binary = JudgeScorer(client: client, rubric: "Is it polite?", scale: .binary, passThreshold: 0.5)
        #expect(try await !binary.score(output: "Go away", example: example("polite reply")).correct)
        let rubricSeen = server.requests.allSatisfy { $0.lastUserMessage.contains("Is it polite?") && $0.lastUserMessage.contains("polite reply") }
        #expect(rubricSeen)
    }
}

@Suite struct TemplateAndStatisticsTests {
    @Test func rendersPlaceholdersAndNamesAMissingField() throws {
        let template = PromptTemplate(text: "Q: {{ question }}\nA ({{lang}}):", path: "prompts/q.md")
        #expect(template.placeholders == ["question", "lang"])
        #expect(try template.render(example("x", fields: ["question": "2+2? {{lang}}", "lang": "en"])) == "Q: 2+2? {{lang}}\nA (en):")
        #expect { try template.render(example("x", fields: ["question": "q"])) } throws: { error in
            let text = "\(error)"
            return text.contains("prompts/q.md") && text.contains("lang") && text.contains("data/x.jsonl:1")
        }
    }

    @Test func statisticsHaveRecallPrecisionConfusionAndBaseline() {
        func outcome(_ target: String, _ predicted: String) -> ExampleOutcome {
            ExampleOutcome(example: example(target), output: predicted,
                           score: Score(extracted: predicted, correct: target == predicted, value: target == predicted ? 1 : 0), cached: false)
        }
        let outcomes = [outcome("a", "a"), outcome("a", "a"), outcome("a", "b"), outcome("b", "b"), outcome("c", "")]
        let stats = SplitStatistics(outcomes: outcomes, labels: ["a", "b", "c"])
        #expect(stats.correct == 3 && stats.total == 5)
        let a = stats.classes.first { $0.label == "a" }!
        #expect(abs(a.recall - 2.0 / 3) < 1e-9 && a.precision == 1)
        let b = stats.classes.first { $0.label == "b" }!
        #expect(b.recall == 1 && b.precision == 0.5)
        #expect(stats.confusion["a"]?["b"] == 1)
        #expect(stats.confusion["c"]?["(none)"] == 1)
        #expect(stats.majorityLabel == "a" && stats.majorityBaseline == 0.6)
        #expect(abs(stats.balancedAccuracy! - (2.0 / 3 + 1 + 0) / 3) < 1e-9)
    }
}

@Suite struct EvaluatorTests {
    @Test func evaluatesConcurrentlyInOrderAndNeverPaysTwice() async throws {
        let server = FakeLLMServer(latency: .milliseconds(20), threads: 2) { request in
            .completion(request.lastUserMessage.contains("#3") ? "Answer: b" : "Answer: a")
        }
        try server.start()
        defer { server.stop() }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = try ResponseCache(path: directory.appendingPathComponent("cache.sqlite").path)
        let client = LLMClient(
            provider: OpenAICompatibleProvider(baseURL: server.baseURL, model: "task", apiKey: nil), cache: cache,
            limiter: ConcurrencyLimiter(limit: 4))
        let evaluator = Evaluator(client: client, scorer: ChoiceScorer(labels: ["a", "b"]), settings: ModelSettings(name: "task"))
        let examples = (1...12).map { example($0 == 3 ? "b" : "a", id: "e\($0)", fields: ["text": "item #\($0)"]) }
        let prompt = PromptPair(user: PromptTemplate(text: "Label {{text}}", path: "p.md"))
        let outcomes = try await evaluator.evaluate(prompt: prompt, examples: examples)
        #expect(outcomes.map(\.example.id) == examples.map(\.id))
        #expect(outcomes.allSatisfy { $0.correct })
        #expect(server.maxInFlight > 1 && server.maxInFlight <= 4)
        server.resetRecord()
        let again = try await evaluator.evaluate(prompt: prompt, examples: examples)
        #expect(again.allSatisfy { $0.cached })
        #expect(server.requests.isEmpty)
    }

    @Test func stopsWhenToldAndSkipsTheRest() async throws {
        let server = FakeLLMServer(answer: "a")
        try server.start()
        defer { server.stop() }
        let client = LLMClient(provider: OpenAICompatibleProvider(baseURL: server.baseURL, model: "task", apiKey: nil), limiter: ConcurrencyLimiter(limit: 1))
        let evaluator = Evaluator(client: client, scorer: ChoiceScorer(labels: ["a", "b"]), settings: ModelSettings(name: "task"))
        let examples = (1...20).map { example("a", id: "e\($0)", fields: ["text": "t\($0)"]) }
        let outcomes = try await evaluator.evaluate(
            prompt: PromptPair(user: PromptTemplate(text: "{{text}}", path: "p.md")), examples: examples, window: 1,
            shouldContinue: { $0.count < 5 })
        #expect(outcomes.count == 5)
        #expect(server.requests.count == 5)
    }
}

@Suite struct InputFieldTests {
    @Test func aPromptCannotReadTheTarget() throws {
        let pair = PromptPair(user: PromptTemplate(text: "Q: {{text}} (hint: {{label}})", path: "prompts/p.md"), inputFields: ["text"])
        #expect { try pair.messages(for: example("x", fields: ["text": "hi", "label": "x"])) } throws: { error in
            "\(error)".contains("{{label}} is not an input field") && "\(error)".contains("prompts/p.md")
        }
    }
}

@Suite struct ScorerFixesTests {
    @Test(arguments: [
        ("Score: 1", 1.0), ("Score: 0", 0.0),
        ("The response does not pass the rubric.", 0.0),
        ("It doesn't meet the rubric.", 0.0),
        ("The response fails 2 of 3 criteria.", 0.0),
        ("The response passes the rubric.", 1.0),
        ("Yes, it meets the rubric.", 1.0),
        ("No. It is rude.", 0.0),
        ("It passes; no issues found.", 1.0),
        ("Pass. No criterion failed.", 1.0),
        ("1", 1.0), ("0", 0.0),
        ("I cannot tell.", 0.0),
    ])
    func judgeBinaryReadsNegationAndNeverACount(text: String, expected: Double) {
        #expect(JudgeScorer.parse(text, scale: .binary) == expected)
    }

    @Test func judgePercentReadsOnlyAnExplicitScore() {
        #expect(JudgeScorer.parse("Decent.\nScore: 85", scale: .percent) == 0.85)
        #expect(JudgeScorer.parse("It fails 2 of 3 criteria.", scale: .percent) == 0)
        #expect(JudgeScorer.parse("I would give it 70/100.", scale: .percent) == 0.7)
        #expect(JudgeScorer.parse("Score: 4/5", scale: .percent) == 0.8)
        #expect(JudgeScorer.parse("Score: 250", scale: .percent) == 1)
        #expect(JudgeScorer.parse("85", scale: .percent) == 0.85)
    }

    @Test func containsWithALabelSetRefusesAnAnswerNamingSeveral() async throws {
        let scorer = ContainsScorer(caseSensitive: false, labels: ["safety", "ledger", "desk"])
        #expect(try await scorer.score(output: "This is a safety issue.", example: example("safety")).correct)
        let listing = try await scorer.score(output: "safety, ledger or desk", example: example("safety"))
        #expect(!listing.correct && listing.extracted == "")
        let wrong = try await scorer.score(output: "ledger", example: example("safety"))
        #expect(!wrong.correct && wrong.extracted == "ledger")
        // Without a label set, contains is a plain substring test as before.
        #expect(try await ContainsScorer(caseSensitive: false).score(output: "safety, ledger", example: example("safety")).correct)
    }

    @Test func classStatisticsCompareLabelsAsTheScorerDoes() async throws {
        let scorer = ChoiceScorer(labels: ["safety", "desk"])
        var outcomes: [ExampleOutcome] = []
        for (target, output) in [("Safety", "safety"), ("Safety", "desk"), ("Desk", "desk")] {
            outcomes.append(ExampleOutcome(example: example(target), output: output, score: try await scorer.score(output: output, example: example(target)), cached: false))
        }
        let stats = SplitStatistics(outcomes: outcomes, labels: ["safety", "desk"])
        #expect(stats.classes.map(\.label) == ["safety", "desk"])
        #expect(stats.classes[0].support == 2 && stats.classes[0].recall == 0.5)
        #expect(stats.classes[1].recall == 1)
        // exact metrics get classes from a small set of targets, compared case-insensitively.
        #expect(LabelSet.fromTargets(["Yes", "no", "yes", "No"]) == ["Yes", "no"])
        #expect(LabelSet.fromTargets(["1", "2", "3", "4"]) == nil)  // every target distinct: no label set
        var metric = MetricSettings(kind: .exact)
        #expect(metric.classLabels(targets: ["Yes", "no", "yes", "No"]) == ["Yes", "no"])
        metric.kind = .number
        #expect(metric.classLabels(targets: ["1", "1", "2", "2"]).isEmpty)
    }

    @Test func theMetricCommandIsOneProcessForManyRowsAndSurvivesAFloodOfStderr() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("metric-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
        import json, os, sys
        with open("starts.txt", "a") as f: f.write(str(os.getpid()) + "\\n")
        sys.stderr.write("warning: " + "x" * (1024 * 1024) + "\\n"); sys.stderr.flush()
        for raw in sys.stdin:
            row = json.loads(raw)
            if row["output"] == "boom": raise SystemExit("cannot score " + row["id"])
            print(json.dumps({"score": 1.0 if row["output"] == row["expected"] else 0.0}), flush=True)
        """.write(to: directory.appendingPathComponent("score.py"), atomically: true, encoding: .utf8)
        let scorer = CommandScorer(command: ["python3", "score.py"], workingDirectory: directory, passThreshold: 0.5)
        let scores = try await withThrowingTaskGroup(of: (Int, Score).self) { group in
            for index in 0..<40 {
                group.addTask { (index, try await scorer.score(output: index % 2 == 0 ? "a" : "b", example: example("a", id: "e\(index)"))) }
            }
            var all: [Int: Score] = [:]
            for try await (index, score) in group { all[index] = score }
            return all
        }
        #expect(scores.count == 40)
        #expect((0..<40).allSatisfy { scores[$0]?.correct == ($0 % 2 == 0) })
        let starts = try String(contentsOf: directory.appendingPathComponent("starts.txt"), encoding: .utf8)
        #expect(starts.split(separator: "\n").count == 1, "one process for every row: \(starts)")
        // The one-row protocol of older scripts still works: one that reads to the end of its input
        // gets its stdin closed and one row per process.
        try """
        import json, sys
        row = json.loads(sys.stdin.read())
        print(1.0 if row["output"] == row["expected"] else 0.0)
        """.write(to: directory.appendingPathComponent("eof.py"), atomically: true, encoding: .utf8)
        let eof = CommandScorer(command: ["python3", "eof.py"], workingDirectory: directory, passThreshold: 0.5, probeSeconds: 0.5)
        #expect(try await eof.score(output: "a", example: example("a", id: "q1")).correct)
        #expect(try await !eof.score(output: "b", example: example("a", id: "q2")).correct)
        // A crash names the row it crashed on and the program's last words.
        await #expect { _ = try await scorer.score(output: "boom", example: example("a", id: "row-7")) } throws: { error in
            "\(error)".contains("row-7") && "\(error)".contains("cannot score row-7")
        }
    }
}
