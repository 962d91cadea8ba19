/// A tensor inside a mapped checkpoint file: row-major, contiguous, little-endian, never copied.
/// `bytes` points into the mapping and is valid while the `Checkpoint` that produced it lives;
/// it is aligned to the element width.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let dtype: TensorDType
    public let shape: [Int]
    public let bytes: UnsafeRawBufferPointer

    public var elementCount: Int { shape.reduce(1, *) }

    public init(name: String, dtype: TensorDType, shape: [Int], bytes: UnsafeRawBufferPointer) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }
}

/// A tensor located inside one mapped file: its bytes are `file.bytes[byteRange]`.
struct TensorEntry {
    let name: String
    let dtype: TensorDType
    let shape: [Int]
    let byteRange: Range<Int>

    /// The element count, or nil when a dimension is negative or the product overflows.
    static func elementCount(of shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// The byte count of a shape, or nil when it is impossible (negative or overflowing).
    static func byteCount(of shape: [Int], dtype: TensorDType) -> Int? {
        guard let count = elementCount(of: shape) else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteWidth)
        return overflow ? nil : bytes
    }
}
