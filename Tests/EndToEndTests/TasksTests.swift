import FakeLLMServer
import Foundation
import NIOCore
import Testing
import TestSupport
import Yams

/// Two prompts in one repository (sample-repo/ as it is: the router `.md` task and the reviews
/// `.prompt.yml` task), each optimized with --task, read back per task and with the git CLI.
@Suite("tasks: several prompts in one repository")
struct TasksTests {
    /// The reviews of sample-repo's .prompt.yml and their expected labels.
    static let reviews: [String: String] = {
        let text = (try? String(contentsOf: sampleRepoWithTasks.appendingPathComponent("prompts/reviews.prompt.yml"), encoding: .utf8)) ?? ""
        let rows = (try? Yams.compose(yaml: text))??.mapping?["testData"]?.sequence ?? []
        var truth: [String: String] = [:]
        for row in rows {
            if let review = row.mapping?["review"]?.string, let expected = row.mapping?["expected"]?.string { truth[review] = expected }
        }
        return truth
    }()

    /// The fake model for both tasks: the router as in OptimizeCommandTests; a review is labelled
    /// in the expected lowercase only when the prompt shows worked examples, else capitalized
    /// (which the file's `equals` evaluator fails, as it fails the real 0.5B model).
    static func server(latency: TimeAmount = .zero) -> FakeLLMServer {
        FakeLLMServer(latency: latency, threads: 4, script: { request in
            let content = request.lastUserMessage
            guard content.hasPrefix("Review:") else { return OptimizeCommandTests.answer(request) }
            guard let review = reviews.keys.first(where: { content.contains($0) }) else { return .completion("Positive") }
            let shown = request.messages.contains { $0.role == "assistant" }
            return .completion(shown ? reviews[review]! : reviews[review]!.capitalized)
        })
    }

    func withTasksRepository<T>(_ body: (URL) throws -> T) throws -> T {
        try withTemporaryDirectory { temp in
            let repo = temp.appendingPathComponent("prompts-repo")
            try grad("init", repo.path, "--from", sampleRepoWithTasks.path, in: temp)
            return try body(repo)
        }
    }

    func head(_ repo: URL) throws -> String { try git("rev-parse", "main", in: repo).trimmingCharacters(in: .whitespacesAndNewlines) }

    @Test("each task optimized with --task or its path; log, show, diff, blame, check --against, eval and labels per task")
    func twoTasks() throws {
        #expect(Self.reviews.count == 28)
        let server = Self.server()
        try server.start()
        defer { server.stop() }
        try withTasksRepository { repo in
            let seed = try head(repo)
            let seedYAML = try readFile("prompts/reviews.prompt.yml", in: repo)
            // With two tasks a command that needs one names them.
            try expectCleanFailure(["optimize"] + fakeModel(server), in: repo, mentioning: "several tasks (reviews, router); pass --task NAME")

            try grad(["optimize", "--task", "router", "--steps", "1", "--variants", "1", "--operators", "rewrite"] + fakeModel(server), in: repo)
            let routerMerge = try head(repo)
            try grad(["optimize", "prompts/reviews.prompt.yml", "--steps", "1", "--variants", "1", "--operators", "demos"] + fakeModel(server), in: repo)
            let reviewsMerge = try head(repo)
            #expect(routerMerge != seed && reviewsMerge != routerMerge)
            #expect(try git("log", "-1", "--format=%(trailers:key=Grad-Task,valueonly)", reviewsMerge, in: repo).contains("reviews"))

            // Each step touched its own prompt file only.
            #expect(try git("diff", "--name-only", seed, routerMerge, in: repo) == "prompts/router.md\n")
            #expect(try git("diff", "--name-only", routerMerge, reviewsMerge, in: repo) == "prompts/reviews.prompt.yml\n")
            // The .prompt.yml diff changes message lines only: the bytes before `messages:` and
            // from `testData:` on are the seed's, and a YAML library still reads the file.
            let optimized = try git("show", "main:prompts/reviews.prompt.yml", in: repo)
            #expect(optimized.hasPrefix(seedYAML.components(separatedBy: "messages:")[0] + "messages:"))
            #expect(optimized.hasSuffix("testData:" + seedYAML.components(separatedBy: "testData:")[1]))
            let messages = try #require(try Yams.compose(yaml: optimized)?.mapping?["messages"]?.sequence)
            #expect(messages.count > 2 && messages.last?.mapping?["content"]?.string?.contains("{{review}}") == true)
            let diff = try git("diff", "-U0", seed, "main", "--", "prompts/reviews.prompt.yml", in: repo)
            for line in lines(diff) where line.hasPrefix("+") && !line.hasPrefix("+++") {
                #expect(line.hasPrefix("+  ") || line == "+", "a changed line outside the messages: \(line)")
            }

            // History per task: each log shows its own run only.
            let runs = try JSONSerialization.jsonObject(with: Data(try grad("runs", "--json", in: repo).utf8)) as? [[String: Any]] ?? []
            let routerRun = try #require(runs.first { $0["task"] as? String == "router" }?["run"] as? String)
            let reviewsRun = try #require(runs.first { $0["task"] as? String == "reviews" }?["run"] as? String)
            let reviewsLog = try grad("log", "prompts/reviews.prompt.yml", in: repo)
            #expect(reviewsLog.contains(reviewsRun) && !reviewsLog.contains(routerRun))
            let routerLog = try grad("log", "--task", "router", in: repo)
            #expect(routerLog.contains(routerRun) && !routerLog.contains(reviewsRun))
            #expect(try grad("runs", "--task", "reviews", in: repo).contains(reviewsRun))
            #expect(!(try grad("runs", "--task", "reviews", in: repo)).contains(routerRun))

            // show, diff and blame read the task's prompt.
            #expect(try grad("show", "--task", "reviews", reviewsMerge, in: repo).contains("Prompt (prompts/reviews.prompt.yml)"))
            #expect(try grad("diff", "--task", "reviews", routerMerge, reviewsMerge, in: repo).contains("prompts/reviews.prompt.yml"))
            let blamed = try JSONSerialization.jsonObject(with: Data(try grad("blame", "--task", "reviews", "--json", in: repo).utf8)) as? [[String: Any]]
            #expect(blamed?.count == lines(optimized).count)
            #expect(blamed?.contains { $0["run"] as? String == reviewsRun } == true)

            // Notes are per task: the router's holdout results and the reviews' never overwrite each other.
            let reviewsNote = try git("notes", "--ref=grad-task/reviews", "show", reviewsMerge, in: repo)
            #expect(reviewsNote.contains("\"split\" : \"holdout\""))
            #expect(try git("notes", "--ref=grad-task/router", "show", routerMerge, in: repo).contains("\"metric\" : \"choice\""))

            // check --against is the regression gate of that task's prompt.
            let gate = try grad(["check", "--task", "reviews", "--against", seed, "main"] + fakeModel(server), in: repo)
            #expect(gate.contains("holdout"))
            // eval --json names each evaluator's pass rate as the file names it.
            let eval = try grad(["eval", "--task", "reviews", "--split", "test", "--json"] + fakeModel(server), in: repo)
            let report = try #require(try JSONSerialization.jsonObject(with: Data(eval.utf8)) as? [String: Any])
            let evaluators = try #require(report["evaluators"] as? [[String: Any]])
            #expect(evaluators.first?["name"] as? String == "sentiment matches")
            #expect(evaluators.first?["passRate"] as? Double == 1.0)
            #expect((report["summary"] as? [String: Any])?["totalTests"] as? Int == 7)

            // The report of a task's newest run.
            try grad("report", "--task", "reviews", "-o", "reviews.html", in: repo)
            let html = try readFile("reviews.html", in: repo)
            #expect(html.contains(reviewsRun) && !html.contains(routerRun))
            try FileManager.default.removeItem(at: repo.appendingPathComponent("reviews.html"))

            // Labels are per task.
            try grad("label", "set", "production", "main", "--task", "reviews", in: repo)
            #expect(try git("for-each-ref", "--format=%(refname)", "refs/grad/task-labels/", in: repo) == "refs/grad/task-labels/reviews/production\n")
            #expect(try grad("label", "list", "--task", "reviews", in: repo).contains("production"))
            #expect(!(try grad("label", "list", "--task", "router", in: repo)).contains("production"))
            // A revert needs no --task: it changes the reverted step's file, and shows in that task's log.
            #expect(try grad("revert", reviewsMerge, in: repo).contains("Reverted"))
            #expect(try git("show", "main:prompts/reviews.prompt.yml", in: repo) == seedYAML)
            #expect(try grad("log", "--task", "reviews", "-n", "1", in: repo).contains("Revert"))
            #expect(!(try grad("log", "--task", "router", "-n", "1", in: repo)).contains("Revert"))
            #expect(try git("fsck", "--no-progress", in: repo).isEmpty)
        }
    }

    @Test("a .prompty task: optimized in place, its front matter byte for byte, its inputs' defaults filled in")
    func promptyTask() throws {
        let server = Self.server()
        try server.start()
        defer { server.stop() }
        try withTasksRepository { repo in
            let frontMatter = """
                ---
                # Prompty front matter: kept as written by every step.
                name: Triage
                description: Routes a support message to a queue
                model:
                  api: chat
                  parameters:
                    max_tokens: 24
                inputs:
                  message:
                    type: string
                  channel:
                    type: string
                    default: email
                ---

                """
            try writeFile(frontMatter + "system:\nYou route {{channel}} support messages.\n\nuser:\nMessage: {{message}}\nQueue:\n",
                          "prompts/triage.prompty", in: repo)
            var config = try readFile("grad.toml", in: repo)
            config += """

                [tasks.triage]
                prompt = "prompts/triage.prompty"
                train = "data/train.jsonl"
                holdout = "data/holdout.jsonl"
                target = "label"
                [tasks.triage.metric]
                kind = "choice"
                labels = ["safety", "retention", "field", "ledger", "desk"]

                """
            try writeFile(config, "grad.toml", in: repo)
            try git("add", "-A", in: repo)
            try git("commit", "-q", "-m", "Add the triage task", in: repo)
            let seed = try head(repo)
            try grad(["optimize", "--task", "triage", "--steps", "1", "--variants", "1", "--operators", "rewrite"] + fakeModel(server), in: repo)
            #expect(try head(repo) != seed, "the step was accepted")
            let optimized = try git("show", "main:prompts/triage.prompty", in: repo)
            #expect(optimized.hasPrefix(frontMatter), "\(optimized)")
            #expect(optimized.contains("RULES") && optimized.contains("system:\nYou route {{channel}} support messages."))
            #expect(try git("diff", "--name-only", seed, "main", in: repo) == "prompts/triage.prompty\n")
            // The input without a column in the data (channel) was filled from its default.
            #expect(server.requests.contains { $0.messages.first?.content == "You route email support messages." })
        }
    }

    @Test("two optimize runs on two tasks at the same time both merge; git fsck is clean and each log shows its own run")
    func concurrentRuns() throws {
        let server = Self.server(latency: .milliseconds(20))
        try server.start()
        defer { server.stop() }
        try withTasksRepository { repo in
            func start(_ arguments: [String]) throws -> (Process, Pipe) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: gitGradBinary)
                process.arguments = arguments + fakeModel(server)
                process.currentDirectoryURL = repo
                let pipe = Pipe()
                process.standardOutput = pipe
                process.standardError = pipe
                try process.run()
                return (process, pipe)
            }
            let router = try start(["optimize", "--task", "router", "--steps", "2", "--variants", "1", "--operators", "rewrite"])
            let reviews = try start(["optimize", "--task", "reviews", "--steps", "2", "--variants", "1", "--operators", "demos"])
            let routerOutput = String(decoding: router.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let reviewsOutput = String(decoding: reviews.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            router.0.waitUntilExit()
            reviews.0.waitUntilExit()
            #expect(router.0.terminationStatus == 0, "\(routerOutput)")
            #expect(reviews.0.terminationStatus == 0, "\(reviewsOutput)")
            let merges = try git("log", "--merges", "--format=%(trailers:key=Grad-Task,valueonly)", "main", in: repo)
            #expect(merges.contains("router") && merges.contains("reviews"), "\(merges)")
            #expect(try git("fsck", "--no-progress", in: repo).isEmpty)
            #expect(try git("status", "--porcelain", in: repo).isEmpty, "the working tree holds both merges")
            let runs = try JSONSerialization.jsonObject(with: Data(try grad("runs", "--json", in: repo).utf8)) as? [[String: Any]] ?? []
            for task in ["router", "reviews"] {
                let run = try #require(runs.first { $0["task"] as? String == task }?["run"] as? String)
                #expect(runs.first { $0["run"] as? String == run }?["status"] as? String == "finished")
                let log = try grad("log", "--task", task, in: repo)
                #expect(log.contains(run))
                #expect(log.contains("accepted"))
            }
        }
    }

    @Test("push and pull carry each task's notes and labels; notes of both clones are merged per task")
    func sharing() throws {
        let server = Self.server()
        try server.start()
        defer { server.stop() }
        try withTasksRepository { repo in
            let parent = repo.deletingLastPathComponent()
            let remote = parent.appendingPathComponent("remote.git").path
            try git("init", "-q", "--bare", "-b", "main", remote, in: parent)
            try git("push", "-q", remote, "main", in: repo)
            try git("clone", "-q", remote, "a", in: parent)
            try git("clone", "-q", remote, "b", in: parent)
            let (a, b) = (parent.appendingPathComponent("a"), parent.appendingPathComponent("b"))
            try grad(["optimize", "--task", "reviews", "--steps", "1", "--variants", "1", "--operators", "demos"] + fakeModel(server), in: a)
            try grad("label", "set", "production", "main", "--task", "reviews", in: a)
            try grad("push", in: a)
            for pattern in ["refs/notes/grad-task/reviews", "refs/grad/task-labels/reviews/production"] {
                #expect(!(try git("--git-dir", remote, "for-each-ref", pattern, in: a)).isEmpty, "\(pattern) on the remote")
            }
            // b evaluated the seed for the reviews task meanwhile: its note and a's are merged.
            try grad(["eval", "--task", "reviews", "--split", "test"] + fakeModel(server), in: b)
            try grad("pull", in: b)
            #expect(try git("rev-parse", "main", in: b) == (try git("rev-parse", "main", in: a)))
            #expect(try git("notes", "--ref=grad-task/reviews", "show", "main", in: b)
                == (try git("notes", "--ref=grad-task/reviews", "show", "main", in: a)))
            let seed = try git("rev-list", "--max-parents=0", "main", in: b).trimmingCharacters(in: .whitespacesAndNewlines)
            let seedNote = try git("notes", "--ref=grad-task/reviews", "show", seed, in: b)
            #expect(seedNote.contains("\"split\" : \"test\"") && seedNote.contains("\"split\" : \"holdout\""), "\(seedNote)")
            #expect(try grad("label", "show", "production", "--task", "reviews", in: b).contains("label production"))
            #expect(try runGit(["fsck", "--full"], in: b).status == 0)
        }
    }

    @Test("malformed .prompt.yml files get one line naming file and line or key, and nothing is written")
    func malformedFiles() throws {
        let server = Self.server()
        try server.start()
        defer { server.stop() }
        try withTasksRepository { repo in
            let good = try readFile("prompts/reviews.prompt.yml", in: repo)
            let cases: [(String, String)] = [
                (good.replacingOccurrences(of: "content: You read app store reviews.", with: "content: \"You read app store reviews."),
                 "prompts/reviews.prompt.yml:"),
                (good.replacingOccurrences(of: "    string:\n", with: "    regex:\n"), "prompts/reviews.prompt.yml:75: evaluators[0]: unknown evaluator kind 'regex'"),
                (good.replacingOccurrences(of: "  - review: Setup took", with: "  - text: Setup took"), "missing field 'review'"),
                (good.replacingOccurrences(of: "  - role: system", with: "  - role: narrator"), "prompts/reviews.prompt.yml:11: messages[0]: unknown role 'narrator'"),
            ]
            for (text, fragment) in cases {
                try writeFile(text, "prompts/reviews.prompt.yml", in: repo)
                try commitAll(repo, "Broken prompt file")
                try expectCleanFailure(["optimize", "--task", "reviews"] + fakeModel(server), in: repo, mentioning: fragment)
                try expectCleanFailure(["check"], in: repo, mentioning: fragment)
                try git("reset", "-q", "--hard", "HEAD~1", in: repo)
            }
        }
    }
}
