import AsyncHTTPClient
import Foundation
import NIOCore

/// Chat completions over the OpenAI-compatible HTTP API (OpenAI, vLLM, Ollama, llama.cpp's
/// server, LM Studio, and the embedded local model).
public struct OpenAICompatibleProvider: ChatProvider {
    public let kind: String
    public let model: String
    public let defaultConcurrency: Int
    let transport: HTTPTransport
    let apiKey: String?

    public init(
        baseURL: String, model: String, apiKey: String?, keyVariable: String? = nil, kind: String = "openai",
        timeoutSeconds: Double = 120, defaultConcurrency: Int = 8, client: HTTPClient = modelHTTPClient
    ) {
        self.kind = kind
        self.model = model
        self.apiKey = apiKey
        self.defaultConcurrency = defaultConcurrency
        self.transport = HTTPTransport(baseURL: baseURL, timeoutSeconds: timeoutSeconds, keyVariable: keyVariable, client: client)
    }

    struct Body: Encodable {
        struct Format: Encodable { let type: String }
        let model: String
        let messages: [ChatMessage]
        let temperature: Double
        let max_tokens: Int
        let seed: Int?
        let stop: [String]?
        let response_format: Format?
    }

    struct Answer: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { let content: String? }
            let message: Message?
            let text: String?
        }
        struct Usage: Decodable { let prompt_tokens: Int?; let completion_tokens: Int? }
        let choices: [Choice]?
        let usage: Usage?
    }

    public func complete(_ request: ChatRequest) async throws -> ChatResponse {
        let body = Body(
            model: model, messages: request.messages, temperature: request.temperature, max_tokens: request.maxTokens,
            seed: request.seed, stop: request.stop.isEmpty ? nil : request.stop,
            response_format: request.jsonMode ? .init(type: "json_object") : nil)
        var headers: [(String, String)] = []
        if let apiKey { headers.append(("Authorization", "Bearer \(apiKey)")) }
        let started = Date()
        let response = try await transport.post(path: "/chat/completions", headers: headers, body: try JSONEncoder().encode(body))
        try HTTPTransport.checkStatus(response, provider: kind, model: model, baseURL: transport.baseURL, keyVariable: transport.keyVariable)
        let answer: Answer
        do {
            answer = try JSONDecoder().decode(Answer.self, from: response.body)
        } catch {
            throw LLMError.transient("\(kind) sent a response that is not valid JSON", retryAfter: nil)
        }
        guard let choice = answer.choices?.first, let text = choice.message?.content ?? choice.text else {
            throw LLMError.transient("\(kind) sent a response with no choice", retryAfter: nil)
        }
        return ChatResponse(
            text: text, promptTokens: answer.usage?.prompt_tokens ?? 0, completionTokens: answer.usage?.completion_tokens ?? 0,
            latencySeconds: Date().timeIntervalSince(started))
    }
}
