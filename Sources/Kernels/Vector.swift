/// Eight-lane loads, stores and reductions shared by the element-wise kernels.
public enum Vector {
    @inlinable @inline(__always)
    public static func load(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inlinable @inline(__always)
    public static func load(_ pointer: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
        load(UnsafePointer(pointer))
    }

    @inlinable @inline(__always)
    public static func store(_ value: SIMD8<Float>, to pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
    }

    /// Lane-wise maximum. (The standard library's generic pointwiseMax is not inlined and runs several times slower.)
    @inlinable @inline(__always)
    public static func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        a.replacing(with: b, where: a .< b)
    }

    /// Lane-wise minimum.
    @inlinable @inline(__always)
    public static func minimum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        a.replacing(with: b, where: b .< a)
    }

    /// The largest lane. (The standard library's `max()` is a generic call per use.)
    @inlinable @inline(__always)
    public static func largest(_ x: SIMD8<Float>) -> Float {
        let four = x.lowHalf.replacing(with: x.highHalf, where: x.lowHalf .< x.highHalf)
        let two = four.lowHalf.replacing(with: four.highHalf, where: four.lowHalf .< four.highHalf)
        return Swift.max(two[0], two[1])
    }

    /// The Euclidean length of `x`.
    public static func norm(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var index = 0
        while index + 8 <= count {
            let values = load(x + index)
            lanes = lanes.addingProduct(values, values)
            index += 8
        }
        var total = lanes.sum()
        while index < count {
            total = total.addingProduct(x[index], x[index])
            index += 1
        }
        return total.squareRoot()
    }

    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>()
        var index = 0
        while index + 8 <= count {
            lanes += load(x + index)
            index += 8
        }
        var total = lanes.sum()
        while index < count {
            total += x[index]
            index += 1
        }
        return total
    }

    public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: -.infinity)
        var index = 0
        while index + 8 <= count {
            lanes = maximum(lanes, load(x + index))
            index += 8
        }
        var best = lanes.max()
        while index < count {
            best = max(best, x[index])
            index += 1
        }
        return best
    }

    /// x[i] = min(max(x[i], −limit), limit)
    public static func clamp(_ x: UnsafeMutablePointer<Float>, count: Int, limit: Float) {
        let high = SIMD8<Float>(repeating: limit), low = -high
        var index = 0
        while index + 8 <= count {
            store(minimum(maximum(load(x + index), low), high), to: x + index)
            index += 8
        }
        while index < count {
            x[index] = min(max(x[index], -limit), limit)
            index += 1
        }
    }

    /// x[i] *= factor
    public static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        scale(x, count: count, by: factor, into: x)
    }

    /// destination[i] = x[i] · factor (destination may be x).
    public static func scale(_ x: UnsafePointer<Float>, count: Int, by factor: Float, into destination: UnsafeMutablePointer<Float>) {
        var index = 0
        while index + 8 <= count {
            store(load(x + index) * factor, to: destination + index)
            index += 8
        }
        while index < count {
            destination[index] = x[index] * factor
            index += 1
        }
    }
}
