import Basics
import Foundation
import Tokenizer

/// A request's JSON object, read field by field: a missing or null field is nil, a field of the wrong type or
/// out of range is a 400 naming it. Fields nobody reads are ignored, as KoboldCpp and llama.cpp ignore them.
struct JSONFields {
    private let object: [String: JSONValue]

    init(body: Data) throws(APIError) {
        let parsed: JSONValue
        do {
            parsed = try JSONParser.parse(body.isEmpty ? Array("{}".utf8) : [UInt8](body))
        } catch let error as JSONSyntaxError {
            throw .badRequest("The request body is not valid JSON: \(error.problem) at byte \(error.offset).")
        } catch {
            throw .badRequest("The request body is not valid JSON: \(error).")
        }
        guard let object = parsed.object else { throw .badRequest("The request body must be a JSON object ({…}).") }
        self.object = object
    }

    init(object: [String: JSONValue]) {
        self.object = object
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    /// The field as it was sent, for a field of several possible shapes; nil when missing or null.
    func value(_ key: String) -> JSONValue? {
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.string else { throw .badRequest("\(key) must be a string.") }
        return string
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let bool = value.bool else { throw .badRequest("\(key) must be true or false.") }
        return bool
    }

    func double(_ key: String, in range: ClosedRange<Double>? = nil) throws(APIError) -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value.double, number.isFinite else { throw .badRequest("\(key) must be a number.") }
        if let range, !range.contains(number) {
            throw .badRequest("\(key) must be between \(range.lowerBound) and \(range.upperBound) (got \(number)).")
        }
        return number
    }

    func int(_ key: String, in range: ClosedRange<Int>? = nil) throws(APIError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = value.int else { throw .badRequest("\(key) must be a whole number.") }
        if let range, !range.contains(number) {
            throw .badRequest("\(key) must be between \(range.lowerBound) and \(range.upperBound) (got \(number)).")
        }
        return number
    }

    /// A string or a list of strings (OpenAI's and llama.cpp's `stop`).
    func strings(_ key: String) throws(APIError) -> [String]? {
        guard let value = value(key) else { return nil }
        if let one = value.string { return [one] }
        guard let list = value.array, list.allSatisfy({ $0.string != nil }) else { throw .badRequest("\(key) must be a string or a list of strings.") }
        return list.compactMap(\.string)
    }

    /// A list of JSON objects (OpenAI's `messages`), each read field by field; `name` says what one is in a message.
    func objects(_ key: String, name: String) throws(APIError) -> [JSONFields]? {
        guard let value = value(key) else { return nil }
        guard let list = value.array else { throw .badRequest("\(key) must be a list of \(name) objects.") }
        var objects: [JSONFields] = []
        for (position, element) in list.enumerated() {
            guard let object = element.object else { throw .badRequest("\(key)[\(position)] must be a \(name) object ({…}).") }
            objects.append(JSONFields(object: object))
        }
        return objects
    }

    /// An object of numbers keyed by text (OpenAI's `logit_bias`: token id → bias).
    func numbers(_ key: String) throws(APIError) -> [String: Double]? {
        guard let value = value(key) else { return nil }
        guard let members = value.object else { throw .badRequest("\(key) must be an object of numbers, e.g. {\"50256\": -100}.") }
        var numbers: [String: Double] = [:]
        for (name, member) in members {
            guard let number = member.double, number.isFinite else { throw .badRequest("\(key)[\"\(name)\"] must be a number.") }
            numbers[name] = number
        }
        return numbers
    }

    func ints(_ key: String) throws(APIError) -> [Int]? {
        guard let value = value(key) else { return nil }
        guard let list = value.array, list.allSatisfy({ $0.int != nil }) else { throw .badRequest("\(key) must be a list of whole numbers (token ids).") }
        return list.compactMap(\.int)
    }
}

/// JSON out: objects built from dictionaries, as the reference servers' shapes are easiest to read that way.
enum JSONOut {
    static func data(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes, .sortedKeys])) ?? Data("{}".utf8)
    }

    static func string(_ object: Any) -> String { String(decoding: data(object), as: UTF8.self) }
}
