import Evaluation
import FakeLLMServer
import Foundation
import GitKit
import LLM
import Optimizer
import PromptRepo
import Testing

/// The operators against the fake server. The toy task's seed prompt gets the odd items wrong; in
/// the script below a rules list containing RULEX fixes items n with n % 4 == 1, and any worked
/// example fixes those with n % 4 == 3, so a rules candidate and a demos candidate fix different
/// holdout examples and only their merge fixes all.
@Suite struct OperatorTests {
    let task = ToyTask()

    static func script(rules: String = "- If the item is odd, answer a (RULEX).\n- If the item number is divisible by three, answer b.")
        -> @Sendable (FakeLLMServer.RecordedRequest) -> FakeLLMServer.Reply
    {
        { request in
            let last = request.lastUserMessage
            if last.contains("new rules") { return .completion(rules) }
            if last.contains("Explain what in the prompt caused") { return .completion("- Say which items are b.") }
            if last.contains("Rewrite the prompt below") {
                return .completion("<summary>always a</summary>\n<prompt>\nALWAYSA Label the item.\n\nItem: {{text}}\n\nLabel:\n</prompt>")
            }
            guard let match = last.firstMatch(of: /item #(\d+)/), let n = Int(match.1) else { return .completion("a") }
            let label = n % 3 == 0 ? "b" : "a"
            let wrong = label == "a" ? "b" : "a"
            if request.allContent.contains("ALWAYSA") { return .completion("a") }
            let system = request.messages.first { $0.role == "system" }?.content ?? ""
            let hasDemos = request.messages.contains { $0.role == "assistant" }
            let correct = n % 2 == 0 || (system.contains("RULEX") && n % 4 == 1) || (hasDemos && n % 4 == 3)
            return .completion(correct ? label : wrong)
        }
    }

    func trailers(_ rev: String, in repo: URL) throws -> String { try git(["log", "-1", "--format=%(trailers)", rev], in: repo) }

    @Test func rulesOperatorAddsOneLineRulesAndRecordsItsOperator() async throws {
        let directory = try TemporaryDirectory()
        // The whole train set as the minibatch: the rules are checked on it, and RULEX fixes items 1, 5 and 9.
        let repo = try task.makeRepository(in: directory, search: "operators = [\"rules\"]\nbatch_size = 12")
        let server = FakeLLMServer(script: Self.script())
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        #expect(summary.accepted == 1)
        #expect(summary.acceptedSteps.first?.operatorName == "rules")
        let branch = "grad/\(summary.run)/s1v1"
        let candidate = try git(["show", "\(branch)~1:prompts/p.md"], in: repo)
        let file = PromptFile.parse(candidate)
        #expect(file.rules == ["If the item is odd, answer a (RULEX).", "If the item number is divisible by three, answer b."])
        #expect(file.template == ToyTask.seedPrompt.trimmingCharacters(in: .newlines))
        #expect(try trailers("\(branch)~1", in: repo).contains("Operator: rules"))
        #expect(try trailers("main", in: repo).contains("Operator: rules"))
        // The gradient of a rules candidate is the rules themselves.
        #expect(try git(["log", "-1", "--format=%b", "\(branch)~1"], in: repo).contains("RULEX"))
        // No whole-prompt rewrite was asked for.
        #expect(!server.requests.contains { $0.lastUserMessage.contains("Rewrite the prompt below") })
    }

    @Test func demosOperatorPlacesTrainRowsAndListsTheirIDs() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory, search: "operators = [\"demos\"]\nvariants = 1")
        let server = FakeLLMServer(script: Self.script())
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        let branch = "grad/\(summary.run)/s1v1"
        let trailerText = try trailers("\(branch)~1", in: repo)
        #expect(trailerText.contains("Operator: demos"))
        let ids = try #require(trailerText.split(separator: "\n").first { $0.hasPrefix("Demos: ") }).dropFirst("Demos: ".count)
            .split(separator: " ").map(String.init)
        #expect(!ids.isEmpty)
        #expect(ids.allSatisfy { $0.hasPrefix("t") }, "a demo came from outside train: \(ids)")
        let file = PromptFile.parse(try git(["show", "\(branch)~1:prompts/p.md"], in: repo))
        #expect(file.demos.count == ids.count)
        #expect(Set(file.demos.map(\.assistant)) == ["a", "b"], "demos should cover both classes")
        // No model call wrote them: the optimizer model was never asked anything.
        #expect(!server.requests.contains { $0.lastUserMessage.contains("new rules") || $0.lastUserMessage.contains("Explain what") })
        #expect(summary.accepted == 1)
    }

    @Test("glossary: one line per label from train rows, once in the system message, and only while the prompt has none")
    func glossaryOperatorWritesOneLinePerLabel() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory, search: "operators = [\"glossary\"]\nvariants = 1\nsteps = 2")
        let server = FakeLLMServer(script: { request in
            let last = request.lastUserMessage
            if last.contains("are about") {
                return .completion(last.contains("answered \"a\"") ? "- Items with an odd number (GLOSSX)." : "Items whose number divides by three.")
            }
            // The glossary teaches what RULEX teaches in the base script.
            guard let match = last.firstMatch(of: /item #(\d+)/), let n = Int(match.1) else { return .completion("a") }
            let label = n % 3 == 0 ? "b" : "a"
            let system = request.messages.first { $0.role == "system" }?.content ?? ""
            let correct = n % 2 == 0 || (system.contains("GLOSSX") && n % 4 == 1)
            return .completion(correct ? label : (label == "a" ? "b" : "a"))
        })
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        let file = PromptFile.parse(try git(["show", "grad/\(summary.run)/s1v1~1:prompts/p.md"], in: repo))
        #expect(file.glossary == ["a: Items with an odd number (GLOSSX).", "b: Items whose number divides by three."])
        #expect(file.system?.hasPrefix(PromptFile.glossaryHeading) == true)
        #expect(file.template == ToyTask.seedPrompt.trimmingCharacters(in: .newlines))
        #expect(try trailers("grad/\(summary.run)/s1v1~1", in: repo).contains("Operator: glossary"))
        // Holdout rows are never shown to the model that writes the glossary.
        let asked = server.requests.filter { $0.lastUserMessage.contains("are about") }
        #expect(asked.count == 2)
        #expect(!asked.contains { $0.lastUserMessage.firstMatch(of: /item #1\d\d\b/) != nil })
        // Accepted in step 1, the glossary is not proposed again in step 2.
        #expect(summary.accepted == 1)
        #expect(try git(["for-each-ref", "refs/heads/grad/\(summary.run)/s2v1"], in: repo).isEmpty)
    }

    @Test("screening: every candidate scored on train rows, only the best `verify` go to the holdout, with Screened and Score-Screen")
    func screeningSendsTheBestToTheHoldout() async throws {
        let directory = try TemporaryDirectory()
        // A larger train set so there are rows outside the minibatch to screen on.
        var bigger = task
        bigger.trainCount = 40
        let repo = try bigger.makeRepository(
            in: directory, search: "operators = [\"rules\", \"demos\", \"rewrite\"]\nvariants = 3\nscreen_rows = 20\nverify = 1\nbatch_size = 12")
        let server = FakeLLMServer(script: Self.script())
        try server.start()
        defer { server.stop() }
        let (summary, events) = try await runOptimizer(repo: repo, server: server)
        let branches = lines(try git(["for-each-ref", "--format=%(refname:short)", "refs/heads/grad/\(summary.run)/"], in: repo))
        #expect(branches.count == 1, "\(branches)")
        // The step says where its calls went: proposing (the rules and their check), screening, the holdout.
        let spent = events.compactMap { event -> String? in if case .message(let line) = event, line.contains("model calls:") { return line } else { return nil } }
        #expect(spent.count == 1)
        #expect(spent.first?.wholeMatch(of: /step 1: model calls: [1-9]\d* proposing .*, [1-9]\d* screening, [1-9]\d* verifying on the holdout/) != nil, "\(spent)")
        let verified = try #require(branches.first)
        let trailerText = try trailers("\(verified)~1", in: repo)
        #expect(trailerText.contains("Screened: 3"))
        #expect(trailerText.contains("Score-Screen: "))
        #expect(trailerText.contains("train rows"))
        // The rewrite that answers `a` everywhere fixes nothing on train and never reaches the holdout.
        #expect(!trailerText.contains("Operator: rewrite"))
        #expect(try git(["log", "-1", "--format=%(trailers:key=Grad-Settings,valueonly)", "\(verified)~1"], in: repo).contains("verify=1"))
    }

    @Test func rulesThatFixNothingOnTheirOwnMinibatchNeverReachTheHoldout() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory, search: #"operators = ["rules"]"#)
        // Rules without the word the fake task model obeys: they change no answer.
        let server = FakeLLMServer(script: Self.script(rules: "- If the item is odd, answer a.\n- If the item number is divisible by three, answer b."))
        try server.start()
        defer { server.stop() }
        let (summary, events) = try await runOptimizer(repo: repo, server: server)
        #expect(summary.accepted == 0)
        #expect(try git(["for-each-ref", "--format=%(refname)", "refs/heads/grad/"], in: repo).isEmpty, "no candidate branch expected")
        let lines = events.compactMap { event -> String? in if case .message(let line) = event { return line } else { return nil } }
        #expect(lines.contains { $0.contains("[rules]: not proposed") && $0.contains("fix 0 and break 0") }, "\(lines)")
        // One line for one event: the check's reason, not also "had nothing to propose".
        #expect(!lines.contains { $0.contains("nothing to propose") }, "\(lines)")
        // No holdout test was spent on them.
        #expect(!events.contains { if case .verdict = $0 { return true } else { return false } })
    }

    @Test func demosNeverComeFromHoldoutOrTestRowsAndAreCapped() async throws {
        let row = { (id: String, text: String, label: String) in Example(id: id, fields: ["text": text, "label": label], target: label, source: "t:1") }
        let train = (1...30).map { row("t\($0)", "item #\($0)", $0 % 3 == 0 ? "b" : "a") }
            + [row("h101", "item #101", "a"), row("t-dup", "ITEM #102 ", "b")]
        let errors = [train[30], train[31], train[0]].map { example in
            ExampleOutcome(example: example, output: "x", score: Score(extracted: "x", correct: false, value: 0), cached: false)
        }
        var search = SearchSettings()
        search.maxDemos = 4
        let input = OperatorInput(
            step: 1, variant: 1, current: ToyTask.seedPrompt, promptPath: "p.md", batch: errors, selected: errors,
            shownTargets: errors.map(\.example.target), gradient: nil, train: train, excludedIDs: ["h101", "h102"],
            excludedInputs: ["item #102"], inputFields: ["text"], labels: ["a", "b"], search: search)
        for variant in 1...5 {
            var input = input
            input.variant = variant
            let candidate = try #require(try await DemosOperator().propose(input))
            let ids = candidate.trailers.first { $0.key == TrailerKey.demos }!.value.split(separator: " ").map(String.init)
            #expect(!ids.contains("h101") && !ids.contains("t-dup"), "holdout/test row became a demo: \(ids)")
            #expect(ids.count == 4)
            #expect(ids.contains("t1"), "the step's error should be among the demos: \(ids)")
            let file = PromptFile.parse(candidate.text)
            #expect(!file.demos.contains { $0.user.contains("#101") || $0.user.contains("#102") })
            #expect(Set(file.demos.map { $0.assistant }) == ["a", "b"])
        }
    }

    @Test("when the caps leave a choice, demos gives up to half the places left to the classes the prompt confused, side by side")
    func demosFavourTheConfusedClasses() async throws {
        let labels = ["a", "b", "c", "d", "e"]
        let row = { (n: Int) in
            Example(id: "t\(n)", fields: ["text": "item #\(n)", "label": labels[n % 5]], target: labels[n % 5], source: "t:\(n)")
        }
        let train = (0..<50).map(row)
        let outcome = { (example: Example, answer: String) in
            ExampleOutcome(example: example, output: answer, score: Score(extracted: answer, correct: answer == example.target, value: 0), cached: false)
        }
        // The prompt answers c for d and d for c; a and b it gets right.
        let batch = [outcome(train[2], "d"), outcome(train[7], "d"), outcome(train[3], "c"), outcome(train[0], "a"), outcome(train[1], "b")]
        func propose(maxDemos: Int, variant: Int) async throws -> ProposedCandidate {
            var search = SearchSettings()
            search.maxDemos = maxDemos
            let input = OperatorInput(
                step: 1, variant: variant, current: ToyTask.seedPrompt, promptPath: "p.md", batch: batch, selected: batch.filter { !$0.correct },
                shownTargets: batch.filter { !$0.correct }.map(\.example.target), gradient: nil, train: train, excludedIDs: [],
                excludedInputs: [], inputFields: ["text"], labels: labels, search: search)
            return try #require(try await DemosOperator().propose(input))
        }
        for variant in 1...4 {
            let candidate = try await propose(maxDemos: 10, variant: variant)
            let shown = PromptFile.parse(candidate.text).demos.map(\.assistant)
            #expect(shown.count == 10)
            // The three errors, then half of the seven places left for c and d: six of ten.
            #expect(shown.filter { $0 == "c" || $0 == "d" }.count == 6, "\(shown)")
            #expect(Set(shown) == Set(labels), "every class keeps a worked example: \(shown)")
            #expect(candidate.feedback.contains("the classes the prompt confused on the minibatch come first (c 3, d 3)"))
        }
        // Where every row fits, nothing is chosen for them, and the feedback does not claim it.
        let all = try await propose(maxDemos: 64, variant: 1)
        #expect(PromptFile.parse(all.text).demos.count == 50)
        #expect(!all.feedback.contains("confused"))
    }

    @Test("demos by default shows every train row that fits, and once it does, says that its candidate is another order of them")
    func demosShowManyRowsThenReorderThem() async throws {
        let row = { (id: String, text: String, label: String) in Example(id: id, fields: ["text": text, "label": label], target: label, source: "t:1") }
        let train = (1...20).map { row("t\($0)", "item #\($0)", $0 % 3 == 0 ? "b" : "a") }
        let outcome = { (example: Example, correct: Bool) in
            ExampleOutcome(example: example, output: correct ? example.target : "x", score: Score(extracted: "x", correct: correct, value: correct ? 1 : 0), cached: false)
        }
        func input(step: Int, current: String, batch: [ExampleOutcome]) -> OperatorInput {
            OperatorInput(
                step: step, variant: 1, current: current, promptPath: "p.md", batch: batch, selected: batch.filter { !$0.correct },
                shownTargets: batch.filter { !$0.correct }.map(\.example.target), gradient: nil, train: train, excludedIDs: [],
                excludedInputs: [], inputFields: ["text"], labels: ["a", "b"], search: SearchSettings())
        }
        let first = try #require(try await DemosOperator().propose(input(step: 1, current: ToyTask.seedPrompt, batch: [outcome(train[0], false)])))
        #expect(PromptFile.parse(first.text).demos.count == 20, "every train row fits the default caps")
        // Step 2: the prompt shows every row already; the candidate shows the same rows in another
        // order (order alone moved the sample's holdout) and says so.
        let second = try #require(try await DemosOperator().propose(input(step: 2, current: first.text, batch: [outcome(train[4], false), outcome(train[5], true)])))
        let (before, after) = (PromptFile.parse(first.text).demos, PromptFile.parse(second.text).demos)
        #expect(Set(after.map(\.user)) == Set(before.map(\.user)))
        #expect(after.map(\.user) != before.map(\.user))
        #expect(second.summary == "Worked examples: the same 20 from train in another order")
    }

    @Test("after the holdout refuses a set of worked examples that grew the prompt, demos tries half as many, read back from git")
    func demosHalveTheRowsAfterTheHoldoutRefusesMore() async throws {
        let directory = try TemporaryDirectory()
        let repo = try ToyTask(trainCount: 24).makeRepository(in: directory, search: "operators = [\"demos\"]\nvariants = 1\nsteps = 3")
        // The fake task model reads up to six worked examples well and is lost with more, as the
        // 0.5B model was with every train row of BBH object_counting.
        let server = FakeLLMServer(script: { request in
            guard let match = request.lastUserMessage.firstMatch(of: /item #(\d+)/), let n = Int(match.1) else { return .completion("- Say which items are b.") }
            let (label, demos) = (n % 3 == 0 ? "b" : "a", request.messages.filter { $0.role == "assistant" }.count)
            let correct = demos == 0 ? n % 2 == 0 : demos <= 6
            return .completion(correct ? label : (label == "a" ? "b" : "a"))
        })
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        func shown(_ step: Int) throws -> Int {
            let text = try trailers("grad/\(summary.run)/s\(step)v1~1", in: repo)
            return try #require(text.split(separator: "\n").first { $0.hasPrefix("Demos: ") }).split(separator: " ").count - 1
        }
        func verdict(_ step: Int) throws -> String {
            try git(["log", "-1", "--format=%(trailers:key=Verdict,valueonly)", "grad/\(summary.run)/s\(step)v1"], in: repo)
        }
        // Every train row, refused; half of them, refused; half again, accepted and merged.
        #expect(try shown(1) == 24 && verdict(1).hasPrefix("rejected"))
        #expect(try shown(2) == 12 && verdict(2).hasPrefix("rejected"))
        #expect(try shown(3) == 6 && verdict(3).hasPrefix("accepted"))
        #expect(try git(["log", "-1", "--format=%B", "grad/\(summary.run)/s3v1~1"], in: repo)
            .contains("The holdout refused a set of 12 worked examples in this run; this one shows at most 6."))
        #expect(PromptFile.parse(try git(["show", "main:prompts/p.md"], in: repo)).demos.count == 6)
        #expect(summary.accepted == 1 && summary.finalHoldout == 1.0)
    }

    @Test("a worked-example set outranked by a better one of its step is not a refusal: demos does not halve after it")
    func anOutrankedSetDoesNotHalveTheRows() async throws {
        let directory = try TemporaryDirectory()
        let repo = try ToyTask(trainCount: 24).makeRepository(
            in: directory, search: "operators = [\"demos\"]\nvariants = 2\nsteps = 2\nmax_demos = 8")
        // With any worked examples the fake task model gets every holdout row right, so both sets
        // of step 1 pass and tie (v1 wins, v2 is outranked); the odd train rows stay wrong, so
        // step 2 has errors to swap in.
        let server = FakeLLMServer(script: { request in
            guard let match = request.lastUserMessage.firstMatch(of: /item #(\d+)/), let n = Int(match.1) else { return .completion("- Say which items are b.") }
            let (label, demos) = (n % 3 == 0 ? "b" : "a", request.messages.filter { $0.role == "assistant" }.count)
            let correct = n % 2 == 0 || (demos > 0 && n > 100)
            return .completion(correct ? label : (label == "a" ? "b" : "a"))
        })
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        func shown(_ step: Int, _ variant: Int) throws -> Int {
            let text = try trailers("grad/\(summary.run)/s\(step)v\(variant)~1", in: repo)
            return try #require(text.split(separator: "\n").first { $0.hasPrefix("Demos: ") }).split(separator: " ").count - 1
        }
        let verdict = try git(["log", "-1", "--format=%(trailers:key=Verdict,valueonly)", "grad/\(summary.run)/s1v2"], in: repo)
        #expect(verdict.hasPrefix(Verdict.outrankedPrefix), "\(verdict)")
        #expect(try shown(1, 1) == 8 && shown(1, 2) == 8)
        // Had the outranked set counted as refused, step 2 would show at most 4.
        #expect(try shown(2, 1) == 8)
        #expect(!(try git(["log", "-1", "--format=%B", "grad/\(summary.run)/s2v1~1"], in: repo)).contains("The holdout refused"))
    }

    @Test func withoutALabelSetDemosShowTheModelsOwnRightAnswersAndStateTheInstructionOnce() async throws {
        let row = { (id: String, text: String, count: String) in Example(id: id, fields: ["text": text, "label": count], target: count, source: "t:1") }
        let train = (1...12).map { row("t\($0)", "I have \($0) apples and a pear. How many fruits?", String($0 + 1)) }
        let outcome = { (example: Example, output: String, correct: Bool) in
            ExampleOutcome(example: example, output: output, score: Score(extracted: output, correct: correct, value: correct ? 1 : 0), cached: false)
        }
        // The minibatch: one wrong answer; the bootstrap pass: three rows answered right in the model's words.
        let batch = [outcome(train[0], "1", false)]
        let answered = [outcome(train[1], "3 + 0 = 3 fruits.\nAnswer: 3", true), outcome(train[2], "4", true), outcome(train[3], "9", false)]
        var search = SearchSettings()
        search.maxDemos = 4
        var input = OperatorInput(
            step: 1, variant: 1, current: "Count the objects.\n\nQuestion: {{text}}\n\nAnswer:\n", promptPath: "p.md", batch: batch,
            selected: batch, shownTargets: batch.map(\.example.target), gradient: nil, train: train, excludedIDs: [], excludedInputs: [],
            inputFields: ["text"], labels: [], search: search)
        input.trainOutcomes = answered
        let candidate = try #require(try await DemosOperator().propose(input))
        let file = PromptFile.parse(candidate.text)
        #expect(file.system == "Count the objects.")
        #expect(file.template == "Question: {{text}}\n\nAnswer:")
        let answers = Dictionary(file.demos.map { ($0.user, $0.assistant) }, uniquingKeysWith: { a, _ in a })
        // The wrong row shows the true answer; the right ones the model's own, reasoning and all.
        #expect(answers["Question: I have 1 apples and a pear. How many fruits?\n\nAnswer:"] == "2")
        #expect(answers["Question: I have 2 apples and a pear. How many fruits?\n\nAnswer:"] == "3 + 0 = 3 fruits.\nAnswer: 3")
        #expect(answers["Question: I have 3 apples and a pear. How many fruits?\n\nAnswer:"] == "4")
        #expect(file.demos.allSatisfy { !$0.user.contains("Count the objects.") })
        #expect(candidate.summary.contains("2 with the model's own answers"), "\(candidate.summary)")
        #expect(candidate.feedback.contains("stated once"))
    }

    @Test func rulesAreDeduplicatedCappedAndContradictedOnesReplaced() {
        let parsed = RulesOperator.parseRules(
            """
            Here are the rules:
            1. If the message mentions a refund, answer ledger.
            - **If the message mentions a refund, answer ledger.**
            * If the router is smoking, answer safety.
            Too short
            - If the customer is happy, say thanks.
            """, labels: ["ledger", "safety"], limit: 3)
        #expect(parsed == ["If the message mentions a refund, answer ledger.", "If the router is smoking, answer safety."])

        let existing = ["If the message mentions a refund, answer desk.", "If A happens, answer a.", "If B happens, answer b."]
        let merged = RulesOperator.merge(
            existing: existing, new: ["If the message mentions a refund, answer ledger.", "If A happens, answer a.", "If C, answer c."], cap: 3)
        #expect(merged.replaced == ["If the message mentions a refund, answer desk."])
        #expect(merged.added == 2)
        #expect(merged.rules == ["If B happens, answer b.", "If the message mentions a refund, answer ledger.", "If C, answer c."])
    }

    @Test func mergeOperatorCombinesCandidatesThatFixedDifferentExamples() async throws {
        let directory = try TemporaryDirectory()
        // 42 holdout rows (101...142): rules fix the 11 odd items n % 4 == 1, demos the 10 with n % 4 == 3.
        let task = ToyTask(holdoutCount: 42)
        let repo = try task.makeRepository(in: directory, search: "operators = [\"demos\", \"rules\", \"merge\"]\nsteps = 2\nbatch_size = 12")
        let server = FakeLLMServer(script: Self.script())
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        // Step 1: demos (v1) fixes 10 examples, rules (v2) fixes 11: both significant, rules wins.
        #expect(try trailers("grad/\(summary.run)/s1v2~1", in: repo).contains("Operator: rules"))
        #expect(try git(["log", "-1", "--format=%(trailers:key=Verdict,valueonly)", "grad/\(summary.run)/s1v2"], in: repo)
            .contains("accepted"))
        // Step 2, v1 is the merge: main's rules plus step 1's demos, through a three-way merge.
        let mergeTrailers = try trailers("grad/\(summary.run)/s2v1~1", in: repo)
        #expect(mergeTrailers.contains("Operator: merge"))
        let mergedIDs = try #require(mergeTrailers.split(separator: "\n").first { $0.hasPrefix("Merged: ") })
        #expect(mergedIDs.split(separator: " ").count == 3)
        let file = PromptFile.parse(try git(["show", "grad/\(summary.run)/s2v1~1:prompts/p.md"], in: repo))
        #expect(file.rules.contains { $0.contains("RULEX") })
        #expect(!file.demos.isEmpty)
        #expect(summary.accepted == 2)
        #expect(summary.finalHoldout == 1.0)
        #expect(try git(["fsck", "--no-dangling"], in: repo).isEmpty)
    }

    @Test func aMergeThatConflictsMakesNoCandidate() async throws {
        let directory = try TemporaryDirectory()
        let repo = try task.makeRepository(in: directory)
        let store = RunStore(repository: try PromptRepository.open(repo))
        let tip = try await store.trunkTip(GradRefs.mainBranch)
        let run = try RunID("conflict-test")
        func commit(_ variant: Int, _ text: String) async throws -> ObjectID {
            try await store.commitCandidate(
                branch: CandidateBranch(run: run, step: 1, variant: variant), parent: tip, promptPath: "prompts/p.md", text: text,
                message: StepMessage(subject: "v\(variant)"))
        }
        let first = try await commit(1, ToyTask.seedPrompt.replacingOccurrences(of: "Label the item as a or b.", with: "Label it: a or b."))
        let second = try await commit(2, ToyTask.seedPrompt.replacingOccurrences(of: "Label the item as a or b.", with: "Say a or b."))
        let third = try await commit(3, ToyTask.seedPrompt.replacingOccurrences(of: "Label:", with: "Answer:"))
        #expect(try await store.mergedPromptText(of: [first, second], onto: tip, promptPath: "prompts/p.md") == nil)
        let clean = try await store.mergedPromptText(of: [first, third], onto: tip, promptPath: "prompts/p.md")
        #expect(clean == "Label it: a or b.\n\nItem: {{text}}\n\nAnswer:\n")
    }

    @Test func aCandidateThatAnswersOneClassEverywhereIsFlaggedAndRejected() async throws {
        let directory = try TemporaryDirectory()
        // The net rule, so the audit alone decides: answering 'a' everywhere wins 8 and loses 4 on the holdout.
        let repo = try task.makeRepository(in: directory, search: "variants = 1\nrule = \"net\"")
        let server = FakeLLMServer(script: Self.script())
        try server.start()
        defer { server.stop() }
        let (summary, _) = try await runOptimizer(repo: repo, server: server)
        #expect(summary.accepted == 0)
        let verdict = try git(["log", "-1", "--format=%B", "grad/\(summary.run)/s1v1"], in: repo)
        #expect(verdict.contains("Verdict: rejected: prevalence audit: class collapse"))
        #expect(verdict.contains("recall of 'b' fell to 0"))
        #expect(verdict.contains("Prevalence: class collapse"))
        #expect(verdict.contains("Balanced-Accuracy: "))
        #expect(verdict.contains("Majority-Baseline: 0.667 (a)"))
        #expect(verdict.contains("Improvements: 8"))
        #expect(try git(["rev-list", "--count", "main"], in: repo).trimmingCharacters(in: .whitespacesAndNewlines) == "1")

        // With the audit only flagging, the same candidate is merged, and the flag is on record.
        let flagged = try TemporaryDirectory()
        let repo2 = try task.makeRepository(in: flagged, search: "variants = 1\nrule = \"net\"\nprevalence = \"flag\"")
        let (summary2, _) = try await runOptimizer(repo: repo2, server: server)
        #expect(summary2.accepted == 1)
        #expect(try trailers("main", in: repo2).contains("Prevalence: class collapse"))
    }
}
