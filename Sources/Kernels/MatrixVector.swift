/// y = W · x for one input vector (decode), reading W in its stored format as it streams past, so a decode step
/// reads the weights once without a float32 copy: 16-bit rows are widened eight lanes at a time, q8 rows are
/// multiplied in integers by x rounded to 16 bits (`Int16Groups`). Rows are split across workers.
public enum MatrixVector {
    public static func apply(_ weight: WeightMatrix, to x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let minimumRows = max(1, 262_144 / max(weight.columns, 1))
        guard weight.format != .q8 else {
            // q8 rows meet x at 16 bits (`Int16Groups`), quantized once here for every row.
            Int16Groups.withQuantized(x, count: weight.columns) { input in
                Parallel.forEachRange(weight.rows, minimumPerRange: minimumRows) { range in
                    for row in range { store(Int8Blocks.dot(weight.row(row), input), into: y + row, accumulate: accumulate) }
                }
            }
            return
        }
        Parallel.forEachRange(weight.rows, minimumPerRange: minimumRows) { range in
            for row in range {
                store(dot(weight.row(row), format: weight.format, x, count: weight.columns), into: y + row, accumulate: accumulate)
            }
        }
    }

    @inline(__always)
    private static func store(_ value: Float, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        y.pointee = accumulate ? y.pointee + value : value
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
            preconditionFailure("q8 rows are multiplied by Int8Blocks.dot")
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
