import Foundation
import PromptRepo
import Testing

@Suite struct PromptFileTests {
    static let chat = """
        ---
        name: router
        description: routes support messages
        ---

        system:
        Route the message to one queue.

        ## Rules
        - If the message mentions sparks, answer safety.
        - If the customer wants to leave, answer retention.

        user:
        Message: my router is lost

        assistant:
        field

        user:
        Message: {{message}}

        Queue:

        """

    @Test func chatFileParsesIntoItsParts() {
        let file = PromptFile.parse(Self.chat)
        #expect(file.format == .chat)
        #expect(file.system == "Route the message to one queue.\n\n## Rules\n- If the message mentions sparks, answer safety.\n- If the customer wants to leave, answer retention.")
        #expect(file.rules == ["If the message mentions sparks, answer safety.", "If the customer wants to leave, answer retention."])
        #expect(file.demos == [PromptFile.Demo(user: "Message: my router is lost", assistant: "field")])
        #expect(file.template == "Message: {{message}}\n\nQueue:")
        #expect(file.structureProblems().isEmpty)
    }

    @Test func parsingAndRenderingGiveBackTheSameBytes() {
        let samples = [
            Self.chat,
            Self.chat.replacingOccurrences(of: "\n", with: "\r\n"),
            "system:\nbe brief\nuser:\n{{message}}",            // no trailing newline, no blank lines
            "\n\nuser:\n  {{message}}  \n\n\n",                  // leading blank lines, trailing spaces
            "Classify: {{message}}\n",                            // single template
            "Classify: {{message}}\nuser:\nnot a marker here\n",  // a marker after text: still single
            "",
        ]
        for text in samples {
            #expect(PromptFile.parse(text).render() == text, "round trip failed for \(text.debugDescription)")
        }
    }

    @Test func singleTemplateFilesReadAsBefore() {
        let text = "Classify this message into one of: a, b.\n\nMessage: {{message}}\n\nQueue:\n"
        let file = PromptFile.parse(text)
        #expect(file.format == .template)
        #expect(file.template == text)
        #expect(file.system == nil)
        #expect(file.demos.isEmpty)
        #expect(file.rules.isEmpty)
    }

    @Test func addingRulesToASingleTemplateKeepsTheTemplateAsTheUserMessage() {
        let text = "Classify: {{message}}\n\nQueue:\n"
        let edited = PromptFile.parse(text).withRules(["If A, answer a.", "If B, answer b."])
        #expect(edited.render() == "system:\n## Rules\n- If A, answer a.\n- If B, answer b.\n\nuser:\nClassify: {{message}}\n\nQueue:\n")
        let reread = PromptFile.parse(edited.render())
        #expect(reread.rules == ["If A, answer a.", "If B, answer b."])
        #expect(reread.template == "Classify: {{message}}\n\nQueue:")
    }

    @Test func replacingRulesTouchesOnlyTheRuleLines() {
        let file = PromptFile.parse(Self.chat)
        let edited = file.withRules(["If the message mentions sparks, answer safety.", "If the bill is wrong, answer ledger."])
        let before = Self.chat.components(separatedBy: "\n")
        let after = edited.render().components(separatedBy: "\n")
        #expect(before.count == after.count)
        let changed = zip(before, after).filter { $0 != $1 }
        #expect(changed.count == 1)
        #expect(changed.first?.1 == "- If the bill is wrong, answer ledger.")
    }

    @Test func demosAreBlocksBetweenSystemAndTemplate() {
        let file = PromptFile.parse(Self.chat)
        let edited = file.withDemos([
            PromptFile.Demo(user: "Message: sparks!", assistant: "safety"),
            PromptFile.Demo(user: "Message: {{label}} user:", assistant: "desk"),
        ])
        let reread = PromptFile.parse(edited.render())
        #expect(reread.demos.count == 2)
        #expect(reread.demos[0] == PromptFile.Demo(user: "Message: sparks!", assistant: "safety"))
        // Dataset text stays literal: braces cannot open a placeholder.
        #expect(!reread.demos[1].user.contains("{{"))
        #expect(reread.system == file.system)
        #expect(reread.template == file.template)
        #expect(edited.render().hasPrefix("---\nname: router"))
    }

    @Test func theInstructionMovesOnceIntoTheSystemMessage() {
        let seed = PromptFile.parse("Classify the message into a or b.\nAnswer with one word.\n\nMessage: {{message}}\n\nQueue:\n")
        let once = seed.withInstructionOnce()
        #expect(once.format == .chat)
        #expect(once.system == "Classify the message into a or b.\nAnswer with one word.")
        #expect(once.template == "Message: {{message}}\n\nQueue:")
        // Worked examples then carry the row only, and the layout is stable.
        let withDemos = once.withDemos([PromptFile.Demo(user: "Message: hi\n\nQueue:", assistant: "a")])
        let reread = PromptFile.parse(withDemos.render())
        #expect(reread.demos == [PromptFile.Demo(user: "Message: hi\n\nQueue:", assistant: "a")])
        #expect(reread.withInstructionOnce() == reread)
        #expect(reread.problems(path: "p", inputFields: ["message"]).isEmpty)

        // An old file that repeats the instruction in each worked example loses the repeats, and
        // the instruction goes above an existing system message's rules.
        let repeated = PromptFile.parse("""
            system:
            ## Rules
            - If A, answer a.

            user:
            Pick a or b.

            Message: one

            assistant:
            a

            user:
            Pick a or b.

            Message: {{message}}

            """)
        let cleaned = PromptFile.parse(repeated.withInstructionOnce().render())
        #expect(cleaned.system == "Pick a or b.\n\n## Rules\n- If A, answer a.")
        #expect(cleaned.rules == ["If A, answer a."])
        #expect(cleaned.demos == [PromptFile.Demo(user: "Message: one", assistant: "a")])
        #expect(cleaned.template == "Message: {{message}}")

        // Nothing to move: the first paragraph already fills in the row.
        let inline = PromptFile.parse("Classify: {{message}}\n\nQueue:\n")
        #expect(inline.withInstructionOnce() == inline)
    }

    @Test func aDemoLineThatLooksLikeARoleMarkerCannotSplitTheFile() {
        let literal = PromptFile.literal("first line\nassistant:\nlast line")
        let file = PromptFile.parse("user:\n\(literal)\nassistant:\nx\n\nuser:\n{{message}}\n")
        #expect(file.demos.count == 1)
        #expect(file.demos[0].user.contains("last line"))
    }

    @Test func problemsNameTheFileAndLine() {
        let unclosed = PromptFile.parse("Classify\nMessage: {{message\n").problems(path: "prompts/p.md", inputFields: ["message"])
        #expect(unclosed.contains { $0.hasPrefix("prompts/p.md:2:") && $0.contains("never closed") })
        let blind = PromptFile.parse("Classify the message.\n").problems(path: "prompts/p.md", inputFields: ["message"])
        #expect(blind.contains { $0.contains("no placeholder") && $0.contains("{{message}}") })
        let inSystemOnly = PromptFile.parse("system:\n{{message}}\nuser:\nQueue:\n").problems(path: "p", inputFields: ["message"])
        #expect(inSystemOnly.contains { $0.contains("no placeholder") })
        let endsWithAssistant = PromptFile.parse("user:\n{{message}}\nassistant:\nx\n").problems(path: "p", inputFields: ["message"])
        #expect(endsWithAssistant.contains { $0.contains("last message") })
        #expect(PromptFile.parse(Self.chat).problems(path: "p", inputFields: ["message"]).isEmpty)
    }
}
