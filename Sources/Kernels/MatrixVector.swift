/// y = W · x for one input vector (decode), reading W in its stored format as it streams past, so a decode step
/// reads the weights once without a float32 copy: 16-bit rows are widened eight lanes at a time, q8 rows are
/// multiplied in integers by x rounded to 16 bits (`Int16Groups`). Rows are split across workers.
///
/// Each worker reads two rows at once, one from each half of its range, so twice as many independent loads are in
/// flight, from two places in memory (`bench/streams.c` measures what a second stream is worth on a machine),
/// and each load of x serves both rows. A row's sum is computed exactly as it would be alone.
public enum MatrixVector {
    public static func apply(_ weight: WeightMatrix, to x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let minimumRows = max(1, 262_144 / max(weight.columns, 1))
        guard weight.format != .q8 else {
            // q8 rows meet x at 16 bits (`Int16Groups`), quantized once here for every row.
            Int16Groups.withQuantized(x, count: weight.columns) { input in
                Parallel.forEachRange(weight.rows, minimumPerRange: minimumRows) { range in
                    forEachPair(in: range, y: y, accumulate: accumulate) { first, second in
                        Q8.dots(weight.row(first), weight.row(second), input)
                    }
                }
            }
            return
        }
        Parallel.forEachRange(weight.rows, minimumPerRange: minimumRows) { range in
            forEachPair(in: range, y: y, accumulate: accumulate) { first, second in
                dots(weight.row(first), weight.row(second), format: weight.format, x, count: weight.columns)
            }
        }
    }

    /// Pairs each row of the first half of `range` with its counterpart in the second half, and stores both
    /// products; the middle row of an odd range is paired with itself and stored once.
    @inline(__always)
    private static func forEachPair(
        in range: Range<Int>, y: UnsafeMutablePointer<Float>, accumulate: Bool, _ dots: (Int, Int) -> (Float, Float)
    ) {
        let pairs = (range.count + 1) / 2
        for first in range.lowerBound..<(range.lowerBound + pairs) {
            let second = first + pairs < range.upperBound ? first + pairs : first
            let (firstValue, secondValue) = dots(first, second)
            store(firstValue, into: y + first, accumulate: accumulate)
            if second != first { store(secondValue, into: y + second, accumulate: accumulate) }
        }
    }

    @inline(__always)
    private static func store(_ value: Float, into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        y.pointee = accumulate ? y.pointee + value : value
    }

    @inline(__always)
    private static func dots(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, format: NumberFormat, _ x: UnsafePointer<Float>, count: Int
    ) -> (Float, Float) {
        switch format {
        case .float32:
            return dots(first, second, x, count: count, width: 4, prefetch: false, lanes: { $0.loadUnaligned(as: SIMD8<Float>.self) }, scalar: { $0.loadUnaligned(as: Float.self) })
        case .bfloat16:
            return dots(first, second, x, count: count, width: 2, prefetch: true,
                        lanes: { Widening.bfloat16Lanes($0.loadUnaligned(as: SIMD8<UInt16>.self)) },
                        scalar: { Widening.bfloat16($0.loadUnaligned(as: UInt16.self)) })
        case .float16:
            return dots(first, second, x, count: count, width: 2, prefetch: true,
                        lanes: { Widening.float16Lanes($0.loadUnaligned(as: SIMD8<UInt16>.self)) },
                        scalar: { Widening.float16($0.loadUnaligned(as: UInt16.self)) })
        case .q8:
            preconditionFailure("q8 rows are multiplied by Q8.dots")
        }
    }

    /// Both rows' dot products with x, each row in four sums so that four loads are in flight per row while
    /// each sum waits on its own multiply-add.
    @inline(__always)
    private static func dots(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, width: Int, prefetch: Bool,
        lanes: (UnsafeRawPointer) -> SIMD8<Float>, scalar: (UnsafeRawPointer) -> Float
    ) -> (Float, Float) {
        var firstSums = RowSums(), secondSums = RowSums()
        var index = 0
        while index + 32 <= count {
            if prefetch {
                Prefetch.ahead(of: first + index * width, by: Prefetch.sixteenBitDistance)
                Prefetch.ahead(of: second + index * width, by: Prefetch.sixteenBitDistance)
            }
            let x0 = Vector.load(x + index), x1 = Vector.load(x + index + 8)
            let x2 = Vector.load(x + index + 16), x3 = Vector.load(x + index + 24)
            firstSums.add(lanes(first + index * width), lanes(first + (index + 8) * width),
                          lanes(first + (index + 16) * width), lanes(first + (index + 24) * width), times: x0, x1, x2, x3)
            secondSums.add(lanes(second + index * width), lanes(second + (index + 8) * width),
                           lanes(second + (index + 16) * width), lanes(second + (index + 24) * width), times: x0, x1, x2, x3)
            index += 32
        }
        while index + 8 <= count {
            let xs = Vector.load(x + index)
            firstSums.first = firstSums.first.addingProduct(lanes(first + index * width), xs)
            secondSums.first = secondSums.first.addingProduct(lanes(second + index * width), xs)
            index += 8
        }
        var (firstTotal, secondTotal) = (firstSums.total, secondSums.total)
        while index < count {
            firstTotal += scalar(first + index * width) * x[index]
            secondTotal += scalar(second + index * width) * x[index]
            index += 1
        }
        return (firstTotal, secondTotal)
    }
}

/// One row's four running sums in `MatrixVector`.
private struct RowSums {
    var first = SIMD8<Float>(), second = SIMD8<Float>(), third = SIMD8<Float>(), fourth = SIMD8<Float>()

    @inline(__always)
    mutating func add(
        _ w0: SIMD8<Float>, _ w1: SIMD8<Float>, _ w2: SIMD8<Float>, _ w3: SIMD8<Float>,
        times x0: SIMD8<Float>, _ x1: SIMD8<Float>, _ x2: SIMD8<Float>, _ x3: SIMD8<Float>
    ) {
        first = first.addingProduct(w0, x0)
        second = second.addingProduct(w1, x1)
        third = third.addingProduct(w2, x2)
        fourth = fourth.addingProduct(w3, x3)
    }

    var total: Float { ((first + second) + (third + fourth)).sum() }
}
