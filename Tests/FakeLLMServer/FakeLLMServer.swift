import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A fake OpenAI-compatible chat server on 127.0.0.1 for tests and benchmarks: scripted answers,
/// a fixed latency, injected faults, and a record of every request it received.
/// It is a fake: nothing in the product uses it.
public final class FakeLLMServer: @unchecked Sendable {
    /// What the server does with one request.
    public enum Reply: Sendable, Equatable {
        /// A normal completion with this text.
        case completion(String)
        /// An HTTP error status with an optional Retry-After header.
        case status(Int, retryAfter: String? = nil, body: String = "{\"error\":{\"message\":\"injected\"}}")
        /// Never answer (the client must time out).
        case hang
        /// 200 with a body that is not JSON.
        case malformedJSON
        /// 200 whose body stops short of its Content-Length.
        case truncated
        /// 200 with an empty `choices` array.
        case emptyChoices
    }

    /// One request as the server received it.
    public struct RecordedRequest: Sendable {
        public let path: String
        public let headers: [(String, String)]
        public let body: String
        public let model: String?
        /// The concatenated message contents.
        public let messages: [(role: String, content: String)]

        public var allContent: String { messages.map(\.content).joined(separator: "\n") }
        public var lastUserMessage: String { messages.last { $0.role == "user" }?.content ?? "" }
    }

    private let group: MultiThreadedEventLoopGroup
    private var channel: Channel?
    private let lock = NSLock()
    private var _requests: [RecordedRequest] = []
    private var faults: [Reply] = []
    private var _inFlight = 0
    private var _maxInFlight = 0
    /// Decides the reply to a request once the injected faults are used up.
    private let script: @Sendable (RecordedRequest) -> Reply
    public let latency: TimeAmount

    public private(set) var port: Int = 0
    public var baseURL: String { "http://127.0.0.1:\(port)/v1" }

    public init(latency: TimeAmount = .zero, threads: Int = 1, script: @escaping @Sendable (RecordedRequest) -> Reply) {
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        self.latency = latency
        self.script = script
    }

    /// A script that fails a share `rate` of requests, each with a fault drawn by a seeded
    /// generator from every kind (500, 429 with `Retry-After`, a hang, malformed JSON, a truncated
    /// body, an empty choices list), and answers the rest with `script`.
    public static func flaky(
        rate: Double, seed: UInt64, retryAfter: String = "0", script: @escaping @Sendable (RecordedRequest) -> Reply
    ) -> @Sendable (RecordedRequest) -> Reply {
        let generator = LockedGenerator(seed: seed)
        let faults: [Reply] = [.status(500), .status(429, retryAfter: retryAfter), .hang, .malformedJSON, .truncated, .emptyChoices]
        return { request in
            let (draw, pick) = generator.next()
            return draw < rate ? faults[pick % faults.count] : script(request)
        }
    }

    /// A server that always answers `text`.
    public convenience init(answer text: String, latency: TimeAmount = .zero) {
        self.init(latency: latency) { _ in .completion(text) }
    }

    public func start() throws {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(server: self))
                }
            }
        let channel = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    public func stop() {
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }

    /// Replies used, in order, before the script is consulted.
    public func inject(_ replies: [Reply]) {
        lock.withLock { faults.append(contentsOf: replies) }
    }

    public var requests: [RecordedRequest] { lock.withLock { _requests } }
    public var maxInFlight: Int { lock.withLock { _maxInFlight } }

    public func resetRecord() {
        lock.withLock {
            _requests = []
            _maxInFlight = _inFlight
        }
    }

    fileprivate func receive(_ request: RecordedRequest) -> Reply {
        lock.withLock {
            _requests.append(request)
            _inFlight += 1
            _maxInFlight = max(_maxInFlight, _inFlight)
            return faults.isEmpty ? nil : faults.removeFirst()
        } ?? script(request)
    }

    fileprivate func finished() {
        lock.withLock { _inFlight -= 1 }
    }

    static func parse(path: String, headers: HTTPHeaders, body: String) -> RecordedRequest {
        var model: String?
        var messages: [(String, String)] = []
        if let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] {
            model = object["model"] as? String
            if let system = object["system"] as? String { messages.append(("system", system)) }
            for case let message as [String: Any] in object["messages"] as? [Any] ?? [] {
                messages.append((message["role"] as? String ?? "", message["content"] as? String ?? ""))
            }
        }
        return RecordedRequest(path: path, headers: headers.map { ($0.name, $0.value) }, body: body, model: model, messages: messages)
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let server: FakeLLMServer
        var head: HTTPRequestHead?
        var body = ByteBuffer()

        init(server: FakeLLMServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body.clear()
            case .body(var part):
                body.writeBuffer(&part)
            case .end:
                guard let head else { return }
                let text = body.readString(length: body.readableBytes) ?? ""
                if head.method == .GET {
                    respond(context: context, status: .ok, headers: [], body: #"{"object":"list","data":[{"id":"fake"}]}"#, counted: false)
                    return
                }
                let request = FakeLLMServer.parse(path: head.uri, headers: head.headers, body: text)
                let reply = server.receive(request)
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: server.latency) {
                    self.send(reply, request: request, context: loopBound.value)
                }
            }
        }

        func send(_ reply: Reply, request: RecordedRequest, context: ChannelHandlerContext) {
            switch reply {
            case .completion(let text):
                let promptTokens = max(1, request.allContent.count / 4)
                let payload: [String: Any] = [
                    "id": "chatcmpl-fake", "object": "chat.completion", "model": request.model ?? "fake",
                    "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]],
                    "usage": ["prompt_tokens": promptTokens, "completion_tokens": max(1, text.count / 4)],
                ]
                let data = (try? JSONSerialization.data(withJSONObject: payload)) ?? Data()
                respond(context: context, status: .ok, headers: [], body: String(decoding: data, as: UTF8.self))
            case .status(let code, let retryAfter, let body):
                var headers: [(String, String)] = []
                if let retryAfter { headers.append(("Retry-After", retryAfter)) }
                respond(context: context, status: HTTPResponseStatus(statusCode: code), headers: headers, body: body)
            case .hang:
                server.finished()
            case .malformedJSON:
                respond(context: context, status: .ok, headers: [], body: "{\"choices\": [ this is not json")
            case .emptyChoices:
                respond(context: context, status: .ok, headers: [], body: #"{"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 0}}"#)
            case .truncated:
                var head = HTTPResponseHead(version: .http1_1, status: .ok)
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: "500")
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                var buffer = context.channel.allocator.buffer(capacity: 32)
                buffer.writeString(#"{"choices": [{"message": {"con"#)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                server.finished()
                context.close(promise: nil)
            }
        }

        func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, headers: [(String, String)], body: String, counted: Bool = true) {
            var head = HTTPResponseHead(version: .http1_1, status: status)
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.utf8.count))
            for (name, value) in headers { head.headers.add(name: name, value: value) }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
            buffer.writeString(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            if counted { server.finished() }
        }
    }
}

/// A seeded generator behind a lock (SplitMix64), so fault patterns repeat run for run.
final class LockedGenerator: @unchecked Sendable {
    private let lock = NSLock()
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    /// A uniform draw in [0, 1) and a second number for picking among choices.
    func next() -> (Double, Int) {
        lock.withLock {
            func step() -> UInt64 {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
            return (Double(step() >> 11) / Double(1 << 53), Int(step() % 1_000_003))
        }
    }
}
