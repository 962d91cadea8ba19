/// GPT-2's reversible map between bytes and printable characters. Byte-level BPE vocabularies spell every
/// token with these characters, so no token text contains a space or a control character.
enum ByteLevelAlphabet {
    /// The character that stands for each byte: printable Latin-1 bytes stand for themselves, the other
    /// 68 bytes take the code points from U+0100 on, in byte order.
    static let scalarValueForByte: [UInt32] = {
        var values = [UInt32](repeating: 0, count: 256)
        var nextShifted: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            if printable {
                values[byte] = UInt32(byte)
            } else {
                values[byte] = nextShifted
                nextShifted += 1
            }
        }
        return values
    }()

    /// The byte each character of the alphabet stands for (all lie below U+0144), -1 elsewhere.
    static let byteForScalarValue: [Int] = {
        var bytes = [Int](repeating: -1, count: 0x144)
        for (byte, value) in scalarValueForByte.enumerated() { bytes[Int(value)] = byte }
        return bytes
    }()

    /// The bytes a token spelled in this alphabet stands for, or nil if it uses a character outside it.
    static func bytes(of token: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard scalar.value < byteForScalarValue.count, byteForScalarValue[Int(scalar.value)] >= 0 else { return nil }
            bytes.append(UInt8(byteForScalarValue[Int(scalar.value)]))
        }
        return bytes
    }
}
