import AsyncHTTPClient
import Foundation
import NIOCore

/// The Anthropic Messages API.
public struct AnthropicProvider: ChatProvider {
    public let kind = "anthropic"
    public let model: String
    public let defaultConcurrency: Int
    let transport: HTTPTransport
    let apiKey: String

    public init(baseURL: String, model: String, apiKey: String, keyVariable: String? = nil, timeoutSeconds: Double = 120,
                defaultConcurrency: Int = 4, client: HTTPClient = modelHTTPClient) {
        self.transport = HTTPTransport(baseURL: baseURL, timeoutSeconds: timeoutSeconds, keyVariable: keyVariable, client: client)
        self.model = model
        self.apiKey = apiKey
        self.defaultConcurrency = defaultConcurrency
    }

    struct Body: Encodable {
        struct Message: Encodable { let role: String; let content: String }
        let model: String
        let system: String?
        let messages: [Message]
        let temperature: Double
        let max_tokens: Int
        let stop_sequences: [String]?
    }

    struct Answer: Decodable {
        struct Block: Decodable { let type: String; let text: String? }
        struct Usage: Decodable { let input_tokens: Int?; let output_tokens: Int? }
        let content: [Block]?
        let usage: Usage?
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let system = request.messages.filter { $0.role == .system }.map(\.content).joined(separator: "\n\n")
        var messages = request.messages.filter { $0.role != .system }.map { Body.Message(role: $0.role.rawValue, content: $0.content) }
        if request.jsonMode { messages.append(.init(role: "assistant", content: "{")) }
        let body = Body(
            model: model, system: system.isEmpty ? nil : system, messages: messages, temperature: min(request.temperature, 1),
            max_tokens: request.maxTokens, stop_sequences: request.stop.isEmpty ? nil : request.stop)
        let started = Date()
        let response = try await transport.post(
            path: "/v1/messages", headers: [("x-api-key", apiKey), ("anthropic-version", "2023-06-01")],
            body: try JSONEncoder().encode(body))
        try HTTPTransport.checkStatus(response, provider: kind, model: model, baseURL: transport.baseURL, keyVariable: transport.keyVariable)
        guard let answer = try? JSONDecoder().decode(Answer.self, from: response.body) else {
            throw LLMError.transient("anthropic sent a response that is not valid JSON", retryAfter: nil)
        }
        guard let blocks = answer.content, !blocks.isEmpty else {
            throw LLMError.transient("anthropic sent a response with no content", retryAfter: nil)
        }
        let text = (request.jsonMode ? "{" : "") + blocks.compactMap(\.text).joined()
        return ChatResponse(
            text: text, promptTokens: answer.usage?.input_tokens ?? 0, completionTokens: answer.usage?.output_tokens ?? 0,
            latencySeconds: Date().timeIntervalSince(started))
    }
}
