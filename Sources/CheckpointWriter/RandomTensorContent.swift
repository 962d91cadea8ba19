import Basics
import Foundation
import Weights

/// Deterministic random tensor data, produced chunk by chunk so a 13 GB checkpoint never sits in memory.
/// Each element is a function of (seed, tensor name, index), so the same seed gives the same tensors in any
/// format or sharding. Values are uniform with a chosen mean and standard deviation (bounded, so every
/// activation of a forward pass stays finite).
struct RandomTensorContent {
    let dtype: TensorDType
    let elementCount: Int
    let mean: Float
    let standardDeviation: Float
    let seed: UInt64

    static let chunkElements = 1 << 22

    init(name: String, shape: [Int], dtype: TensorDType, seed: UInt64) {
        self.dtype = dtype
        elementCount = shape.reduce(1, *)
        // Like the fixtures' generator: norms near 1, embeddings with logits of unit scale, linear layers
        // scaled by fan-in so each layer's output keeps the scale of its input.
        let fanIn = Float(shape.last ?? 1)
        (mean, standardDeviation) = shape.count == 1 ? (1, 0.1) : (0, 1 / fanIn.squareRoot())
        self.seed = Self.mix(seed ^ FNV1a.hash(name.utf8))
    }

    /// Calls `write` with consecutive chunks that together hold the whole tensor.
    func produce(_ write: (UnsafeRawBufferPointer) throws -> Void) throws {
        let width = dtype.byteWidth
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: min(elementCount, Self.chunkElements) * width, alignment: 64)
        defer { chunk.deallocate() }
        var start = 0
        while start < elementCount {
            let count = min(Self.chunkElements, elementCount - start)
            let pieces = count >= 1 << 16 ? ProcessInfo.processInfo.activeProcessorCount : 1
            let perPiece = (count + pieces - 1) / pieces
            let base = start
            nonisolated(unsafe) let target = chunk // each piece writes a disjoint range
            DispatchQueue.concurrentPerform(iterations: pieces) { piece in
                let lower = piece * perPiece, upper = min(count, lower + perPiece)
                if lower < upper { fill(target, elements: lower ..< upper, firstIndex: base) }
            }
            try write(UnsafeRawBufferPointer(rebasing: chunk[0 ..< count * width]))
            start += count
        }
    }

    /// Fills `elements` of the chunk with tensor elements `firstIndex + element`; four 16-bit draws per hash.
    private func fill(_ chunk: UnsafeMutableRawBufferPointer, elements: Range<Int>, firstIndex: Int) {
        let halfWidth = standardDeviation * Float(3).squareRoot()
        let scale = halfWidth / 32768, offset = mean - halfWidth + scale / 2
        var element = elements.lowerBound
        while element < elements.upperBound {
            let index = firstIndex + element
            var random = Self.mix(seed &+ UInt64(index / 4))
            random >>= UInt64(16 * (index % 4))
            let value = offset + Float(UInt16(truncatingIfNeeded: random)) * scale
            switch dtype {
            case .float32: chunk.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: element * 4, as: UInt32.self)
            case .bfloat16: chunk.storeBytes(of: Self.bfloat16Bits(value).littleEndian, toByteOffset: element * 2, as: UInt16.self)
            case .float16: chunk.storeBytes(of: Self.float16Bits(value).littleEndian, toByteOffset: element * 2, as: UInt16.self)
            }
            element += 1
        }
    }

    /// SplitMix64's finalizer: a strong 64-bit mix of a counter.
    private static func mix(_ input: UInt64) -> UInt64 {
        var z = input &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Round to nearest even; our values are finite and far from overflow.
    static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
    }

    static func float16Bits(_ value: Float) -> UInt16 {
        let sign = UInt16(truncatingIfNeeded: (value.bitPattern >> 16) & 0x8000)
        let magnitude = abs(value)
        if magnitude >= 65520 { return sign | 0x7C00 }
        if magnitude < 6.103_515_625e-05 { return sign | UInt16((magnitude * 16_777_216).rounded(.toNearestOrEven)) }
        let bits = magnitude.bitPattern
        let rounded = bits &+ 0x0FFF &+ ((bits >> 13) & 1)
        return sign | UInt16(truncatingIfNeeded: (rounded >> 13) &- ((127 - 15) << 10))
    }
}
