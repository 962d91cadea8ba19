import Foundation

/// How `storywriter serve` listens and what it holds in memory.
public struct ServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (tests); the bound one is reported by `StoryServer.run(onListening:)`.
    public var port: Int
    /// When set, every request but the CORS preflight, the writing page and /health needs
    /// `Authorization: Bearer KEY` (KoboldCpp and llama.cpp's server check the same header).
    public var apiKey: String?
    /// The name clients see (KoboldCpp's `koboldcpp/NAME`, OpenAI's model id).
    public var modelName: String
    /// Tokens a request may hold, prompt plus new tokens. MPT's ALiBi reads past the length it was trained for.
    public var contextLimit: Int
    /// The default and the largest `max_length` the KoboldAI API advertises.
    public var defaultMaxLength: Int
    /// Request bodies past this many bytes are refused (413): a 84k-token story is about 350 kB of JSON.
    public var maxBodyBytes: Int
    /// The stories whose reading is kept: at most this many, within `readingMemoryBytes` of KV cache.
    public var maxKeptReadings: Int
    public var readingMemoryBytes: Int
    /// Tokens per prefill chunk: also how often an abort or a closed connection is noticed while reading.
    public var chunkSize: Int

    public init(
        host: String = "127.0.0.1", port: Int = 5001, apiKey: String? = nil, modelName: String, contextLimit: Int,
        defaultMaxLength: Int = 256, maxBodyBytes: Int = 8 << 20, maxKeptReadings: Int = 4,
        readingMemoryBytes: Int = 4 << 30, chunkSize: Int = 512
    ) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.modelName = modelName
        self.contextLimit = contextLimit
        self.defaultMaxLength = defaultMaxLength
        self.maxBodyBytes = maxBodyBytes
        self.maxKeptReadings = maxKeptReadings
        self.readingMemoryBytes = readingMemoryBytes
        self.chunkSize = chunkSize
    }

    /// Whether `host` only accepts connections from this machine.
    public var isLoopback: Bool {
        ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
    }

    /// Refuses to expose the model beyond this machine without a key.
    public func validate() throws(ServerStartError) {
        if let apiKey, apiKey.isEmpty { throw .emptyAPIKey }
        if !isLoopback && apiKey == nil { throw .keyRequired(host: host) }
        guard (0...65535).contains(port) else { throw .invalidPort(port) }
        guard contextLimit >= 2 else { throw .invalidContext(contextLimit) }
    }
}

/// Why the server does not start.
public enum ServerStartError: Error, CustomStringConvertible, Equatable {
    case keyRequired(host: String)
    case emptyAPIKey
    case invalidPort(Int)
    case invalidContext(Int)

    public var description: String {
        switch self {
        case .keyRequired(let host):
            return "--host \(host) would let other machines use the model: give --api-key KEY as well (clients then send Authorization: Bearer KEY), or listen on 127.0.0.1"
        case .emptyAPIKey:
            return "--api-key is empty: give a key of at least one character"
        case .invalidPort(let port):
            return "--port \(port) is not a TCP port: use 1-65535 (or 0 for any free port)"
        case .invalidContext(let n):
            return "--context \(n) is too small: give at least 2 tokens"
        }
    }
}
