import Foundation
import LLM
import PromptRepo

/// A prompt template with `{{field}}` placeholders filled from a dataset row.
public struct PromptTemplate: Sendable, Equatable {
    public let text: String
    /// Where the template came from, for errors.
    public let path: String

    public init(text: String, path: String) {
        self.text = text
        self.path = path
    }

    static let placeholder = try! NSRegularExpression(pattern: #"\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}"#)

    /// The field names the template uses.
    public var placeholders: [String] { PromptFile.placeholderNames(in: text) }

    /// Fills every placeholder; a placeholder the row lacks, or that is not one of `allowedFields`
    /// (the task's input fields: never the target, so a prompt cannot read the answer), is an
    /// error naming the file and field.
    public func render(_ example: Example, allowedFields: [String]? = nil) throws -> String {
        let range = NSRange(text.startIndex..., in: text)
        var result = ""
        var cursor = text.startIndex
        for match in Self.placeholder.matches(in: text, range: range) {
            guard let whole = Range(match.range, in: text), let name = Range(match.range(at: 1), in: text) else { continue }
            let field = String(text[name])
            if let allowedFields, !allowedFields.contains(field) {
                throw EvaluationError.template(
                    "\(path): placeholder {{\(field)}} is not an input field; grad.toml [task] input allows: \(allowedFields.joined(separator: ", "))")
            }
            guard let value = example.fields[field] else {
                throw EvaluationError.template(
                    "\(path): placeholder {{\(field)}} has no field '\(field)' in \(example.source); use one of: \(example.fields.keys.sorted().joined(separator: ", "))")
            }
            result += text[cursor..<whole.lowerBound]
            result += value
            cursor = whole.upperBound
        }
        result += text[cursor...]
        return result
    }
}

/// What a prompt is rendered into: the system message (grad.toml's `system` file and the prompt
/// file's own `system:` part), the worked examples as user/assistant turns, and the user message.
public struct PromptPair: Sendable, Equatable {
    public var user: PromptTemplate
    public var system: PromptTemplate?
    /// The prompt file's own system message (chat-structured files).
    public var fileSystem: PromptTemplate?
    /// Worked examples as chat turns (chat-structured files).
    public var demos: [PromptFile.Demo]
    /// The fields placeholders may use; nil allows every field of the row.
    public var inputFields: [String]?

    public init(user: PromptTemplate, system: PromptTemplate? = nil, inputFields: [String]? = nil) {
        self.user = user
        self.system = system
        self.fileSystem = nil
        self.demos = []
        self.inputFields = inputFields
    }

    /// A prompt file's text, single-template or chat-structured (see `PromptFile`).
    public init(file text: String, path: String, system: PromptTemplate? = nil, inputFields: [String]? = nil) {
        let file = PromptFile.parse(text)
        self.user = PromptTemplate(text: file.template, path: path)
        self.system = system
        self.fileSystem = file.system.map { PromptTemplate(text: $0, path: path) }
        self.demos = file.demos
        self.inputFields = inputFields
    }

    public func messages(for example: Example) throws -> [ChatMessage] {
        var messages: [ChatMessage] = []
        let systemParts = try [system, fileSystem].compactMap { try $0?.render(example, allowedFields: inputFields) }
        if !systemParts.isEmpty { messages.append(ChatMessage(.system, systemParts.joined(separator: "\n\n"))) }
        for demo in demos {
            // Placeholders are checked in every part, worked examples included.
            messages.append(ChatMessage(.user, try PromptTemplate(text: demo.user, path: user.path).render(example, allowedFields: inputFields)))
            messages.append(ChatMessage(
                .assistant, try PromptTemplate(text: demo.assistant, path: user.path).render(example, allowedFields: inputFields)))
        }
        messages.append(ChatMessage(.user, try user.render(example, allowedFields: inputFields)))
        return messages
    }
}

public enum EvaluationError: Error, Sendable, CustomStringConvertible {
    case template(String)
    case scorer(String)

    public var description: String {
        switch self {
        case .template(let message), .scorer(let message): return message
        }
    }
}
