#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

/// Widening of stored numbers to float32, eight lanes at a time. The 16-bit conversions are exact.
public enum Widening {
    /// Converts `count` elements stored as `format` at `source` (any alignment) into float32; for `q8`, one row.
    public static func widen(_ source: UnsafeRawPointer, format: NumberFormat, count: Int, into destination: UnsafeMutablePointer<Float>) {
        switch format {
        case .float32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .bfloat16:
            convert(source, count: count, into: destination, lanes: bfloat16Lanes, scalar: bfloat16)
        case .float16:
            convert(source, count: count, into: destination, lanes: float16Lanes(_:), scalar: float16)
        case .q8:
            Q8.decode(source, count: count, into: destination)
        }
    }

    @inline(__always)
    private static func convert(
        _ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>,
        lanes: (UnsafeRawPointer) -> SIMD8<Float>, scalar: (UInt16) -> Float
    ) {
        var index = 0
        let raw = UnsafeMutableRawPointer(destination)
        while index + 8 <= count {
            raw.storeBytes(of: lanes(source + index * 2), toByteOffset: index * 4, as: SIMD8<Float>.self)
            index += 8
        }
        while index < count {
            destination[index] = scalar(source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            index += 1
        }
    }

    /// Eight stored 16-bit values (any alignment) zero-extended to 32 bits, in one instruction on x86-64: the
    /// standard library's SIMD conversion is not reliably inlined there, and a call per eight weights costs
    /// more than their products.
    @inline(__always)
    static func zeroExtended(_ stored: UnsafeRawPointer) -> SIMD8<UInt32> {
        #if arch(x86_64)
        unsafeBitCast(_mm256_cvtepu16_epi32(_mm_loadu_si128(stored.assumingMemoryBound(to: __m128i.self))), to: SIMD8<UInt32>.self)
        #else
        SIMD8<UInt32>(truncatingIfNeeded: stored.loadUnaligned(as: SIMD8<UInt16>.self))
        #endif
    }

    /// Eight stored bfloat16 values: bfloat16 is the top half of a float32.
    @inline(__always)
    static func bfloat16Lanes(_ stored: UnsafeRawPointer) -> SIMD8<Float> {
        unsafeBitCast(zeroExtended(stored) &<< 16, to: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    public static func bfloat16(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Eight stored IEEE halves.
    @inline(__always)
    static func float16Lanes(_ stored: UnsafeRawPointer) -> SIMD8<Float> {
        float16Lanes(widened: zeroExtended(stored))
    }

    /// IEEE half to float without F16C (the default x86-64 target lacks it), from halves zero-extended to 32
    /// bits: move exponent and mantissa into place and rescale by 2^112, which also handles subnormals exactly;
    /// then fix up inf/NaN and sign. Inf/NaN (exponent 31) is found arithmetically, not with a lane mask, which
    /// the compiler turns into a per-lane loop here.
    @inlinable @inline(__always)
    public static func float16Lanes(widened wide: SIMD8<UInt32>) -> SIMD8<Float> {
        let magnitude = unsafeBitCast((wide & 0x7fff) &<< 13, to: SIMD8<Float>.self) * 0x1p112
        let infinityOrNaN = ((wide & 0x7c00) &+ 0x0400) &>> 15
        let exponentFix = (SIMD8<UInt32>() &- infinityOrNaN) & 0x7f80_0000
        return unsafeBitCast(unsafeBitCast(magnitude, to: SIMD8<UInt32>.self) | exponentFix | ((wide & 0x8000) &<< 16), to: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    public static func float16(_ bits: UInt16) -> Float {
        float16Lanes(widened: SIMD8<UInt32>(repeating: UInt32(bits)))[0]
    }
}
