import Foundation

/// Why a manuscript could not be read as text; each message is one line that says what to do.
public enum ManuscriptError: Error, CustomStringConvertible, Equatable, Sendable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    /// A NUL byte: the file is binary (a PDF, a .docx, UTF-16 text), not a plain-text manuscript.
    case binaryContent(path: String, byteOffset: Int)
    case invalidUTF8(path: String, byteOffset: Int)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "manuscript \(path) does not exist; check the path."
        case .unreadable(let path, let reason):
            "cannot read manuscript \(path): \(reason); check that it is a readable file."
        case .binaryContent(let path, let offset):
            "\(path) looks like a binary file (a NUL byte at byte offset \(offset)), not a manuscript; save the book as plain text (UTF-8)."
        case .invalidUTF8(let path, let offset):
            "\(path) is not valid UTF-8 (at byte offset \(offset)); save the book as plain text in UTF-8."
        }
    }
}

/// A manuscript's text as the model reads it: UTF-8, a leading byte-order mark dropped, CRLF line ends
/// turned into LF (so Windows files tokenize like the text their author sees). What was dropped is
/// recorded so a writer can put new text back in the file's own convention.
public struct ManuscriptText: Sendable, Equatable {
    public let text: String
    public let hasByteOrderMark: Bool
    public let usesCRLF: Bool

    /// Runs of non-whitespace, counted as Python's `str.split()` counts words.
    public var wordCount: Int {
        var count = 0
        var inWord = false
        for scalar in text.unicodeScalars {
            let isSpace = Self.separatesWords(scalar)
            if !isSpace && !inWord { count += 1 }
            inWord = !isSpace
        }
        return count
    }

    /// True when the text has nothing but whitespace: no story to continue.
    public var isBlank: Bool { wordCount == 0 }

    public static func read(contentsOf url: URL) throws -> ManuscriptText {
        let path = url.path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw ManuscriptError.fileNotFound(path: path)
        }
        if isFolder.boolValue { throw ManuscriptError.unreadable(path: path, reason: "it is a folder") }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ManuscriptError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        return try ManuscriptText(bytes: [UInt8](data), path: path)
    }

    /// Decodes a manuscript's bytes; `path` names it in errors, whose byte offsets count from the file's start.
    public init(bytes: [UInt8], path: String) throws {
        if let nul = bytes.firstIndex(of: 0) { throw ManuscriptError.binaryContent(path: path, byteOffset: nul) }
        if let offset = Self.firstInvalidUTF8Offset(bytes) { throw ManuscriptError.invalidUTF8(path: path, byteOffset: offset) }
        hasByteOrderMark = bytes.starts(with: [0xEF, 0xBB, 0xBF])
        let body = hasByteOrderMark ? bytes[3...] : bytes[...]
        var lineFeedsOnly: [UInt8] = []
        lineFeedsOnly.reserveCapacity(body.count)
        var sawCRLF = false
        var index = body.startIndex
        while index < body.endIndex {
            let byte = body[index]
            if byte == 0x0D && index + 1 < body.endIndex && body[index + 1] == 0x0A {
                sawCRLF = true
            } else {
                lineFeedsOnly.append(byte)
            }
            index += 1
        }
        usesCRLF = sawCRLF
        text = String(decoding: lineFeedsOnly, as: UTF8.self)
    }

    /// Unicode White_Space, plus the four ASCII separators U+001C...U+001F that Python also splits on.
    private static func separatesWords(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 {
            return (0x09...0x0D).contains(scalar.value) || (0x1C...0x20).contains(scalar.value)
        }
        return scalar.properties.isWhitespace
    }

    /// The offset of the first byte that does not continue a well-formed UTF-8 sequence (Unicode table 3-7).
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondRange = 0x80...0x9F
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondRange = 0x80...0x8F
            default: return index
            }
            for position in 1..<length {
                guard index + position < count else { return index }
                let byte = bytes[index + position]
                let valid = position == 1 ? secondRange.contains(byte) : (0x80...0xBF).contains(byte)
                if !valid { return index }
            }
            index += length
        }
        return nil
    }
}

/// A book's line-end convention: text the model writes (always LF) is stored the way the book already is.
public enum LineEnding: Sendable, Equatable {
    case lf
    case crlf

    public var bytes: [UInt8] { self == .crlf ? [0x0D, 0x0A] : [0x0A] }

    /// The bytes of `text` with every line end (LF or CRLF) written in this convention.
    public func encode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == 0x0A {
                if previous == 0x0D { out.removeLast() }
                out.append(contentsOf: bytes)
            } else {
                out.append(byte)
            }
            previous = byte
        }
        return out
    }
}
