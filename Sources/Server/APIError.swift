import Foundation
import Hummingbird

/// A request the server refuses, with the status and the message the client reads.
public struct APIError: Error, CustomStringConvertible, Equatable {
    public let status: HTTPResponse.Status
    /// llama.cpp's and OpenAI's `error.type`, e.g. `invalid_request_error`.
    public let type: String
    public let message: String

    public var description: String { message }

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, type: "invalid_request_error", message: message) }
    static func unauthorized() -> APIError {
        APIError(status: .unauthorized, type: "authentication_error", message: "Authentication key is missing or invalid: send the server's --api-key as Authorization: Bearer KEY.")
    }
    static func notFound(_ path: String) -> APIError {
        APIError(status: .notFound, type: "not_found_error", message: "No endpoint at \(path): see the README's \"Serving front-ends\" for the KoboldAI, llama.cpp and OpenAI paths this server answers.")
    }
    static func methodNotAllowed(_ method: HTTPRequest.Method, _ path: String, allowed: [HTTPRequest.Method]) -> APIError {
        APIError(status: .methodNotAllowed, type: "invalid_request_error", message: "\(path) does not answer \(method.rawValue): use \(allowed.map(\.rawValue).joined(separator: " or ")).")
    }
    static func tooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, type: "invalid_request_error", message: "The request body is larger than \(limit / (1 << 20)) MiB: send a shorter text.")
    }
    static func exceedsContext(tokens: Int, newTokens: Int, limit: Int) -> APIError {
        APIError(status: .badRequest, type: "exceed_context_size_error", message: "The prompt has \(tokens) tokens and up to \(newTokens) more were asked for, past the server's context of \(limit) tokens: send a shorter prompt, ask for fewer tokens, or set max_context_length to have the beginning cut.")
    }
    static func internalError(_ message: String) -> APIError { APIError(status: .internalServerError, type: "server_error", message: message) }

    /// The body in the style of the API the path belongs to: KoboldCpp's `detail` for /api/…, llama.cpp's and
    /// OpenAI's `error` otherwise.
    func body(forPath path: String) -> [String: Any] {
        if path.hasPrefix("/api/") {
            return ["detail": ["msg": message, "type": type]]
        }
        return ["error": ["code": Int(status.code), "message": message, "type": type]]
    }
}
