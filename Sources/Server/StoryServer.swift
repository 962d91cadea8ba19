import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// `storywriter serve`: one model behind the KoboldAI, llama.cpp and OpenAI completion APIs, and a writing page.
public struct StoryServer: Sendable {
    public let engine: GenerationEngine
    var configuration: ServerConfiguration { engine.configuration }

    public init(engine: GenerationEngine) throws(ServerStartError) {
        try engine.configuration.validate()
        self.engine = engine
    }

    /// Serves until SIGINT or SIGTERM, calling `onListening` with the bound port once connections are accepted.
    public func run(onListening: @escaping @Sendable (Int) async -> Void) async throws {
        var logger = Logger(label: "storywriter.serve")
        logger.logLevel = .warning
        let port = configuration.port
        let application = Application(
            responder: StoryResponder(server: self),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: port), serverName: "storywriter"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger)
        try await application.runService()
    }
}

/// Hummingbird's request context, keeping the connection so a generation can stop when its client goes.
struct ServeContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// One request as the endpoints see it: the body already read (within the size limit).
struct Call: Sendable {
    let path: String
    let body: Data
    /// False once the client has gone.
    let connectionIsOpen: @Sendable () -> Bool

    func fields() throws(APIError) -> JSONFields { try JSONFields(body: body) }
}

/// Routing, the key, CORS and the error bodies; the endpoints themselves live in the API files.
struct StoryResponder: HTTPResponder {
    typealias Context = ServeContext
    let server: StoryServer

    private typealias Endpoint = @Sendable (StoryServer, Call) async throws -> Response

    /// Every path and the methods it answers. KoboldCpp also answers its KoboldAI paths under /api/latest.
    private static let routes: [String: [HTTPRequest.Method: Endpoint]] = {
        var routes: [String: [HTTPRequest.Method: Endpoint]] = [
            "/": [.get: { server, _ in server.writingPage() }],
            // KoboldAI, as KoboldCpp serves it.
            "/api/v1/model": [.get: { server, _ in server.koboldModel() }],
            "/api/v1/info/version": [.get: { server, _ in server.koboldAPIVersion() }],
            "/api/extra/version": [.get: { server, _ in server.koboldVersion() }],
            "/api/v1/config/max_context_length": [.get: { server, _ in server.koboldMaxContextLength() }],
            "/api/v1/config/max_length": [.get: { server, _ in server.koboldMaxLength() }],
            "/api/extra/true_max_context_length": [.get: { server, _ in server.koboldMaxContextLength() }],
            "/api/extra/perf": [.get: { server, _ in server.koboldPerf() }],
            "/api/v1/generate": [.post: { server, call in try await server.koboldGenerate(call) }],
            "/api/extra/generate/stream": [.post: { server, call in try await server.koboldStream(call) }],
            "/api/extra/generate/check": [
                .get: { server, call in try server.koboldCheck(call) },
                .post: { server, call in try server.koboldCheck(call) },
            ],
            "/api/extra/abort": [.post: { server, call in try server.koboldAbort(call) }],
            "/api/extra/tokencount": [.post: { server, call in try server.koboldTokenCount(call) }],
            "/api/extra/detokenize": [.post: { server, call in try server.koboldDetokenize(call) }],
            // llama.cpp's server.
            "/completion": [.post: { server, call in try await server.llamaCompletion(call) }],
            "/tokenize": [.post: { server, call in try server.llamaTokenize(call) }],
            "/detokenize": [.post: { server, call in try server.llamaDetokenize(call) }],
            "/props": [.get: { server, _ in server.llamaProps() }],
            "/health": [.get: { _, _ in json(["status": "ok"]) }],
            // OpenAI.
            "/v1/models": [.get: { server, _ in server.openAIModels() }],
            "/v1/completions": [.post: { server, call in try await server.openAICompletion(call) }],
            "/v1/chat/completions": [.post: { server, call in try await server.openAIChatCompletion(call) }],
        ]
        for (path, methods) in routes where path.hasPrefix("/api/v1/") {
            routes["/api/latest/" + path.dropFirst("/api/v1/".count)] = methods
        }
        return routes
    }()

    /// Reachable without the key: the preflight (browsers never send credentials with it), the page (it asks for
    /// the key itself) and /health (public in llama.cpp's server too).
    private static let publicPaths: Set<String> = ["/", "/health"]

    func respond(to request: Request, context: ServeContext) async throws -> Response {
        let path = request.uri.path.count > 1 && request.uri.path.hasSuffix("/") ? String(request.uri.path.dropLast()) : request.uri.path
        var response: Response
        do {
            response = try await answer(request, path: path, context: context)
        } catch let error as APIError {
            response = json(error.body(forPath: path), status: error.status)
        } catch {
            response = json(APIError.internalError("\(error)").body(forPath: path), status: .internalServerError)
        }
        response.headers[.accessControlAllowOrigin] = "*"
        return response
    }

    private func answer(_ request: Request, path: String, context: ServeContext) async throws -> Response {
        guard let methods = Self.routes[path] else { throw APIError.notFound(path) }
        if request.method == .options { return preflight(request) }
        if let key = server.configuration.apiKey, !Self.publicPaths.contains(path),
           request.headers[.authorization].map({ $0.hasPrefix("Bearer ") && $0.dropFirst(7).trimmingCharacters(in: .whitespaces) == key }) != true {
            throw APIError.unauthorized()
        }
        guard let endpoint = methods[request.method] else {
            throw APIError.methodNotAllowed(request.method, path, allowed: methods.keys.sorted { $0.rawValue < $1.rawValue })
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: server.configuration.maxBodyBytes)
        } catch {
            throw APIError.tooLarge(limit: server.configuration.maxBodyBytes)
        }
        let connectionIsOpen = await HangUpWatcher.watch(context.channel)
        return try await endpoint(server, Call(path: path, body: Data(body.readableBytesView), connectionIsOpen: connectionIsOpen))
    }

    /// CORS preflight, as KoboldCpp and llama.cpp's server answer it: any origin, the headers asked for.
    private func preflight(_ request: Request) -> Response {
        var headers: HTTPFields = [
            .accessControlAllowMethods: "GET, POST, OPTIONS",
            .accessControlAllowHeaders: request.headers[.accessControlRequestHeaders] ?? "Authorization, Content-Type",
            .accessControlMaxAge: "86400",
        ]
        // Chrome asks before a public page (a hosted Kobold Lite) may call a server on this machine.
        if request.headers[HTTPField.Name("Access-Control-Request-Private-Network")!] != nil {
            headers[HTTPField.Name("Access-Control-Allow-Private-Network")!] = "true"
        }
        return Response(status: .ok, headers: headers)
    }
}

/// A JSON response.
func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: JSONOut.data(object))))
}

/// A server-sent-events response: `lines(event)` gives each event's SSE text. A write that fails means the client
/// has gone: the generation is cancelled then.
func eventStream(
    _ events: AsyncStream<GenerationEvent>, job: GenerationJob, format: @escaping @Sendable (GenerationEvent) -> [String]
) -> Response {
    Response(
        status: .ok,
        headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
        body: ResponseBody { writer in
            do {
                for await event in events {
                    for text in format(event) { try await writer.write(ByteBuffer(string: text)) }
                }
                try await writer.finish(nil)
            } catch {
                job.cancel()
                throw error
            }
        })
}

extension HTTPField.Name {
    static let accessControlAllowOrigin = HTTPField.Name("Access-Control-Allow-Origin")!
    static let accessControlAllowMethods = HTTPField.Name("Access-Control-Allow-Methods")!
    static let accessControlAllowHeaders = HTTPField.Name("Access-Control-Allow-Headers")!
    static let accessControlRequestHeaders = HTTPField.Name("Access-Control-Request-Headers")!
    static let accessControlMaxAge = HTTPField.Name("Access-Control-Max-Age")!
}
