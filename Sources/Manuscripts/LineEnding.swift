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
