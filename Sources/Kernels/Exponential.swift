/// A vectorized float32 e^x (Cephes' expf polynomial, about 1 ulp): the scalar libm call would dominate
/// attention, which takes one exponential per query-key pair.
public enum Exponential {
    /// Below this the answer is exactly 0 (masked scores are −∞): e^x nears float's smallest normal number, and
    /// a softmax weight that small counts for nothing beside the row's largest, which is 1.
    @inlinable public static var zeroBelow: Float { -87.3 }

    /// Transparent (always inlined): with only `@inline(__always)` the optimizer still called it once per eight
    /// lanes from the softmax loop, spilling the vectors around each call.
    @_transparent
    public static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = Vector.minimum(Vector.maximum(x, SIMD8(repeating: zeroBelow)), SIMD8(repeating: 88.3))
        // Round x·log2(e) to the nearest integer n by adding 1.5·2^23: n lands in the low mantissa bits,
        // which gives both the rounded float and the integer without (slow, per-lane) floor or conversion calls.
        let roundingMagic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = roundingMagic.addingProduct(clamped, 1.442_695_04)
        let n = shifted - roundingMagic
        let r = clamped.addingProduct(n, -0.693_359_375).addingProduct(n, 2.121_944_4e-4)
        var p = SIMD8<Float>(repeating: 1.398_199_95e-3).addingProduct(SIMD8(repeating: 1.987_569_15e-4), r)
        p = SIMD8(repeating: 8.333_451_9e-3).addingProduct(p, r)
        p = SIMD8(repeating: 4.166_579_59e-2).addingProduct(p, r)
        p = SIMD8(repeating: 1.666_666_55e-1).addingProduct(p, r)
        p = SIMD8(repeating: 5.000_000_12e-1).addingProduct(p, r)
        p = (r + 1).addingProduct(p, r * r)
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8(repeating: 0x4B40_0000)
        let power = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
        // Below `zeroBelow` the answer is 0, not the clamp's tiny value.
        return (p * power).replacing(with: 0, where: x .< zeroBelow)
    }

    @inlinable @inline(__always)
    public static func scalar(_ x: Float) -> Float {
        lanes(SIMD8(repeating: x))[0]
    }
}
