import CLZ4

/// Errors from LZ4 block compression.
public enum LZ4Error: Error, CustomStringConvertible {
    case inputTooLarge(Int)
    case corrupt(expectedBytes: Int)

    public var description: String {
        switch self {
        case .inputTooLarge(let n): return "LZ4: a block of \(n) bytes is larger than LZ4 can compress at once (2 GB)"
        case .corrupt(let n): return "LZ4: compressed block is corrupt (expected \(n) bytes after decompression); the spill or state file is damaged"
        }
    }
}

/// LZ4 block compression of raw bytes, used for spilled KV blocks and saved prefill states.
public enum LZ4 {
    public static func compress(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard input.count <= Int(LZ4_MAX_INPUT_SIZE) else { throw LZ4Error.inputTooLarge(input.count) }
        let bound = Int(LZ4_compressBound(Int32(input.count)))
        var output = [UInt8](repeating: 0, count: max(bound, 1))
        let written = output.withUnsafeMutableBytes { out in
            LZ4_compress_default(
                input.baseAddress?.assumingMemoryBound(to: CChar.self), out.baseAddress!.assumingMemoryBound(to: CChar.self),
                Int32(input.count), Int32(bound))
        }
        output.removeLast(output.count - Int(written))
        return output
    }

    /// Decompresses into `output`, which must be exactly the original size.
    public static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        let read = LZ4_decompress_safe(
            input.baseAddress?.assumingMemoryBound(to: CChar.self), output.baseAddress?.assumingMemoryBound(to: CChar.self),
            Int32(input.count), Int32(output.count))
        guard read == Int32(output.count) else { throw LZ4Error.corrupt(expectedBytes: output.count) }
    }
}
