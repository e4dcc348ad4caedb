import Foundation
import LLM
import PromptRepo

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
    public init(file text: String, path: String, system: PromptTemplate? = nil, inputFields: [String]? = nil) throws {
        let file = try PromptFile.read(text, path: path)
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
