import Foundation
import PromptRepo
import Testing

@Suite("grad.toml")
struct GradConfigTests {
    @Test("the sample repository's grad.toml parses with the values it states")
    func sampleConfig() throws {
        let text = try String(contentsOf: sampleRepo.appendingPathComponent("grad.toml"), encoding: .utf8)
        let config = try GradConfig.parse(text)
        #expect(config.task.prompt == "prompts/router.md")
        #expect(config.task.train == "data/train.jsonl")
        #expect(config.task.holdout == "data/holdout.jsonl")
        #expect(config.task.test == "data/test.jsonl")
        #expect(config.task.inputFields == ["message"])
        #expect(config.task.targetField == "label")
        #expect(config.task.idField == "id")
        #expect(config.task.promptFiles == ["prompts/router.md"])
        #expect(config.metric.kind == .choice)
        #expect(config.metric.labels == ["safety", "retention", "field", "ledger", "desk"])
        #expect(config.model.provider == .local)
        #expect(config.model.temperature == 0)
        #expect(config.model.maxTokens == 24)
        #expect(config.optimizerModel.temperature == 0.7)
        #expect(config.optimizerModel.maxTokens == 700)
        #expect(config.search.steps == 3)
        #expect(config.search.batchSize == 8)
        #expect(config.search.variants == 2)
        #expect(config.search.selection == .validated)
        #expect(config.search.feedback == .errors)
        #expect(config.search.gradient == .oneStep)
        #expect(config.search.lambda == 1.0)
        #expect(config.search.seed == 7)
        #expect(try GradConfig.load(from: sampleRepo) == config)
    }

    @Test("a minimal grad.toml gets the documented defaults")
    func defaults() throws {
        let config = try GradConfig.parse(tomlText())
        #expect(config.task.inputFields == ["input"])
        #expect(config.task.targetField == "target")
        #expect(config.task.idField == nil)
        #expect(config.task.test == nil)
        #expect(config.metric.kind == .exact)
        #expect(config.model.provider == .local)
        #expect(config.model.name == ModelSettings.localModelName)
        #expect(config.model.maxTokens == 64)
        #expect(config.optimizerModel.maxTokens == 1024)
        #expect(config.optimizerModel.temperature == 0.7)
        #expect(config.search == SearchSettings())

        let openai = try GradConfig.parse(tomlText("[model]\nprovider = \"openai\""))
        #expect(openai.model.baseURL == "https://api.openai.com/v1")
        #expect(openai.model.apiKeyEnv == "OPENAI_API_KEY")
        #expect(openai.model.name == "gpt-4o-mini")
        #expect(openai.optimizerModel.provider == .openai, "the optimizer model defaults to the task model")
    }

    @Test("an unknown key is an error naming its full dotted key", arguments: [
        (tomlText(task: "promt = \"typo\""), "task.promt"),
        (tomlText("[search]\nstepz = 3"), "search.stepz"),
        (tomlText("[model]\ntemprature = 0.5"), "model.temprature"),
        (tomlText("[optimizer]\nmax_token = 10"), "optimizer.max_token"),
        (tomlText("[metric]\nkind = \"exact\"\nlabel = [\"a\"]"), "metric.label"),
        (tomlText("[extra]\nx = 1"), "extra"),
        ("top_level = true\n" + tomlText(), "top_level"),
        (tomlText("[prices.gpt]\ninput_per_million = 1\noutput_per_million = 2\ncurrency = \"usd\""), "prices.gpt.currency"),
        (tomlText("[meta_prompts]\ngradient = \"g.md\"\nsummary = \"s.md\""), "meta_prompts.summary"),
    ])
    func unknownKeys(text: String, key: String) throws {
        let error = #expect(throws: PromptRepoError.self) { try GradConfig.parse(text) }
        #expect(error?.configKey == key)
        #expect(error?.description.contains("grad.toml: \(key):") == true)
        #expect(error?.description.contains("unknown key") == true)
    }

    @Test("the acceptance test's settings and a separate judge model are read, with documented defaults")
    func acceptanceSettingsAndJudge() throws {
        let defaults = try GradConfig.parse(tomlText())
        #expect(defaults.search.rule == .significant && defaults.search.alpha == 0.05 && defaults.search.maxBrokenRatio == 0.5)
        #expect(defaults.judgeModel == nil, "a judge metric asks the optimizer model unless [judge] says otherwise")
        let config = try GradConfig.parse(tomlText(
            "[search]\nrule = \"net\"\nalpha = 0.01\nmax_broken_ratio = 0.25\n[judge]\nprovider = \"openai\"\nname = \"gpt-4o\""))
        #expect(config.search.rule == .net && config.search.alpha == 0.01 && config.search.maxBrokenRatio == 0.25)
        let judge = try #require(config.judgeModel)
        #expect(judge.name == "gpt-4o" && judge.provider == .openai && judge.temperature == 0)
    }

    @Test("a value of the wrong type is an error naming the key and the expected type", arguments: [
        (tomlText("[search]\nsteps = \"three\""), "search.steps", "integer"),
        (tomlText("[model]\ntemperature = \"hot\""), "model.temperature", "number"),
        (tomlText(task: "input = 3"), "task.input", "string"),
        (tomlText("[metric]\nkind = \"choice\"\nlabels = [\"a\", 1]"), "metric.labels[1]", "string"),
        (tomlText("[metric]\ncase_sensitive = \"yes\""), "metric.case_sensitive", "true or false"),
        ("search = 3\n" + tomlText(), "search", "table"),
        ("[task]\nprompt = 1\ntrain = \"t\"\nholdout = \"h\"\n", "task.prompt", "string"),
    ])
    func wrongTypes(text: String, key: String, expected: String) throws {
        let error = #expect(throws: PromptRepoError.self) { try GradConfig.parse(text) }
        #expect(error?.configKey == key)
        #expect(error?.description.contains(expected) == true, "\(String(describing: error))")
    }

    @Test("values that are not allowed name their key", arguments: [
        (tomlText("[metric]\nkind = \"choice\""), "metric.labels"),
        (tomlText("[metric]\nkind = \"fuzzy\""), "metric.kind"),
        (tomlText("[metric]\nkind = \"regex\"\npattern = \"(unclosed\""), "metric.pattern"),
        (tomlText("[model]\ntemperature = 5"), "model.temperature"),
        (tomlText("[model]\nbase_url = \"ftp://example.com\""), "model.base_url"),
        (tomlText("[search]\nsteps = 0"), "search.steps"),
        (tomlText("[search]\nmax_recall_drop = 1.5"), "search.max_recall_drop"),
        (tomlText("[search]\nalpha = 0.7"), "search.alpha"),
        (tomlText("[search]\nalpha = 0"), "search.alpha"),
        (tomlText("[search]\nrule = \"vibes\""), "search.rule"),
        (tomlText("[search]\nmax_broken_ratio = -1"), "search.max_broken_ratio"),
        (tomlText("[judge]\ntemperature = 9"), "judge.temperature"),
        (tomlText("[prices.gpt]\ninput_per_million = 1"), "prices.gpt"),
        ("[task]\nprompt = \"p\"\ntrain = \"t\"\n", "task.holdout"),
    ])
    func disallowedValues(text: String, key: String) throws {
        let error = #expect(throws: PromptRepoError.self) { try GradConfig.parse(text) }
        #expect(error?.configKey == key)
    }

    @Test("a TOML syntax error reports the file and the line it is on")
    func syntaxError() throws {
        let text = "[task]\nprompt = \"p.md\"\ntrain = \"unterminated\nholdout = \"h\"\n"
        let error = #expect(throws: PromptRepoError.self) { try GradConfig.parse(text, file: "grad.toml") }
        #expect(error?.syntaxLine == 3)
        #expect(error?.description.hasPrefix("grad.toml:3:") == true, "\(String(describing: error))")

        let later = tomlText("[search]\nsteps = = 3")
        let laterError = #expect(throws: PromptRepoError.self) { try GradConfig.parse(later) }
        let expectedLine = later.components(separatedBy: "\n").firstIndex(of: "steps = = 3")! + 1
        #expect(laterError?.syntaxLine == expectedLine)
    }

    @Test("a config without [task] says so")
    func missingTask() throws {
        let error = #expect(throws: PromptRepoError.self) { try GradConfig.parse("[search]\nsteps = 2\n") }
        #expect(error?.configKey == "task")
        #expect(error?.description.contains("[task]") == true)
        let empty = #expect(throws: PromptRepoError.self) { try GradConfig.parse("") }
        #expect(empty?.configKey == "task")
    }

    @Test("load from a directory without grad.toml is 'not a prompt repository'")
    func loadMissing() throws {
        try withTemporaryDirectory { url in
            let error = #expect(throws: PromptRepoError.self) { try GradConfig.load(from: url) }
            guard case .notAPromptRepository(let message)? = error else {
                Issue.record("expected notAPromptRepository, got \(String(describing: error))")
                return
            }
            #expect(message.contains("grad.toml"))
        }
    }
}

@Suite struct APIKeyConfigTests {
    @Test func aKeyPastedIntoApiKeyEnvIsRefusedWithoutEchoingIt() {
        let secret = "sk-live-1234567890abcdef"
        #expect {
            _ = try GradConfig.parse(tomlText("[model]\nprovider = \"openai\"\napi_key_env = \"\(secret)\""))
        } throws: { error in
            (error as? PromptRepoError)?.configKey == "model.api_key_env" && !"\(error)".contains(secret)
        }
    }
}

@Suite struct ModelOverrideTests {
    @Test func anotherProviderDropsTheConfiguredServerAndKeyVariable() throws {
        var config = try GradConfig.parse(tomlText("[model]\nbase_url = \"http://gpu-box:8000/v1\"\nname = \"qwen\""))
        config.applyModelOverrides(provider: .openai, baseURL: nil, model: nil, optimizerModel: nil)
        #expect(config.model.baseURL == "https://api.openai.com/v1")
        #expect(config.model.apiKeyEnv == "OPENAI_API_KEY")
        #expect(config.optimizerModel.baseURL == "https://api.openai.com/v1")
        #expect(config.model.name == "gpt-4o-mini")
    }

    @Test func baseURLAndModelOverrideBothRoles() throws {
        var config = try GradConfig.parse(tomlText())
        config.applyModelOverrides(provider: .local, baseURL: "http://127.0.0.1:8080/v1", model: "llama", optimizerModel: "bigger")
        #expect(config.model.baseURL == "http://127.0.0.1:8080/v1" && config.optimizerModel.baseURL == "http://127.0.0.1:8080/v1")
        #expect(config.model.name == "llama" && config.optimizerModel.name == "bigger")
        #expect(config.model.apiKeyEnv == nil)
    }
}
