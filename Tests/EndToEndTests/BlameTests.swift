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
}
