import Foundation
import Yams

/// What a prompt file says about how it is run, beside its messages: a `.prompt.yml` file's
/// model, modelParameters, testData and evaluators; a `.prompty` file's model parameters and
/// inputs with their defaults. grad.toml's settings override these; they fill in what it leaves out.
public struct PromptFileSettings: Sendable, Equatable {
    /// The model the file names (`model:`; Prompty's `model.configuration.name`).
    public var modelName: String?
    public var temperature: Double?
    public var maxTokens: Int?
    /// Declared inputs in file order, and the defaults of those that have one (Prompty).
    public var inputNames: [String] = []
    public var inputDefaults: [String: String] = [:]
    /// `.prompt.yml` testData rows, each with the line it starts on.
    public var testData: [TestRow]?
    public var evaluators: [PromptEvaluator] = []

    /// One testData row: its fields as text, and where it is in the file.
    public struct TestRow: Sendable, Equatable {
        public var fields: [String: String]
        public var line: Int
    }

    public init() {}

    /// The settings of the prompt file at `path` (nothing for formats without any).
    public static func read(_ text: String, path: String) throws -> PromptFileSettings {
        let lowered = path.lowercased()
        if PromptFormat.of(path: path) == .promptYAML { return try readPromptYAML(text, path: path) }
        if lowered.hasSuffix(".prompty") { return try readPrompty(text, path: path) }
        return PromptFileSettings()
    }

    // MARK: - .prompt.yml

    static func readPromptYAML(_ text: String, path: String) throws -> PromptFileSettings {
        let root = try PromptYAMLDocument.root(text, path: path)
        var settings = PromptFileSettings()
        settings.modelName = root["model"]?.scalar?.string
        if let parameters = root["modelParameters"]?.mapping {
            settings.temperature = try number(parameters["temperature"], key: "modelParameters.temperature", path: path)
            let maxTokens = parameters["maxTokens"] ?? parameters["max_tokens"] ?? parameters["maxCompletionTokens"]
            settings.maxTokens = try number(maxTokens, key: "modelParameters.maxTokens", path: path).map { Int($0) }
        }
        if let testData = root["testData"] {
            guard let rows = testData.sequence else {
                throw PromptRepoError.prompt("\(path):\(testData.mark?.line ?? 1): testData must be a list of rows")
            }
            settings.testData = try rows.enumerated().map { index, row in
                let line = row.mark?.line ?? 1
                guard let mapping = row.mapping else {
                    throw PromptRepoError.prompt("\(path):\(line): testData[\(index)] must be a mapping of variable names to values")
                }
                var fields: [String: String] = [:]
                for (key, value) in mapping {
                    guard let name = key.scalar?.string else { continue }
                    guard let scalar = value.scalar else {
                        throw PromptRepoError.prompt("\(path):\(value.mark?.line ?? line): testData[\(index)].\(name) must be text or a number")
                    }
                    fields[name] = scalar.string
                }
                return TestRow(fields: fields, line: line)
            }
        }
        if let evaluators = root["evaluators"] {
            guard let list = evaluators.sequence else {
                throw PromptRepoError.prompt("\(path):\(evaluators.mark?.line ?? 1): evaluators must be a list")
            }
            settings.evaluators = try list.enumerated().map { try PromptEvaluator.read($1, index: $0, path: path) }
        }
        return settings
    }

    static func number(_ node: Node?, key: String, path: String) throws -> Double? {
        guard let node else { return nil }
        guard let value = node.float ?? node.int.map(Double.init) else {
            throw PromptRepoError.prompt("\(path):\(node.mark?.line ?? 1): \(key) must be a number")
        }
        return value
    }

    // MARK: - .prompty

    /// Prompty front matter: `model.configuration.name` (or `azure_deployment`),
    /// `model.parameters.temperature`/`max_tokens`, and `inputs` (a mapping of names, each with
    /// an optional `default`, or a list of names).
    static func readPrompty(_ text: String, path: String) throws -> PromptFileSettings {
        let file = PromptFile.parse(text, frontMatterAlways: true)
        var settings = PromptFileSettings()
        let lines = file.frontMatter.components(separatedBy: "\n")
        guard let open = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }),
              let close = lines[(open + 1)...].firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" })
        else { return settings }
        let yaml = lines[(open + 1)..<close].joined(separator: "\n")
        guard !yaml.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return settings }
        // Lines are numbered in the file: the front matter starts after the `---` line.
        let padded = String(repeating: "\n", count: open + 1) + yaml
        let root = try PromptYAMLDocument.root(padded, path: path)
        if let model = root["model"]?.mapping {
            let configuration = model["configuration"]?.mapping
            settings.modelName = (configuration?["name"] ?? configuration?["azure_deployment"] ?? configuration?["model"])?.scalar?.string
            if let parameters = model["parameters"]?.mapping {
                settings.temperature = try number(parameters["temperature"], key: "model.parameters.temperature", path: path)
                settings.maxTokens = try number(parameters["max_tokens"], key: "model.parameters.max_tokens", path: path).map { Int($0) }
            }
        }
        if let inputs = root["inputs"] {
            if let mapping = inputs.mapping {
                for (key, value) in mapping {
                    guard let name = key.scalar?.string else { continue }
                    settings.inputNames.append(name)
                    if let defaultValue = value.mapping?["default"]?.scalar?.string { settings.inputDefaults[name] = defaultValue }
                }
            } else if let list = inputs.sequence {
                settings.inputNames = list.compactMap { $0.scalar?.string }
            }
        }
        return settings
    }
}

/// One `.prompt.yml` evaluator, as `gh models eval` runs it: a string check on the model's
/// answer (equals is exact; contains, startsWith and endsWith ignore case), or an LLM judge
/// whose answer is matched against its choices, each with a score (passed when above 0).
/// String values and the judge's prompt may use the row's `{{variables}}`; the judge's prompt
/// also `{{completion}}`, the answer being judged.
public struct PromptEvaluator: Sendable, Equatable {
    public enum Check: Sendable, Equatable {
        case equals(String), contains(String), startsWith(String), endsWith(String)
        case llm(Judge)
    }

    public struct Judge: Sendable, Equatable {
        public var modelID: String?
        public var prompt: String
        public var systemPrompt: String?
        public var choices: [Choice]
    }

    public struct Choice: Sendable, Equatable {
        public var choice: String
        public var score: Double

        public init(choice: String, score: Double) {
            self.choice = choice
            self.score = score
        }
    }

    public var name: String
    public var check: Check

    public init(name: String, check: Check) {
        self.name = name
        self.check = check
    }

    static func read(_ node: Node, index: Int, path: String) throws -> PromptEvaluator {
        let line = node.mark?.line ?? 1
        func fail(_ message: String, at failing: Node? = nil) -> PromptRepoError {
            .prompt("\(path):\(failing?.mark?.line ?? line): evaluators[\(index)]: \(message)")
        }
        guard let mapping = node.mapping else { throw fail("must be a mapping with a name and string or llm") }
        let name = mapping["name"]?.scalar?.string ?? "evaluator \(index + 1)"
        if let string = mapping["string"] {
            let kinds = ["equals", "contains", "startsWith", "endsWith"]
            guard let checks = string.mapping, let key = kinds.first(where: { checks[$0] != nil }), let value = checks[key]?.scalar?.string else {
                throw fail("string needs one of equals, contains, startsWith, endsWith", at: string)
            }
            let check: Check = switch key {
            case "equals": .equals(value)
            case "contains": .contains(value)
            case "startsWith": .startsWith(value)
            default: .endsWith(value)
            }
            return PromptEvaluator(name: name, check: check)
        }
        if let llm = mapping["llm"] {
            guard let judge = llm.mapping, let prompt = judge["prompt"]?.scalar?.string else {
                throw fail("llm needs a prompt (with {{completion}}) and choices", at: llm)
            }
            let choices = try (judge["choices"]?.sequence ?? []).map { choice -> Choice in
                guard let entry = choice.mapping, let text = entry["choice"]?.scalar?.string,
                      let score = entry["score"].flatMap({ $0.float ?? $0.int.map(Double.init) })
                else { throw fail("each llm choice needs choice and a numeric score", at: choice) }
                return Choice(choice: text, score: score)
            }
            guard !choices.isEmpty else { throw fail("llm needs choices, e.g. - choice: good / score: 1", at: llm) }
            return PromptEvaluator(name: name, check: .llm(Judge(
                modelID: judge["modelId"]?.scalar?.string, prompt: prompt, systemPrompt: judge["systemPrompt"]?.scalar?.string,
                choices: choices)))
        }
        if let uses = mapping["uses"]?.scalar?.string {
            throw fail("built-in evaluator '\(uses.escapingControlCharacters)' is not supported; write it as an llm evaluator with a prompt and choices")
        }
        let keys = mapping.compactMap { $0.key.scalar?.string }.filter { $0 != "name" }
        throw fail("unknown evaluator kind \(keys.map { "'\($0.escapingControlCharacters)'" }.joined(separator: ", ")); use string or llm")
    }
}
