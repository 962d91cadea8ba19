/// y = W · x for one input vector (decode), reading W in its stored format and widening eight lanes at a time
/// on the fly, so a decode step streams the weights once without a float32 copy. Rows are split across workers.
public enum MatrixVector {
    public static func apply(_ weight: WeightMatrix, to x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        Parallel.forEachRange(weight.rows, minimumPerRange: max(1, 262_144 / max(weight.columns, 1))) { range in
            for row in range {
                let value = dot(weight.row(row), format: weight.format, x, count: weight.columns)
                y[row] = accumulate ? y[row] + value : value
            }
        }
    }

    @inline(__always)
    private static func dot(_ row: UnsafeRawPointer, format: NumberFormat, _ x: UnsafePointer<Float>, count: Int) -> Float {
        switch format {
        case .float32:
            return dot(row, x, count: count, width: 4, prefetch: false, lanes: { $0.loadUnaligned(as: SIMD8<Float>.self) }, scalar: { $0.loadUnaligned(as: Float.self) })
        case .bfloat16:
            return dot(row, x, count: count, width: 2, prefetch: true,
                       lanes: { Widening.bfloat16Lanes($0.loadUnaligned(as: SIMD8<UInt16>.self)) },
                       scalar: { Widening.bfloat16($0.loadUnaligned(as: UInt16.self)) })
        case .float16:
            return dot(row, x, count: count, width: 2, prefetch: true,
                       lanes: { Widening.float16Lanes($0.loadUnaligned(as: SIMD8<UInt16>.self)) },
                       scalar: { Widening.float16($0.loadUnaligned(as: UInt16.self)) })
        case .q8:
            return Int8Blocks.dot(row, x, count: count)
        }
    }

    @inline(__always)
    private static func dot(
        _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, width: Int, prefetch: Bool,
        lanes: (UnsafeRawPointer) -> SIMD8<Float>, scalar: (UnsafeRawPointer) -> Float
    ) -> Float {
        // Four sums, so four loads are in flight per row while each sum waits on its own multiply-add.
        var first = SIMD8<Float>(), second = SIMD8<Float>(), third = SIMD8<Float>(), fourth = SIMD8<Float>()
        var index = 0
        while index + 32 <= count {
            if prefetch { Prefetch.ahead(of: row + index * width, by: Prefetch.sixteenBitDistance) }
            first = first.addingProduct(lanes(row + index * width), Vector.load(x + index))
            second = second.addingProduct(lanes(row + (index + 8) * width), Vector.load(x + index + 8))
            third = third.addingProduct(lanes(row + (index + 16) * width), Vector.load(x + index + 16))
            fourth = fourth.addingProduct(lanes(row + (index + 24) * width), Vector.load(x + index + 24))
            index += 32
        }
        while index + 8 <= count {
            first = first.addingProduct(lanes(row + index * width), Vector.load(x + index))
            index += 8
        }
        var total = ((first + second) + (third + fourth)).sum()
        while index < count {
            total += scalar(row + index * width) * x[index]
            index += 1
        }
        return total
    }
}
