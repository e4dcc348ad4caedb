import FakeLLMServer
import Foundation
import Testing

@Suite("git-grad blame")
struct BlameTests {
    @Test("a line an accepted step wrote is the step's (run, step, operator, merge, gradient); a hand-edited line is its commit's")
    func attributesStepsAndHandEdits() throws {
        let server = OptimizeCommandTests.server()
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            try grad(["optimize", "--steps", "1", "--variants", "2"] + fakeModel(server), in: repo)
            let merge = try git("rev-list", "--merges", "-1", "main", in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
            // The candidate commit on the step's branch that wrote the prompt, read with the git CLI.
            let candidate = try git("log", "-1", "--format=%H", "\(merge)^2", "--", "prompts/router.md", in: repo)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let run = try git("log", "-1", "--format=%(trailers:key=Grad-Run,valueonly)", candidate, in: repo)
                .trimmingCharacters(in: .whitespacesAndNewlines)

            // A hand edit of one line after the run.
            try writeFile(try readFile("prompts/router.md", in: repo).replacingOccurrences(of: "Queue:", with: "Queue name:"),
                          "prompts/router.md", in: repo)
            try git("commit", "-q", "-am", "Clearer answer cue", in: repo)  // runGit sets the author: Test Author
            let edit = try git("rev-parse", "HEAD", in: repo).trimmingCharacters(in: .whitespacesAndNewlines)

            let json = try grad("blame", "--json", in: repo)
            let blamed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
            #expect(blamed.count == lines(try readFile("prompts/router.md", in: repo)).count)
            let rules = try #require(blamed.first { ($0["text"] as? String)?.hasPrefix("RULES:") == true })
            #expect(rules["commit"] as? String == candidate)
            #expect(rules["run"] as? String == run)
            #expect(rules["step"] as? Int == 1)
            #expect(rules["mergedBy"] as? String == merge)
            #expect((rules["gradient"] as? String)?.contains("cancellations go to retention") == true)
            let cue = try #require(blamed.first { ($0["text"] as? String) == "Queue name:" })
            #expect(cue["commit"] as? String == edit)
            #expect(cue["author"] as? String == "Test Author")
            #expect(cue["summary"] as? String == "Clearer answer cue")
            #expect(cue["run"] == nil)

            let text = try grad("blame", "prompts/router.md", "--rev", "main", in: repo)
            #expect(text.contains("step 1"))
            #expect(text.contains("Test Author: Clearer answer cue"))
            #expect(text.contains("run \(run), step 1"))
            #expect(text.contains("merged in \(merge.prefix(7))"))
            #expect(text.contains("gradient: "))
        }
    }

    /// A chat-structured prompt (role markers, rules, worked-example turns) is blamed line by line:
    /// the turns a `demos` step added are that step's, the role markers kept from the seed are not.
    @Test("blame on a chat-structured prompt attributes the worked-example turns to the demos step")
    func chatStructuredPrompt() throws {
        // A fake model that answers right only when shown worked examples (assistant turns).
        let server = FakeLLMServer(threads: 2) { request in
            let content = request.lastUserMessage
            guard request.messages.contains(where: { $0.role == "assistant" }),
                  let message = OptimizeCommandTests.truth.keys.first(where: { content.contains($0) }) else { return .completion("field") }
            return .completion(OptimizeCommandTests.truth[message]!)
        }
        try server.start()
        defer { server.stop() }
        try withSampleRepository { repo in
            let seed = try readFile("prompts/router.md", in: repo)
            try writeFile("system:\nYou route support messages.\n\nuser:\n" + seed, "prompts/router.md", in: repo)
            try git("commit", "-q", "-am", "Chat-structured prompt", in: repo)
            let chat = try git("rev-parse", "HEAD", in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
            try grad(["optimize", "--steps", "1", "--variants", "1", "--operators", "demos"] + fakeModel(server), in: repo)
            let merge = try git("rev-list", "--merges", "-1", "main", in: repo).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!merge.isEmpty, "the demos step was accepted")
            let blamed = try #require(try JSONSerialization.jsonObject(with: Data(try grad("blame", "--json", in: repo).utf8)) as? [[String: Any]])
            #expect(blamed.count == (try readFile("prompts/router.md", in: repo)).split(separator: "\n", omittingEmptySubsequences: false).count - 1)
            let assistantTurns = blamed.filter { $0["text"] as? String == "assistant:" }
            #expect(!assistantTurns.isEmpty)
            for turn in assistantTurns {
                #expect(turn["operator"] as? String == "demos")
                #expect(turn["mergedBy"] as? String == merge)
            }
            let system = try #require(blamed.first { $0["text"] as? String == "You route support messages." })
            #expect(system["commit"] as? String == chat)
        }
    }
}
