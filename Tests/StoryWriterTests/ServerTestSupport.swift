import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `storywriter serve` with the tiny model on a free loopback port, run as a user runs it.
final class ServedModel: @unchecked Sendable {
    let started: StoryWriterProcess.Started
    let logs: URL
    let port: Int
    /// From launch until the server said it was listening.
    let startupSeconds: Double

    /// Starts the server (with the tiny model unless `model` names another folder) and waits (at most 30 s) for its
    /// "serving … at http://127.0.0.1:PORT/" line.
    init(_ extraArguments: [String] = [], model: URL? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        logs = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let model = try model ?? Fixtures.require(Fixtures.model("tiny-storywriter"), sourceLocation: sourceLocation)
        started = try StoryWriterProcess.start(["serve", "--model", model.path, "--port", "0"] + extraArguments, logs: logs)
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            let stderr = (try? String(contentsOf: started.stderr, encoding: .utf8)) ?? ""
            if let range = stderr.range(of: #"http://127\.0\.0\.1:(\d+)/"#, options: .regularExpression) {
                let address = stderr[range]
                port = Int(address.split(separator: ":").last!.dropLast())!
                startupSeconds = (ContinuousClock.now - started.startedAt) / .seconds(1)
                return
            }
            if !started.process.isRunning || ContinuousClock.now > deadline {
                started.process.terminate()
                started.process.waitUntilExit()
                try? FileManager.default.removeItem(at: logs)
                throw ServerDidNotStart(stderr: stderr)
            }
            usleep(20_000)
        }
    }

    struct ServerDidNotStart: Error { let stderr: String }

    /// Stops the server (SIGTERM) and removes its logs; returns whether it was still alive (never crashed).
    @discardableResult
    func stop() -> Bool {
        let alive = started.process.isRunning
        started.process.terminate()
        started.process.waitUntilExit()
        try? FileManager.default.removeItem(at: logs)
        return alive
    }

    var isRunning: Bool { started.process.isRunning }

    /// What the server has written on stderr so far.
    var stderr: String { (try? String(contentsOf: started.stderr, encoding: .utf8)) ?? "" }

    /// The server's resident memory in KiB, from /proc.
    var residentKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(started.process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func send(_ method: String, _ path: String, json: Any? = nil, body: Data? = nil, headers: [String: String] = [:], timeout: Double = 120) throws -> HTTPReply {
        let data = try body ?? json.map { try JSONSerialization.data(withJSONObject: $0) }
        return try RawHTTP.exchange(port: port, method: method, path: path, headers: headers, body: data, timeout: timeout)
    }
}

/// A response as read off the socket.
struct HTTPReply {
    let status: Int
    /// Lower-cased names.
    let headers: [String: String]
    let body: Data

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }

    /// The `data:` payloads of a server-sent-events body, with the `event:` name before each (nil when none).
    var events: [(name: String?, data: String)] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var name: String?
            var data: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            return data.map { (name, $0) }
        }
    }
}

/// HTTP/1.1 over a plain socket: the tests see exactly what the server sends, and can hang up mid-response.
enum RawHTTP {
    static func connect(port: Int, timeout: Double) throws -> Int32 {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure("socket() failed") }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw Failure("connect to 127.0.0.1:\(port) failed")
        }
        return socket
    }

    static func request(method: String, path: String, headers: [String: String], body: Data?) -> Data {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        return Data((head + "\r\n").utf8) + (body ?? Data())
    }

    static func write(_ socket: Int32, _ data: Data) throws {
        var sent = 0
        while sent < data.count {
            let n = data.withUnsafeBytes { Glibc.send(socket, $0.baseAddress! + sent, data.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure("send failed") }
            sent += n
        }
    }

    /// Reads up to `count` bytes (fewer at the end); empty once the server has closed.
    static func read(_ socket: Int32, upTo count: Int = 65536) throws -> Data {
        var buffer = [UInt8](repeating: 0, count: count)
        let n = recv(socket, &buffer, count, 0)
        guard n >= 0 else { throw Failure("recv failed or timed out") }
        return Data(buffer[0..<n])
    }

    static func exchange(port: Int, method: String, path: String, headers: [String: String] = [:], body: Data? = nil, timeout: Double = 120) throws -> HTTPReply {
        let socket = try connect(port: port, timeout: timeout)
        defer { close(socket) }
        // A server may answer (413) before reading all of a large body, and close: the reply still counts.
        try? write(socket, request(method: method, path: path, headers: headers, body: body))
        var raw = Data()
        while true {
            let chunk = try read(socket)
            if chunk.isEmpty { break }
            raw.append(chunk)
        }
        return try parse(raw)
    }

    static func parse(_ raw: Data) throws -> HTTPReply {
        guard let split = raw.range(of: Data("\r\n\r\n".utf8)) else { throw Failure("no complete response head: \(String(decoding: raw, as: UTF8.self))") }
        let head = String(decoding: raw[..<split.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else {
            throw Failure("bad status line")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(raw[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunked(body) }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    static func dechunked(_ data: Data) -> Data {
        var result = Data()
        var index = data.startIndex
        while let lineEnd = data[index...].range(of: Data("\r\n".utf8)) {
            let size = Int(String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? "", radix: 16) ?? 0
            if size == 0 { break }
            let start = lineEnd.upperBound
            let end = min(data.endIndex, start + size)
            result.append(data[start..<end])
            index = min(data.endIndex, end + 2)
        }
        return result
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
