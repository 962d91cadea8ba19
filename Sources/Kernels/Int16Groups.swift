/// A float32 vector as a q8 row's partner in a dot product: cut into the same groups of 32 as `Q8`,
/// each stored as 16-bit integers with one float32 scale (scale = max|x| / 32767, to nearest even), its
/// values in the byte order of a whole q8 group. A group's dot product is then exact integer arithmetic, two
/// multiply-adds per lane and instruction: about 11 operations per 32 weights, where widening every int8 weight
/// to float32 took 27, so the loop waits on its loads, not on arithmetic.
///
/// Rounding moves each input by at most half a step, max|x in its group| / 65,534, so a product moves by at most
/// that times the row's |weights|: about 1e-5 relative. Decode's logits on tiny-storywriter come out 1.2e-4
/// (relative L2) from prefill's, which multiplies x unrounded; the q8 weights themselves are 0.1 from the reference.
public struct Int16Groups {
    public let count: Int
    let codes: UnsafePointer<Int16>
    let scales: UnsafePointer<Float>

    /// Runs `body` with `x` quantized into temporary memory that lives until `body` returns.
    public static func withQuantized<Result>(
        _ x: UnsafePointer<Float>, count: Int, _ body: (Int16Groups) throws -> Result
    ) rethrows -> Result {
        let groups = (count + Q8.group - 1) / Q8.group
        return try withUnsafeTemporaryAllocation(of: Int16.self, capacity: max(1, count)) { codes in
            try withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, groups)) { scales in
                try body(quantize(x, count: count, codes: codes.baseAddress!, scales: scales.baseAddress!))
            }
        }
    }

    /// `withQuantized` for `rows` vectors of `count` values each, `x` row-major: each is quantized exactly as alone.
    public static func withQuantized<Result>(
        rows: Int, _ x: UnsafePointer<Float>, count: Int, _ body: ([Int16Groups]) throws -> Result
    ) rethrows -> Result {
        let groups = (count + Q8.group - 1) / Q8.group
        return try withUnsafeTemporaryAllocation(of: Int16.self, capacity: max(1, rows * count)) { codes in
            try withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, rows * groups)) { scales in
                let quantized = (0..<rows).map { row in
                    quantize(x + row * count, count: count, codes: codes.baseAddress! + row * count, scales: scales.baseAddress! + row * groups)
                }
                return try body(quantized)
            }
        }
    }

    private static func quantize(
        _ x: UnsafePointer<Float>, count: Int, codes: UnsafeMutablePointer<Int16>, scales: UnsafeMutablePointer<Float>
    ) -> Int16Groups {
        for group in 0..<((count + Q8.group - 1) / Q8.group) {
            let first = group * Q8.group
            let n = min(Q8.group, count - first)
            scales[group] = n == Q8.group
                ? quantizeWholeGroup(x + first, into: codes + first)
                : quantizeInOrder(x + first, count: n, into: codes + first)
        }
        return Int16Groups(count: count, codes: codes, scales: scales)
    }

    /// One whole group, eight lanes at a time, each value stored where `Q8` keeps its weight; returns the scale.
    @inline(__always)
    private static func quantizeWholeGroup(_ x: UnsafePointer<Float>, into codes: UnsafeMutablePointer<Int16>) -> Float {
        var magnitudes = SIMD8<Float>(), sums = SIMD8<Float>()
        for lane in 0..<4 {
            let values = Vector.load(x + 8 * lane)
            magnitudes = Vector.maximum(magnitudes, Vector.maximum(values, -values))
            sums += values
        }
        guard sums.sum().isFinite else { return notFinite(codes, count: Q8.group) }
        let scale = Vector.largest(magnitudes) / 32767
        let inverse = SIMD8<Float>(repeating: scale > 0 ? 1 / scale : 0)
        for lane in 0..<4 {
            let scaled = (Vector.load(x + 8 * lane) * inverse).rounded(.toNearestOrEven)
            for index in 0..<8 {
                codes[Q8.storedPosition(8 * lane + index)] = Int16(scaled[index])
            }
        }
        return scale
    }

    /// A short last group, stored in order as its weights are.
    private static func quantizeInOrder(_ x: UnsafePointer<Float>, count: Int, into codes: UnsafeMutablePointer<Int16>) -> Float {
        guard (0..<count).allSatisfy({ x[$0].isFinite }) else { return notFinite(codes, count: count) }
        var absmax: Float = 0
        for index in 0..<count { absmax = max(absmax, abs(x[index])) }
        let scale = absmax / 32767
        let inverse = scale > 0 ? 1 / scale : 0
        for index in 0..<count { codes[index] = Int16((x[index] * inverse).rounded(.toNearestOrEven)) }
        return scale
    }

    /// An infinity or NaN has no 16-bit code: the group's products become NaN, as float32 arithmetic would make them.
    private static func notFinite(_ codes: UnsafeMutablePointer<Int16>, count: Int) -> Float {
        codes.update(repeating: 0, count: count)
        return .nan
    }
}
