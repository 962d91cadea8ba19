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
