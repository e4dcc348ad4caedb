import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// POSTs JSON with AsyncHTTPClient and sorts failures into `LLMError` cases: what can be retried,
/// and what needs the user (a wrong key, model or URL).
struct HTTPTransport: Sendable {
    let baseURL: String
    let client: HTTPClient
    let timeout: TimeAmount
    /// The environment variable the provider's key came from, for errors that say where to fix it.
    let keyVariable: String?
    let maxResponseBytes = 16 * 1024 * 1024

    init(baseURL: String, timeoutSeconds: Double, keyVariable: String?, client: HTTPClient) {
        self.baseURL = baseURL
        self.client = client
        self.timeout = .milliseconds(Int64(timeoutSeconds * 1000))
        self.keyVariable = keyVariable
    }

    struct Response {
        let status: Int
        let headers: HTTPHeaders
        let body: Data
    }

    func post(path: String, headers: [(String, String)], body: Data) async throws -> Response {
        var request = HTTPClientRequest(url: baseURL.trimmingSuffix("/") + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            var buffer = try await response.body.collect(upTo: maxResponseBytes)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            return Response(status: Int(response.status.code), headers: response.headers, body: Data(bytes))
        } catch let error as LLMError {
            throw error
        } catch {
            // A cancelled task (early stopping dropped this example) is not a failed request.
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw classify(error)
        }
    }

    /// Maps a transport error: refused connections are the user's to fix, everything else
    /// (timeouts, resets, truncated bodies) is transient.
    func classify(_ error: Error) -> LLMError {
        let text = String(describing: error)
        if text.localizedCaseInsensitiveContains("refused") {
            return .connectionRefused(baseURL: baseURL)
        }
        if let httpError = error as? HTTPClientError {
            switch httpError {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return .transient("request to \(baseURL) timed out", retryAfter: nil)
            default:
                return .transient("request to \(baseURL) failed: \(httpError)", retryAfter: nil)
            }
        }
        return .transient("request to \(baseURL) failed: \(text)", retryAfter: nil)
    }

    /// Raises for a non-2xx status.
    static func checkStatus(_ response: Response, provider: String, model: String, baseURL: String, keyVariable: String?) throws {
        switch response.status {
        case 200..<300:
            return
        case 401, 403:
            throw LLMError.unauthorized(provider: provider, keyVariable: keyVariable)
        case 404:
            throw LLMError.modelNotFound(model: model, baseURL: baseURL)
        case 408, 409, 425, 429, 500...599:
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(parseRetryAfter)
            throw LLMError.transient("\(provider) answered \(response.status)", retryAfter: retryAfter)
        default:
            let snippet = String(decoding: response.body.prefix(300), as: UTF8.self)
            throw LLMError.badRequest(status: response.status, message: snippet)
        }
    }

    /// `Retry-After` as seconds or an HTTP date.
    static func parseRetryAfter(_ value: String) -> Double? {
        if let seconds = Double(value.trimmingCharacters(in: .whitespaces)) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
    }
}

/// The HTTP client all providers share. Unlike `HTTPClient.shared` it does not keep retrying a
/// refused connection until the request's deadline, so "is the server running?" comes at once.
public let modelHTTPClient: HTTPClient = {
    var configuration = HTTPClient.Configuration.singletonConfiguration
    configuration.connectionPool.retryConnectionEstablishment = false
    // The default of 8 connections per host would cap a concurrency limit above 8.
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
    // Close idle connections before servers do (uvicorn, behind llama.cpp's Python server, drops
    // them after 5 s), so a request is not sent on a connection the server already closed.
    configuration.connectionPool.idleTimeout = .seconds(4)
    configuration.timeout.connect = .seconds(10)
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        var result = self
        while result.hasSuffix(suffix) { result.removeLast(suffix.count) }
        return result
    }
}

/// Reads an API key from the environment variable the configuration names. The key lives only in
/// memory and in request headers.
public func apiKey(fromEnvironment variable: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
    guard let variable else { return nil }
    guard let key = environment[variable], !key.isEmpty else { throw LLMError.missingAPIKey(variable: variable) }
    return key
}
