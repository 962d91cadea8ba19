/// A vectorized float32 e^x (Cephes' expf polynomial, about 1 ulp): the scalar libm call would dominate
/// attention, which takes one exponential per query-key pair.
public enum Exponential {
    @inline(__always)
    public static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let clamped = Vector.minimum(Vector.maximum(x, SIMD8(repeating: -87.3)), SIMD8(repeating: 88.3))
        // Round x·log2(e) to the nearest integer n by adding 1.5·2^23: n lands in the low mantissa bits,
        // which gives both the rounded float and the integer without (slow, per-lane) floor or conversion calls.
        let shifted = clamped * 1.442_695_04 + roundingMagic
        let n = shifted - roundingMagic
        var r = clamped - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * (r * r) + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- roundingMagicBits
        let power = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
        // Below e^-87 (masked scores are −∞) the answer is 0, not the clamp's tiny value.
        return (p * power).replacing(with: 0, where: x .< -87.3)
    }

    private static var roundingMagic: SIMD8<Float> { SIMD8(repeating: 12_582_912) }
    private static var roundingMagicBits: SIMD8<Int32> { SIMD8(repeating: 0x4B40_0000) }

    @inline(__always)
    public static func scalar(_ x: Float) -> Float {
        lanes(SIMD8(repeating: x))[0]
    }
}
