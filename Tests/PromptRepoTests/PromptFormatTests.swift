import Foundation
import PromptRepo
import Testing
import Yams

/// `.prompt.yml` and `.prompty` files read, edited and written back: edits change message
/// contents only, and every other byte stays.
@Suite struct PromptFormatTests {
    /// A GitHub Models prompt file as a team keeps it: comments, key order, quoting styles,
    /// testData and evaluators that an edit must leave alone.
    static let promptYAML = """
        # Summaries for the release notes bot; `gh models eval` runs this in CI.
        name: Release note summarizer
        description: Summarizes a pull request for the release notes
        model: openai/gpt-4o-mini
        modelParameters:
          temperature: 0.3   # low: the notes should read the same every week
          maxTokens: 120
        messages:
          - role: system
            content: 'You write one-line release notes.'
          - role: user
            content: |
              Pull request title: {{title}}
              Body:
              {{body}}

              Write the release note.
        testData:
          - title: Fix crash on empty cart
            body: The checkout crashed when the cart was empty.
            expected: Fixed a crash at checkout with an empty cart.
          - title: Add dark mode
            body: Adds a dark theme toggle in settings.
            expected: Added dark mode.
            split: test
        evaluators:
          - name: mentions the change
            string:
              contains: "{{expected}}"
          - name: judged useful
            llm:
              modelId: openai/gpt-4o-mini
              prompt: "Is this a useful release note? {{completion}}"
              choices:
                - choice: "yes"
                  score: 1
                - choice: "no"
                  score: 0

        """

    static let path = "prompts/notes.prompt.yml"

    @Test("a .prompt.yml file reads as messages: system, template, and unchanged bytes when not edited")
    func readsMessages() throws {
        let file = try PromptFile.read(Self.promptYAML, path: Self.path)
        #expect(file.format == .promptYAML)
        #expect(file.system == "You write one-line release notes.")
        #expect(file.template.hasPrefix("Pull request title: {{title}}"))
        #expect(file.template.hasSuffix("Write the release note."))
        #expect(file.render() == Self.promptYAML)
        #expect(file.problems(path: Self.path, inputFields: ["title", "body"]).isEmpty)
    }

    @Test("rules and worked examples change message lines only; the file still parses with Yams and keeps the rest")
    func editsTouchMessagesOnly() throws {
        let file = try PromptFile.read(Self.promptYAML, path: Self.path)
        let edited = file.withRules(["If the body says fixed, start with Fixed."])
            .withDemos([PromptFile.Demo(user: "Pull request title: Bump version\nBody:\nRelease 2.0", assistant: "Released version 2.0.")])
        let text = edited.render()
        // Everything before `messages:` and from `testData:` on is byte for byte the same.
        let head = Self.promptYAML.components(separatedBy: "messages:")[0]
        let tail = "testData:" + Self.promptYAML.components(separatedBy: "testData:")[1]
        #expect(text.hasPrefix(head + "messages:"))
        #expect(text.hasSuffix(tail))
        // A YAML library reads the same structure with the new messages.
        let node = try #require(try Yams.compose(yaml: text)?.mapping)
        let messages = try #require(node["messages"]?.sequence)
        #expect(messages.map { $0.mapping?["role"]?.string } == ["system", "user", "assistant", "user"])
        #expect(messages[0].mapping?["content"]?.string == "You write one-line release notes.\n\n## Rules\n- If the body says fixed, start with Fixed.")
        #expect(messages[1].mapping?["content"]?.string == "Pull request title: Bump version\nBody:\nRelease 2.0\n", "\(text)")
        #expect(messages[2].mapping?["content"]?.string == "Released version 2.0.")
        #expect(node["testData"]?.sequence?.count == 2)
        #expect(node["evaluators"]?.sequence?.count == 2)
        // Read back, the edits are there and render the same bytes.
        let reread = try PromptFile.read(text, path: Self.path)
        #expect(reread.rules == ["If the body says fixed, start with Fixed."])
        #expect(reread.demos.count == 1)
        #expect(reread.render() == text)
        // The same worked example again keeps its bytes.
        #expect(reread.withDemos(reread.demos).render() == text)
    }

    @Test("the instruction stated once: a .prompt.yml template's leading instruction moves to its system message, the rest stays byte for byte")
    func instructionOnce() throws {
        let text = Self.promptYAML.replacingOccurrences(
            of: "    content: |\n      Pull request title:", with: "    content: |\n      Summarize the pull request.\n\n      Pull request title:")
        let file = try PromptFile.read(text, path: Self.path)
        #expect(file.template.hasPrefix("Summarize the pull request."))
        let once = file.withInstructionOnce().render()
        let node = try #require(try Yams.compose(yaml: once)?.mapping)
        let messages = try #require(node["messages"]?.sequence)
        #expect(messages.map { $0.mapping?["role"]?.string } == ["system", "user"])
        #expect(messages[0].mapping?["content"]?.string == "Summarize the pull request.\n\nYou write one-line release notes.")
        #expect(messages[1].mapping?["content"]?.string?.hasPrefix("Pull request title: {{title}}") == true)
        #expect(once.hasSuffix("testData:" + text.components(separatedBy: "testData:")[1]))
        #expect(try PromptFile.read(once, path: Self.path).withInstructionOnce().render() == once)
    }

    @Test("a new template is written as a block scalar that reads back exactly, with every other message untouched")
    func rewritesTheTemplate() throws {
        let file = try PromptFile.read(Self.promptYAML, path: Self.path)
        let template = "Title: {{title}}\n  indented line: with a colon\n\n{{body}}\nNote:"
        let text = file.withTemplate(template).render()
        let reread = try PromptFile.read(text, path: Self.path)
        #expect(reread.template == template)
        #expect(reread.system == "You write one-line release notes.")
        #expect(text.contains("content: 'You write one-line release notes.'"))
    }

    @Test("the settings of a .prompt.yml file: model parameters, testData rows with lines, and evaluators")
    func readsSettings() throws {
        let settings = try PromptFileSettings.read(Self.promptYAML, path: Self.path)
        #expect(settings.modelName == "openai/gpt-4o-mini")
        #expect(settings.temperature == 0.3)
        #expect(settings.maxTokens == 120)
        #expect(settings.testData?.count == 2)
        #expect(settings.testData?.first?.fields["title"] == "Fix crash on empty cart")
        #expect(settings.testData?.first?.line == 19)
        #expect(settings.evaluators.map(\.name) == ["mentions the change", "judged useful"])
        #expect(settings.evaluators.first?.check == .contains("{{expected}}"))
        guard case .llm(let judge)? = settings.evaluators.last?.check else { Issue.record("not an llm evaluator"); return }
        #expect(judge.choices == [.init(choice: "yes", score: 1), .init(choice: "no", score: 0)])
    }

    @Test("malformed .prompt.yml files are refused with the file, the line and what to do")
    func malformedFiles() throws {
        func error(_ text: String) -> String {
            do {
                _ = try PromptFile.read(text, path: Self.path)
                _ = try PromptFileSettings.read(text, path: Self.path)
                return ""
            } catch { return "\(error)" }
        }
        #expect(error("messages:\n  - role: user\n    content: [unclosed\n").hasPrefix("prompts/notes.prompt.yml:"))
        let role = error("messages:\n  - role: narrator\n    content: hi {{x}}\n")
        #expect(role.contains("prompts/notes.prompt.yml:2:") && role.contains("unknown role 'narrator'"))
        let kind = error("messages:\n  - role: user\n    content: hi {{x}}\nevaluators:\n  - name: exact\n    regex: x\n")
        #expect(kind.contains("prompts/notes.prompt.yml:5:") && kind.contains("unknown evaluator kind 'regex'"))
        #expect(error("name: no messages\n").contains("no `messages` list"))
        #expect(error("messages:\n  - role: user\n    content: hi {{x}}\nevaluators:\n  - uses: github/similarity\n").contains("not supported"))
    }

    @Test("testData becomes train, holdout and test: a row's split field wins, the rest is cut by a content hash, the same every time")
    func testDataSplit() throws {
        var rows = (1...20).map { "  - x: row \($0)\n    expected: y\($0)\n" }
        rows[0] = "  - x: row 1\n    expected: y1\n    split: holdout\n"
        let text = "messages:\n  - role: user\n    content: \"{{x}}\"\ntestData:\n" + rows.joined()
        let loader = DatasetLoader(inputFields: ["x"], targetField: "expected", idField: nil)
        let splits = try Split.allCases.map { try loader.parse(Data(text.utf8), file: TestDataSplit.path(prompt: Self.path, split: $0)) }
        #expect(splits.map(\.count) == [10, 6, 4])
        #expect(splits[1].contains { $0.fields["x"] == "row 1" })
        #expect(Set(splits.flatMap { $0.map(\.id) }).count == 20)
        #expect(splits[0].first?.source.hasPrefix("prompts/notes.prompt.yml:") == true)
        let again = try loader.parse(Data(text.utf8), file: TestDataSplit.path(prompt: Self.path, split: .holdout))
        #expect(again == splits[1])
        let bad = text.replacingOccurrences(of: "split: holdout", with: "split: validation")
        #expect(throws: PromptRepoError.self) { try loader.parse(Data(bad.utf8), file: TestDataSplit.path(prompt: Self.path, split: .train)) }
        let missing = "messages:\n  - role: user\n    content: \"{{x}}\"\ntestData:\n  - y: 1\n"
        do {
            _ = try loader.parse(Data(missing.utf8), file: TestDataSplit.path(prompt: Self.path, split: .train))
            Issue.record("a row without the input variable was read")
        } catch {
            #expect("\(error)".contains("prompts/notes.prompt.yml:5: missing field 'x'"))
        }
    }

    static let prompty = """
        ---
        name: Support reply
        description: Drafts a reply to a support message
        model:
          api: chat
          configuration:
            type: azure_openai
            azure_deployment: gpt-4o-mini
          parameters:
            max_tokens: 200
            temperature: 0.2
        inputs:
          message:
            type: string
          tone:
            type: string
            default: friendly
        ---
        system:
        You draft replies for the support team in a {{tone}} tone.

        user:
        {{message}}

        """

    @Test("a .prompty file's front matter is read for model and inputs and kept byte for byte through edits")
    func promptyFrontMatter() throws {
        let path = "prompts/reply.prompty"
        let settings = try PromptFileSettings.read(Self.prompty, path: path)
        #expect(settings.modelName == "gpt-4o-mini")
        #expect(settings.maxTokens == 200 && settings.temperature == 0.2)
        #expect(settings.inputNames == ["message", "tone"])
        #expect(settings.inputDefaults == ["tone": "friendly"])
        let file = try PromptFile.read(Self.prompty, path: path)
        let edited = file.withRules(["Thank the customer once."]).withDemos([.init(user: "My bill is wrong", assistant: "Sorry about that!")])
        let frontMatter = String(Self.prompty[..<Self.prompty.range(of: "system:")!.lowerBound])
        #expect(edited.render().hasPrefix(frontMatter))
        #expect(try PromptFile.read(edited.render(), path: path).rules == ["Thank the customer once."])
        // A Prompty file whose body is one template keeps its front matter when it gains messages.
        let plain = "---\nname: plain\n---\nAnswer: {{message}}\n"
        let withRules = try PromptFile.read(plain, path: path).withRules(["Be brief."]).render()
        #expect(withRules.hasPrefix("---\nname: plain\n---\n"))
        #expect(withRules.contains("- Be brief."))
    }
}
