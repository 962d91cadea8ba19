import Foundation
import Generation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The server reads each story once, and stops a generation as soon as nobody wants it.
@Suite(.serialized) struct ServerReadingTests {
    private func gatsby() throws -> String {
        try String(contentsOf: try Fixtures.require(Fixtures.book("gatsby.txt")), encoding: .utf8)
    }

    private func timed(_ body: () throws -> HTTPReply) rethrows -> (HTTPReply, Double) {
        let start = ContinuousClock.now
        let reply = try body()
        return (reply, (ContinuousClock.now - start) / .seconds(1))
    }

    @Test func aStoryResentWithOneMoreParagraphIsReadOnlyFromTheParagraph() throws {
        let server = try ServedModel(["--context", "131072"])
        defer { server.stop() }
        let book = try gatsby()
        let request: [String: Any] = ["max_length": 8, "temperature": 0, "rep_pen": 1]
        let (first, firstSeconds) = try timed { try server.send("POST", "/api/v1/generate", json: request.merging(["prompt": book]) { $1 }) }
        #expect(first.status == 200, "\(first.text)")
        let firstResult = try #require((first.json["results"] as? [[String: Any]])?.first)
        let firstTokens = try #require(firstResult["prompt_tokens"] as? Int)
        #expect(firstTokens > 60_000)
        #expect(firstResult["cached_tokens"] as? Int == 0)

        let grown = book + "\r\nThe next morning I drove over to West Egg again, and the house stood there as if nothing had happened.\r\n"
        let (second, secondSeconds) = try timed { try server.send("POST", "/api/v1/generate", json: request.merging(["prompt": grown]) { $1 }) }
        let secondResult = try #require((second.json["results"] as? [[String: Any]])?.first)
        let reused = try #require(secondResult["cached_tokens"] as? Int)
        // Every token of the first reading but where the new text joins it (BPE may merge across that seam).
        #expect(reused >= firstTokens - 2 && reused <= firstTokens, "reused \(reused) of \(firstTokens)")
        #expect(secondSeconds < firstSeconds / 4, "first \(firstSeconds) s, second \(secondSeconds) s")
        let perf = try server.send("GET", "/api/extra/perf").json
        #expect(perf["last_reused_count"] as? Int == reused)
        #expect(perf["last_input_count"] as? Int == (secondResult["prompt_tokens"] as? Int ?? 0) - reused)
        Self.record("Gatsby: first request \(firstTokens) prompt tokens in \(String(format: "%.2f", firstSeconds)) s; second reused \(reused), took \(String(format: "%.2f", secondSeconds)) s (\(String(format: "%.1f", firstSeconds / secondSeconds))x faster)")
    }

    /// What one server read is kept in the reading store; a server started later over the same store (its memory
    /// empty) starts from it, and writes what the first wrote.
    @Test func aSecondServerReusesWhatTheFirstKeptInTheStore() throws {
        let store = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-serve-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: store) }
        let request: [String: Any] = ["prompt": String(try gatsby().prefix(12_000)), "max_tokens": 6, "temperature": 0]
        func usage(_ reply: HTTPReply) -> (prompt: Int, cached: Int, text: String) {
            let usage = reply.json["usage"] as? [String: Any]
            return (usage?["prompt_tokens"] as? Int ?? -1, (usage?["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int ?? -1,
                    ((reply.json["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? "")
        }

        let first = try ServedModel(["--state-dir", store.path])
        let firstReply = usage(try first.send("POST", "/v1/completions", json: request))
        #expect(firstReply.prompt > 2000 && firstReply.cached == 0)
        // Kept after the response has gone out.
        let deadline = ContinuousClock.now + .seconds(60)
        while !first.stderr.contains("kept this reading"), ContinuousClock.now < deadline { usleep(20_000) }
        #expect(first.stderr.contains("kept this reading"), "\(first.stderr)")
        #expect(first.stop(), "the first server was still running")

        let second = try ServedModel(["--state-dir", store.path])
        defer { second.stop() }
        let secondReply = usage(try second.send("POST", "/v1/completions", json: request))
        // All but the last prompt token: the stored reading goes on past the prompt (what the first server wrote),
        // so the prediction right after the prompt is computed again.
        #expect(secondReply.cached == firstReply.prompt - 1, "reused \(secondReply.cached) of \(firstReply.prompt)")
        #expect(second.stderr.contains("reusing \(PrefillProgress.grouped(firstReply.prompt - 1)) of"), "\(second.stderr)")
        #expect(secondReply.text == firstReply.text)
        #expect(try second.send("GET", "/api/extra/perf").json["last_reused_count"] as? Int == firstReply.prompt - 1)

        // --no-state: neither looked at nor kept.
        let without = try ServedModel(["--no-state"])
        defer { without.stop() }
        let withoutReply = usage(try without.send("POST", "/v1/completions", json: request))
        #expect(withoutReply.cached == 0 && withoutReply.text == firstReply.text)
        #expect(!without.stderr.contains("store"), "\(without.stderr)")
    }

    /// Measurements go to a file named by STORYWRITER_SERVE_REPORT, never to stdout.
    static func record(_ line: String) {
        guard let path = ProcessInfo.processInfo.environment["STORYWRITER_SERVE_REPORT"] else { return }
        let handle = FileHandle(forWritingAtPath: path) ?? {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)!
        }()
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        handle.closeFile()
    }

    /// Streams until `predicate` holds for what has arrived, returning the open socket and the bytes so far.
    private func openStream(_ server: ServedModel, _ path: String, json: [String: Any], until predicate: (String) -> Bool) throws -> (Int32, Data) {
        let socket = try RawHTTP.connect(port: server.port, timeout: 60)
        try RawHTTP.write(socket, RawHTTP.request(method: "POST", path: path, headers: [:], body: try JSONSerialization.data(withJSONObject: json)))
        var received = Data()
        while !predicate(String(decoding: received, as: UTF8.self)) {
            let chunk = try RawHTTP.read(socket)
            if chunk.isEmpty { break }
            received.append(chunk)
        }
        return (socket, received)
    }

    private func waitUntilIdle(_ server: ServedModel, within seconds: Double) throws -> [String: Any] {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            let perf = try server.send("GET", "/api/extra/perf").json
            if perf["idle"] as? Int == 1 { return perf }
            usleep(10_000)
        }
        Issue.record("the server was still generating \(seconds) s later")
        return [:]
    }

    @Test func abortAndAClosedConnectionStopTheirGeneration() throws {
        let server = try ServedModel(["--context", "131072", "--chunk-size", "256"])
        defer { server.stop() }
        let long: [String: Any] = ["prompt": "It was a long night, and", "max_length": 6000, "temperature": 0.8, "rep_pen": 1.0, "genkey": "KCPPstop"]

        // Abort while writing: the stream ends within a token or so, with a reason.
        let (socket, _) = try openStream(server, "/api/extra/generate/stream", json: long) { $0.contains("event: message") }
        let abortedAt = ContinuousClock.now
        let abort = try server.send("POST", "/api/extra/abort", json: ["genkey": "KCPPstop"]).json
        #expect(abort["success"] as? String == "true")
        var rest = Data()
        while true {
            let chunk = try RawHTTP.read(socket)
            if chunk.isEmpty { break }
            rest.append(chunk)
        }
        close(socket)
        #expect((ContinuousClock.now - abortedAt) / .seconds(1) < 2)
        #expect(String(decoding: rest, as: UTF8.self).contains("\"finish_reason\":\"stop\""))
        let afterAbort = try waitUntilIdle(server, within: 2)
        #expect((afterAbort["last_token_count"] as? Int ?? 6000) < 6000)

        // A client that hangs up mid-stream.
        let (streaming, _) = try openStream(server, "/api/extra/generate/stream", json: long) { $0.contains("event: message") }
        close(streaming)
        let afterHangUp = try waitUntilIdle(server, within: 2)
        #expect((afterHangUp["last_token_count"] as? Int ?? 6000) < 6000)

        // A client that hangs up while waiting for a whole (non-streamed) answer.
        let waiting = try RawHTTP.connect(port: server.port, timeout: 60)
        try RawHTTP.write(waiting, RawHTTP.request(method: "POST", path: "/api/v1/generate", headers: [:], body: try JSONSerialization.data(withJSONObject: long)))
        usleep(300_000)
        close(waiting)
        let afterWaiting = try waitUntilIdle(server, within: 2)
        #expect((afterWaiting["last_token_count"] as? Int ?? 6000) < 6000)

        // Abort while the prompt is being read: noticed between chunks.
        let book: [String: Any] = ["prompt": try gatsby(), "max_length": 4, "genkey": "KCPPread"]
        let (reading, _) = try openStream(server, "/api/extra/generate/stream", json: book) { $0.contains("text/event-stream") }
        usleep(500_000)
        let readAbortedAt = ContinuousClock.now
        #expect(try server.send("POST", "/api/extra/abort", json: ["genkey": "KCPPread"]).json["success"] as? String == "true")
        while try !RawHTTP.read(reading).isEmpty {}
        close(reading)
        #expect((ContinuousClock.now - readAbortedAt) / .seconds(1) < 2)
        _ = try waitUntilIdle(server, within: 2)
        #expect(server.isRunning)
    }
}
