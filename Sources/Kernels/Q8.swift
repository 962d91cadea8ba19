#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// The `q8` number format, shared by the KV cache and `--weights q8`: a row of values is cut into groups of 32
/// (the last may be shorter), each stored as a float32 scale followed by one signed byte per value.
/// Symmetric absmax quantization: scale = max|x| / 127, q = round(x / scale) (half away from zero),
/// x ≈ q · scale; 1.125 bytes per value.
///
/// A whole group's 32 bytes are read as eight 32-bit words, and byte k of word i holds value 8k + i, so that
/// shifting all eight words by 8k yields values 8k..<8k+8 in order, in plain vector operations (the standard
/// library's SIMD integer widening is not reliably inlined and would cost several times the arithmetic).
/// A short last group is stored in order.
public enum Q8 {
    /// Values per scale: 32 keeps the error of an outlier local, as in llama.cpp's q8_0 and q4_0 (KV `q4` uses
    /// the same groups).
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
                codes[n == group ? storedPosition(index) : index] = code
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

    /// Where value `index` of a whole group sits among its 32 bytes.
    @inline(__always)
    static func storedPosition(_ index: Int) -> Int { 4 * (index % 8) + index / 8 }

    /// The dot products of two encoded rows with `input` (quantized in the same groups and order), read side by
    /// side (see `MatrixVector`), without widening the rows to memory: the decode kernel for `--weights q8`, which
    /// streams 1.125 bytes per weight instead of bfloat16's 2. Each row's sum is the same as if it were read alone.
    public static func dots(_ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ input: Int16Groups) -> (Float, Float) {
        let count = input.count
        // Two groups per step into two sums per row: one sum would wait on its own multiply-add every group.
        var firstSums = (SIMD8<Float>(), SIMD8<Float>()), secondSums = (SIMD8<Float>(), SIMD8<Float>())
        var offset = 0
        var groupIndex = 0
        while (groupIndex + 2) * group <= count {
            Prefetch.ahead(of: first + offset, by: Prefetch.q8Distance)
            Prefetch.ahead(of: second + offset, by: Prefetch.q8Distance)
            add(StoredGroup(first + offset), group: groupIndex, of: input, to: &firstSums.0)
            add(StoredGroup(first + offset + groupBytes), group: groupIndex + 1, of: input, to: &firstSums.1)
            add(StoredGroup(second + offset), group: groupIndex, of: input, to: &secondSums.0)
            add(StoredGroup(second + offset + groupBytes), group: groupIndex + 1, of: input, to: &secondSums.1)
            offset += 2 * groupBytes
            groupIndex += 2
        }
        if (groupIndex + 1) * group <= count {
            add(StoredGroup(first + offset), group: groupIndex, of: input, to: &firstSums.0)
            add(StoredGroup(second + offset), group: groupIndex, of: input, to: &secondSums.0)
            offset += groupBytes
            groupIndex += 1
        }
        return (
            total(firstSums, partialGroup: groupIndex, at: first + offset, of: input),
            total(secondSums, partialGroup: groupIndex, at: second + offset, of: input))
    }

    /// One encoded row's dot products with four inputs (several texts decoded together): each group's codes are
    /// widened once for all four, and each input's sum is bitwise what `dots(_:_:_:)` gives for it alone (the
    /// same two sums, added in the same order).
    public static func dots(
        _ row: UnsafeRawPointer, _ a: Int16Groups, _ b: Int16Groups, _ c: Int16Groups, _ d: Int16Groups
    ) -> SIMD4<Float> {
        let count = a.count
        var sumsA = (SIMD8<Float>(), SIMD8<Float>()), sumsB = sumsA, sumsC = sumsA, sumsD = sumsA
        var offset = 0
        var groupIndex = 0
        while (groupIndex + 2) * group <= count {
            Prefetch.ahead(of: row + offset, by: Prefetch.q8Distance)
            // One group for the four inputs, then the next: two widened groups and eight sums would not fit in
            // the sixteen vector registers.
            let even = StoredGroup(row + offset)
            add(even, group: groupIndex, of: a, to: &sumsA.0)
            add(even, group: groupIndex, of: b, to: &sumsB.0)
            add(even, group: groupIndex, of: c, to: &sumsC.0)
            add(even, group: groupIndex, of: d, to: &sumsD.0)
            let odd = StoredGroup(row + offset + groupBytes)
            add(odd, group: groupIndex + 1, of: a, to: &sumsA.1)
            add(odd, group: groupIndex + 1, of: b, to: &sumsB.1)
            add(odd, group: groupIndex + 1, of: c, to: &sumsC.1)
            add(odd, group: groupIndex + 1, of: d, to: &sumsD.1)
            offset += 2 * groupBytes
            groupIndex += 2
        }
        if (groupIndex + 1) * group <= count {
            let last = StoredGroup(row + offset)
            add(last, group: groupIndex, of: a, to: &sumsA.0)
            add(last, group: groupIndex, of: b, to: &sumsB.0)
            add(last, group: groupIndex, of: c, to: &sumsC.0)
            add(last, group: groupIndex, of: d, to: &sumsD.0)
            offset += groupBytes
            groupIndex += 1
        }
        return SIMD4(
            total(sumsA, partialGroup: groupIndex, at: row + offset, of: a),
            total(sumsB, partialGroup: groupIndex, at: row + offset, of: b),
            total(sumsC, partialGroup: groupIndex, at: row + offset, of: c),
            total(sumsD, partialGroup: groupIndex, at: row + offset, of: d))
    }

    /// A row's two sums of whole groups, plus the products of its last, partial group `index` stored at `stored`.
    @inline(__always)
    private static func total(
        _ sums: (SIMD8<Float>, SIMD8<Float>), partialGroup index: Int, at stored: UnsafeRawPointer, of input: Int16Groups
    ) -> Float {
        let first = index * group
        var tail: Int32 = 0
        for position in first..<input.count {
            tail += Int32(stored.load(fromByteOffset: MemoryLayout<Float>.size + position - first, as: Int8.self)) * Int32(input.codes[position])
        }
        let tailScale = first < input.count ? stored.loadUnaligned(as: Float.self) * input.scales[index] : 0
        return (sums.0 + sums.1).sum() + Float(tail) * tailScale
    }

    /// sum += (Σ code·x over whole group `index`) · its scale · the input's scale, in lanes.
    @inline(__always)
    private static func add(_ stored: StoredGroup, group index: Int, of input: Int16Groups, to sum: inout SIMD8<Float>) {
        sum = sum.addingProduct(stored.products(input.codes + index * group), stored.scale * input.scales[index])
    }

    /// One whole stored group, its codes widened to 16 bits once for as many inputs as meet them.
    private struct StoredGroup {
        let scale: Float
        #if arch(x86_64)
        let low: __m256i, high: __m256i
        #else
        let codes: UnsafeRawPointer
        #endif

        @inline(__always)
        init(_ stored: UnsafeRawPointer) {
            scale = stored.loadUnaligned(as: Float.self)
            let codes = stored + MemoryLayout<Float>.size
            #if arch(x86_64)
            low = _mm256_cvtepi8_epi16(_mm_loadu_si128(codes.assumingMemoryBound(to: __m128i.self)))
            high = _mm256_cvtepi8_epi16(_mm_loadu_si128((codes + 16).assumingMemoryBound(to: __m128i.self)))
            #else
            self.codes = codes
            #endif
        }

        /// Σ code·x over the group's 32 codes and `xs`, in lanes: exact, since each lane adds four products
        /// of at most 127 · 32767, below 2²⁴, where float32 still counts every integer.
        @inline(__always)
        func products(_ xs: UnsafePointer<Int16>) -> SIMD8<Float> {
            #if arch(x86_64)
            let firstProducts = _mm256_madd_epi16(low, _mm256_loadu_si256(UnsafeRawPointer(xs).assumingMemoryBound(to: __m256i.self)))
            let secondProducts = _mm256_madd_epi16(high, _mm256_loadu_si256(UnsafeRawPointer(xs + 16).assumingMemoryBound(to: __m256i.self)))
            return _mm256_cvtepi32_ps(_mm256_add_epi32(firstProducts, secondProducts))
            #else
            // The same lanes as vpmaddwd's: pairs of neighbours, from each half of the group.
            var sums = SIMD8<Int32>()
            for index in 0..<Q8.group {
                sums[index % 16 / 2] &+= Int32(codes.load(fromByteOffset: index, as: Int8.self)) * Int32(xs[index])
            }
            return SIMD8<Float>(sums)
            #endif
        }
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
