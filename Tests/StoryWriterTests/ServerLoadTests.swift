import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Several hundred mixed requests on loopback: the server never falls over, answers right afterwards, and gives
/// its memory back.
@Suite struct ServerLoadTests {
    /// What one request of the mix sends and what it must get back.
    private enum Kind: CaseIterable {
        case koboldGenerate, openAICompletion, llamaStream, tokenize, malformed, wrongType, unknownPath, wrongMethod, oversized, aborted, hungUp, concurrentCheck
    }

    private static var reference: [String: Any] { ["prompt": "The lamps along the river", "max_length": 24, "temperature": 0, "rep_pen": 1.1] }

    private func referenceText(_ server: ServedModel) throws -> String {
        let reply = try server.send("POST", "/api/v1/generate", json: Self.reference)
        return (reply.json["results"] as? [[String: Any]])?.first?["text"] as? String ?? "<\(reply.status) \(reply.text)>"
    }

    /// Sends one request of `kind` (the `index`th of the run) and says what went wrong, if anything.
    private func exercise(_ kind: Kind, index: Int, server: ServedModel) -> String? {
        do {
            switch kind {
            case .koboldGenerate:
                let reply = try server.send("POST", "/api/v1/generate", json: ["prompt": "Story \(index % 7): the door", "max_length": 4, "sampler_seed": index])
                return reply.status == 200 && (reply.json["results"] as? [[String: Any]])?.first?["text"] is String ? nil : "generate \(reply.status)"
            case .openAICompletion:
                let reply = try server.send("POST", "/v1/completions", json: ["prompt": "Chapter \(index % 5)", "max_tokens": 3, "n": 2, "seed": index])
                return reply.status == 200 && (reply.json["choices"] as? [Any])?.count == 2 ? nil : "completions \(reply.status)"
            case .llamaStream:
                let reply = try server.send("POST", "/completion", json: ["prompt": "She said", "n_predict": 3, "stream": true])
                return reply.status == 200 && reply.events.last.map { $0.data.contains("\"stop\":true") } == true ? nil : "stream \(reply.status)"
            case .tokenize:
                let reply = try server.send("POST", "/tokenize", json: ["content": "token \(index)"])
                return reply.status == 200 ? nil : "tokenize \(reply.status)"
            case .malformed:
                let reply = try server.send("POST", "/api/v1/generate", body: Data("{\"prompt\": \"unterminated".utf8))
                return reply.status == 400 ? nil : "malformed \(reply.status)"
            case .wrongType:
                let reply = try server.send("POST", "/v1/completions", json: ["prompt": "x", "max_tokens": "many"])
                return reply.status == 400 ? nil : "wrong type \(reply.status)"
            case .unknownPath:
                let reply = try server.send("GET", "/api/v2/nothing/\(index)")
                return reply.status == 404 ? nil : "unknown path \(reply.status)"
            case .wrongMethod:
                let reply = try server.send("PUT", "/completion", json: ["prompt": "x"])
                return reply.status == 405 ? nil : "wrong method \(reply.status)"
            case .oversized:
                let reply = try server.send("POST", "/completion", body: Data(repeating: 0x61, count: 9 << 20))
                return reply.status == 413 ? nil : "oversized \(reply.status)"
            case .aborted:
                let key = "KCPPload\(index)"
                let socket = try RawHTTP.connect(port: server.port, timeout: 30)
                defer { close(socket) }
                try RawHTTP.write(socket, RawHTTP.request(method: "POST", path: "/api/extra/generate/stream", headers: [:], body: try JSONSerialization.data(withJSONObject: [
                    "prompt": "A long tale \(index)", "max_length": 400, "genkey": key])))
                usleep(20_000)
                _ = try server.send("POST", "/api/extra/abort", json: ["genkey": key])
                while try !RawHTTP.read(socket).isEmpty {}
                return nil
            case .hungUp:
                let socket = try RawHTTP.connect(port: server.port, timeout: 30)
                try RawHTTP.write(socket, RawHTTP.request(method: "POST", path: index % 2 == 0 ? "/api/v1/generate" : "/api/extra/generate/stream",
                                                         headers: [:], body: try JSONSerialization.data(withJSONObject: ["prompt": "Gone \(index)", "max_length": 400])))
                usleep(10_000)
                close(socket)
                return nil
            case .concurrentCheck:
                let reply = try server.send("POST", "/api/extra/generate/check", json: [String: Any]())
                return reply.status == 200 ? nil : "check \(reply.status)"
            }
        } catch {
            return "\(kind): \(error)"
        }
    }

    private func waitUntilIdle(_ server: ServedModel) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while try server.send("GET", "/api/extra/perf").json["idle"] as? Int != 1, ContinuousClock.now < deadline { usleep(20_000) }
    }

    @Test func hundredsOfMixedRequestsLeaveTheServerWellAndItsMemoryBack() throws {
        let server = try ServedModel(["--context", "2048"])
        defer { server.stop() }
        let before = try referenceText(server)
        let requestsPerRound = 180, clients = 6
        let failures = FailureLog()
        let deadline = ContinuousClock.now + .seconds(60)
        func runRound(_ round: Int) throws {
            DispatchQueue.concurrentPerform(iterations: clients) { client in
                for index in stride(from: client, to: requestsPerRound, by: clients) where ContinuousClock.now < deadline {
                    let kind = Kind.allCases[index % Kind.allCases.count]
                    if let failure = exercise(kind, index: round * requestsPerRound + index, server: server) { failures.add(failure) }
                }
            }
            try waitUntilIdle(server)
        }
        // A first round of the mix brings the allocator's per-thread arenas and the kept readings to their working
        // size, so that the level before the run includes what the server holds for good.
        try runRound(0)
        let residentBefore = server.residentKiB

        // Three more rounds: the memory must come back near that level and stop growing. A round's level can dip when
        // an arena is trimmed, so the last round is compared with the one before it: a leak of more than about 45 KB
        // per request would grow it by 8 MB.
        let rounds = 3
        let start = ContinuousClock.now
        var residentAfterRound: [Int] = []
        for round in 1...rounds {
            try runRound(round)
            residentAfterRound.append(server.residentKiB)
        }
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        #expect(seconds < 60, "the run took \(seconds) s")
        #expect(failures.all.isEmpty, "\(failures.all.prefix(10))")
        #expect(server.isRunning)

        // The same answer as before the run, and the memory back near where it was.
        #expect(try referenceText(server) == before)
        let residentAfter = server.residentKiB
        #expect(residentAfter < residentBefore + max(residentBefore / 4, 32 * 1024), "RSS \(residentBefore) KiB before, \(residentAfterRound) KiB after each round")
        #expect(residentAfterRound[2] < residentAfterRound[1] + 8 * 1024, "RSS \(residentAfterRound) KiB after each round")
        ServerReadingTests.record("load: \((rounds + 1) * requestsPerRound) requests from \(clients) clients in \(String(format: "%.1f", seconds)) s, \(failures.all.count) failures; RSS \(residentBefore) KiB before, \(residentAfterRound) KiB after each round, \(residentAfter) KiB at the end")
    }
}

/// The failures the client threads report.
private final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String] = []

    func add(_ failure: String) {
        lock.lock()
        entries.append(failure)
        lock.unlock()
    }

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return entries
    }
}
