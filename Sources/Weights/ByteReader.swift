/// Bounds-checked little-endian reads from a mapped file; every read past the end is a `truncated` error.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String

    var count: Int { bytes.count }

    func integer<T: FixedWidthInteger>(_ type: T.Type, at offset: Int, _ what: @autoclosure () -> String) throws -> T {
        try checkRange(offset, MemoryLayout<T>.size, what())
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    func slice(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try checkRange(offset, length, what())
        return UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + length])
    }

    private func checkRange(_ offset: Int, _ length: Int, _ what: String) throws {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw WeightsError.truncated(file: file, detail: "\(what) at byte \(offset) runs past the end of the \(bytes.count)-byte file")
        }
    }
}
