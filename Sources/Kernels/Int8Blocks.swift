/// The `q8` number format, shared by the KV cache and `--weights q8`: a row of values is cut into groups of 32
/// (the last may be shorter), each stored as a float32 scale followed by one signed byte per value.
/// Symmetric absmax quantization: scale = max|x| / 127, q = round(x / scale) (half away from zero),
/// x ≈ q · scale; 1.125 bytes per value.
///
/// A whole group's 32 bytes are read as eight 32-bit words, and byte k of word i holds value 8k + i, so that
/// shifting all eight words by 8k yields values 8k..<8k+8 in order, in plain vector operations (the standard
/// library's SIMD integer widening is not reliably inlined and would cost several times the arithmetic).
/// A short last group is stored in order.
public enum Int8Blocks {
    public static let group = 32

    /// Bytes of one encoded row of `count` values.
    public static func rowBytes(_ count: Int) -> Int {
        (count + group - 1) / group * MemoryLayout<Float>.size + count
    }

    public static func encode(_ values: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer) {
        var output = destination
        var first = 0
        while first < count {
            let n = min(group, count - first)
            let groupValues = values + first
            var absmax: Float = 0
            for index in 0..<n { absmax = max(absmax, abs(groupValues[index])) }
            let scale = absmax / 127
            output.storeBytes(of: scale, as: Float.self)
            let codes = (output + MemoryLayout<Float>.size).assumingMemoryBound(to: Int8.self)
            for index in 0..<n {
                let code = scale > 0 ? Int8(max(-127, min(127, (groupValues[index] / scale).rounded()))) : 0
                codes[n == group ? 4 * (index % 8) + index / 8 : index] = code
            }
            output += MemoryLayout<Float>.size + n
            first += n
        }
    }

    /// Widens one encoded row of `count` values into float32.
    public static func decode(_ row: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        var cursor = row
        var first = 0
        while first + group <= count {
            let scale = cursor.loadUnaligned(as: Float.self)
            let words = cursor.loadUnaligned(fromByteOffset: MemoryLayout<Float>.size, as: SIMD8<UInt32>.self)
            for lane in 0..<4 {
                Vector.store(lanes(words, lane) * scale, to: destination + first + lane * 8)
            }
            cursor += groupBytes
            first += group
        }
        if first < count {
            let scale = cursor.loadUnaligned(as: Float.self)
            for index in first..<count {
                destination[index] = Float(cursor.load(fromByteOffset: MemoryLayout<Float>.size + index - first, as: Int8.self)) * scale
            }
        }
    }

    /// The dot product of one encoded row with float32 `x`, without widening the row to memory: the decode
    /// kernel for `--weights q8`, which streams 1.125 bytes per weight instead of bfloat16's 2.
    public static func dot(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int) -> Float {
        // Two groups per step into two sums: one sum would wait on its own multiply-add every group.
        var total = SIMD8<Float>(), other = SIMD8<Float>()
        var cursor = row
        var first = 0
        while first + 2 * group <= count {
            Prefetch.ahead(of: cursor, by: Prefetch.q8Distance)
            total = total.addingProduct(groupProducts(cursor, x + first), cursor.loadUnaligned(as: Float.self))
            let next = cursor + groupBytes
            other = other.addingProduct(groupProducts(next, x + first + group), next.loadUnaligned(as: Float.self))
            cursor += 2 * groupBytes
            first += 2 * group
        }
        if first + group <= count {
            total = total.addingProduct(groupProducts(cursor, x + first), cursor.loadUnaligned(as: Float.self))
            cursor += groupBytes
            first += group
        }
        total += other
        var tail: Float = 0
        if first < count {
            for index in first..<count {
                tail += Float(cursor.load(fromByteOffset: MemoryLayout<Float>.size + index - first, as: Int8.self)) * x[index]
            }
            tail *= cursor.loadUnaligned(as: Float.self)
        }
        return total.sum() + tail
    }

    /// Σ code·x over one whole group at `group`, before its scale.
    @inline(__always)
    private static func groupProducts(_ group: UnsafeRawPointer, _ xs: UnsafePointer<Float>) -> SIMD8<Float> {
        let words = group.loadUnaligned(fromByteOffset: MemoryLayout<Float>.size, as: SIMD8<UInt32>.self)
        var products = lanes(words, 0) * Vector.load(xs)
        products = products.addingProduct(lanes(words, 1), Vector.load(xs + 8))
        products = products.addingProduct(lanes(words, 2), Vector.load(xs + 16))
        return products.addingProduct(lanes(words, 3), Vector.load(xs + 24))
    }

    /// Bytes of one whole group: its scale and 32 codes.
    private static let groupBytes = MemoryLayout<Float>.size + group

    /// Values 8·lane ..< 8·lane + 8 of a group as float32, from its bytes read as eight words: take byte `lane`
    /// of each word, bias it to unsigned, place it in the mantissa of 2^23 and subtract 2^23 + 128 (exact).
    @inline(__always)
    private static func lanes(_ words: SIMD8<UInt32>, _ lane: Int) -> SIMD8<Float> {
        let biased = ((words ^ 0x8080_8080) &>> UInt32(8 * lane)) & 0xFF
        return unsafeBitCast(biased | 0x4B00_0000, to: SIMD8<Float>.self) - 8_388_736
    }
}
