import Foundation
import PromptRepo
import Testing

/// Several tasks in one grad.toml: `[tasks.NAME]` over shared top-level tables.
@Suite struct GradTasksTests {
    static let toml = """
        [tasks.router]
        prompt = "prompts/router.md"
        train = "data/train.jsonl"
        holdout = "data/holdout.jsonl"
        input = "message"
        target = "label"

        [tasks.router.metric]
        kind = "choice"
        labels = ["a", "b"]

        [tasks.router.search]
        steps = 5

        [tasks.notes]
        prompt = "prompts/notes.prompt.yml"

        [tasks.notes.model]
        provider = "openai"

        [model]
        base_url = "http://127.0.0.1:9/v1"
        max_tokens = 24

        [search]
        steps = 2
        variants = 4
        """

    static let notes = """
        model: openai/gpt-4o-mini
        modelParameters:
          temperature: 0.4
        messages:
          - role: user
            content: "Summarize: {{text}}"
        testData:
          - text: a
            expected: b
        evaluators:
          - name: starts right
            string:
              startsWith: "Summary"
        """

    func parse(_ task: String?) throws -> GradConfig {
        try GradConfig.parse(Self.toml, task: task) { path in path == "prompts/notes.prompt.yml" ? Data(Self.notes.utf8) : nil }
    }

    @Test("a task's own tables are laid over the top-level ones, key by key")
    func overlay() throws {
        let router = try parse("router")
        #expect(router.taskName == "router")
        #expect(router.metric.kind == .choice && router.metric.labels == ["a", "b"])
        #expect(router.search.steps == 5 && router.search.variants == 4)
        #expect(router.model.maxTokens == 24 && router.model.baseURL == "http://127.0.0.1:9/v1")
        // Selected by its prompt's path too.
        #expect(try parse("./prompts/router.md").taskName == "router")
    }

    @Test("a .prompt.yml task takes its data, metric and model defaults from the file; a task changing provider drops the shared server")
    func promptFileTask() throws {
        let notes = try parse("notes")
        #expect(notes.task.train == "prompts/notes.prompt.yml#train")
        #expect(notes.task.holdout == "prompts/notes.prompt.yml#holdout")
        #expect(notes.task.test == "prompts/notes.prompt.yml#test")
        #expect(notes.task.inputFields == ["text"])
        #expect(notes.task.targetField == "expected")
        #expect(notes.metric.kind == .evaluators && notes.metric.evaluators.map(\.name) == ["starts right"])
        #expect(notes.model.provider == .openai && notes.model.name == "openai/gpt-4o-mini")
        #expect(notes.model.baseURL == "https://api.openai.com/v1", "the shared local server is not inherited by another provider")
        #expect(notes.model.temperature == 0.4)
        #expect(notes.model.maxTokens == 24, "grad.toml's [model] overrides the file's parameters")
    }

    @Test("several tasks and no --task is one line naming them; an unknown task names them all")
    func selection() throws {
        #expect(throws: PromptRepoError.configValue(
            file: "grad.toml", key: "tasks", message: "several tasks (notes, router); pass --task NAME or the prompt's path")) { try parse(nil) }
        do {
            _ = try parse("drafter")
            Issue.record("an unknown task was accepted")
        } catch {
            #expect("\(error)".contains("no task 'drafter'; the tasks are notes (prompts/notes.prompt.yml), router (prompts/router.md)"))
        }
        #expect(try GradTasks.read(Self.toml).names == ["notes", "router"])
    }

    @Test("one [task] stays one task without a name; [task] and [tasks] together are refused")
    func singleTask() throws {
        let single = "[task]\nprompt = \"p.md\"\ntrain = \"t.jsonl\"\nholdout = \"h.jsonl\"\n"
        let config = try GradConfig.parse(single)
        #expect(config.taskName == nil && config.task.prompt == "p.md")
        #expect(try GradConfig.parse(single, task: "p.md").task.prompt == "p.md")
        #expect(throws: PromptRepoError.self) { try GradConfig.parse(single + "[tasks.x]\nprompt = \"x.md\"\n") }
        #expect(throws: PromptRepoError.self) { try GradConfig.parse("[tasks.\"bad name\"]\nprompt = \"x.md\"\n") }
        #expect(throws: PromptRepoError.configValue(file: "grad.toml", key: "tasks.router.holdout", message: "missing; add it to grad.toml")) {
            try GradConfig.parse("[tasks.router]\nprompt = \"p.md\"\ntrain = \"t.jsonl\"\n")
        }
    }
}
