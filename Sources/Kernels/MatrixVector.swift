#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

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

/// Several input vectors at once: how several texts decoded together (`--variants`) read the weights once per step.
extension MatrixVector {
    /// Inputs multiplied together per stretch of weights: each pass keeps two rows' sums for four inputs
    /// (eight vector registers) while the two rows' weights are loaded once.
    static let inputsPerPass = 4

    /// y[n] = W · x[n] for each of `count` inputs, x row-major (count × W.columns) and y likewise (count × W.rows).
    /// Each stretch of W is read from memory once for every input, and y[n] is bitwise what
    /// `apply(_:to:into:accumulate:)` gives for x[n] alone: each row's sums are formed in the same order, only
    /// interleaved with the other inputs'. So a text decoded in a batch writes what it writes alone.
    public static func apply(
        _ weight: WeightMatrix, toRows x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        guard count > 1 else {
            if count == 1 { apply(weight, to: x, into: y, accumulate: accumulate) }
            return
        }
        let columns = weight.columns, outputs = weight.rows
        let minimumRows = max(1, 262_144 / max(columns, 1))
        // Groups of four inputs; a short last group repeats its last input, whose repeated sums are not stored.
        let groups = stride(from: 0, to: count, by: inputsPerPass).map { first in
            (first: first, used: min(inputsPerPass, count - first))
        }
        func input(_ group: (first: Int, used: Int), _ slot: Int) -> Int { group.first + min(slot, group.used - 1) }
        func store(_ sums: SIMD4<Float>, row: Int, group: (first: Int, used: Int)) {
            for slot in 0..<group.used {
                Self.store(sums[slot], into: y + (group.first + slot) * outputs + row, accumulate: accumulate)
            }
        }
        guard weight.format != .q8 else {
            Int16Groups.withQuantized(rows: count, x, count: columns) { inputs in
                Parallel.forEachRange(outputs, minimumPerRange: minimumRows) { range in
                    for row in range {
                        for group in groups {
                            let sums = Q8.dots(
                                weight.row(row), inputs[input(group, 0)], inputs[input(group, 1)],
                                inputs[input(group, 2)], inputs[input(group, 3)])
                            store(sums, row: row, group: group)
                        }
                    }
                }
            }
            return
        }
        Parallel.forEachRange(outputs, minimumPerRange: minimumRows) { range in
            for first in stride(from: range.lowerBound, to: range.upperBound, by: 2) {
                let second = first + 1 < range.upperBound ? first + 1 : first
                for group in groups {
                    let inputs = (x + input(group, 0) * columns, x + input(group, 1) * columns,
                                  x + input(group, 2) * columns, x + input(group, 3) * columns)
                    let (firstSums, secondSums) = pairDots(weight.row(first), weight.row(second), format: weight.format, inputs, count: columns)
                    store(firstSums, row: first, group: group)
                    if second != first { store(secondSums, row: second, group: group) }
                }
            }
        }
    }

    fileprivate typealias FourInputs = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)

    @inline(__always)
    private static func pairDots(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, format: NumberFormat, _ x: FourInputs, count: Int
    ) -> (SIMD4<Float>, SIMD4<Float>) {
        switch format {
        case .float32: pairDots(first, second, x, count: count, as: Float32Lanes.self)
        case .bfloat16: pairDots(first, second, x, count: count, as: BFloat16Lanes.self)
        case .float16: pairDots(first, second, x, count: count, as: Float16Lanes.self)
        case .q8: preconditionFailure("q8 rows are multiplied by Q8.dots")
        }
    }

    /// Two rows' dot products with four inputs. The single-row kernel keeps four sums per row, one for each
    /// eight-column quarter of every 32 columns (`RowSums`); here each quarter is one pass over the two rows,
    /// whose weights stay in cache after the first, so a pass needs only eight sums in registers. The sums, the
    /// eight-column tail (into the first quarter's) and the scalar tail are formed exactly as `dots` forms them.
    /// Generic over the stored format (where `dots` takes closures) so that the widening is inlined in the loop.
    private static func pairDots<Stored: StoredLanes>(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ x: FourInputs, count: Int, as: Stored.Type
    ) -> (SIMD4<Float>, SIMD4<Float>) {
        let quarters = (
            quarterSums(0, first, second, x, count: count, as: Stored.self),
            quarterSums(1, first, second, x, count: count, as: Stored.self),
            quarterSums(2, first, second, x, count: count, as: Stored.self),
            quarterSums(3, first, second, x, count: count, as: Stored.self))
        var firstTotals = SIMD4<Float>(), secondTotals = SIMD4<Float>()
        for slot in 0..<4 {
            firstTotals[slot] = ((quarters.0.first(slot) + quarters.1.first(slot)) + (quarters.2.first(slot) + quarters.3.first(slot))).sum()
            secondTotals[slot] = ((quarters.0.second(slot) + quarters.1.second(slot)) + (quarters.2.second(slot) + quarters.3.second(slot))).sum()
        }
        let width = Stored.width
        for slot in 0..<4 {
            let input = slot == 0 ? x.0 : slot == 1 ? x.1 : slot == 2 ? x.2 : x.3
            var firstTotal = firstTotals[slot], secondTotal = secondTotals[slot]
            for index in (count / 8 * 8)..<count {
                firstTotal += Stored.scalar(first + index * width) * input[index]
                secondTotal += Stored.scalar(second + index * width) * input[index]
            }
            firstTotals[slot] = firstTotal
            secondTotals[slot] = secondTotal
        }
        return (firstTotals, secondTotals)
    }

    /// One pass of `pairDots`: the sums of eight-column quarter `quarter` of every whole 32 columns, and for the
    /// first quarter also of the eight-column stretches after them (as `dots` adds those to its first sum), for
    /// two rows and four inputs: eight sums, kept in registers (a pass of its own, not inlined into `pairDots`,
    /// where the other passes' results would crowd them out of the sixteen vector registers).
    @inline(never)
    private static func quarterSums<Stored: StoredLanes>(
        _ quarter: Int, _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ x: FourInputs, count: Int, as: Stored.Type
    ) -> PairSums {
        let (x0, x1, x2, x3) = x
        let width = Stored.width
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
        let wholeColumns = count / 32 * 32
        let end = quarter == 0 ? count : wholeColumns
        let prefetches = Stored.prefetches && quarter == 0
        var index = 8 * quarter
        while index + 8 <= end {
            if prefetches {
                Prefetch.ahead(of: first + index * width, by: Prefetch.sixteenBitDistance)
                Prefetch.ahead(of: second + index * width, by: Prefetch.sixteenBitDistance)
            }
            let w = Stored.lanes(first + index * width), v = Stored.lanes(second + index * width)
            let y0 = Vector.load(x0 + index), y1 = Vector.load(x1 + index)
            let y2 = Vector.load(x2 + index), y3 = Vector.load(x3 + index)
            a0 = a0.addingProduct(w, y0)
            a1 = a1.addingProduct(w, y1)
            a2 = a2.addingProduct(w, y2)
            a3 = a3.addingProduct(w, y3)
            b0 = b0.addingProduct(v, y0)
            b1 = b1.addingProduct(v, y1)
            b2 = b2.addingProduct(v, y2)
            b3 = b3.addingProduct(v, y3)
            index += index < wholeColumns ? 32 : 8
        }
        return PairSums(first: (a0, a1, a2, a3), second: (b0, b1, b2, b3))
    }
}

/// A stored number format as `MatrixVector.pairDots` reads it: eight values widened at a time, or one.
private protocol StoredLanes {
    /// Bytes per value.
    static var width: Int { get }
    /// Whether reads go faster with a prefetch hint ahead (the formats that convert as they read).
    static var prefetches: Bool { get }
    static func lanes(_ stored: UnsafeRawPointer) -> SIMD8<Float>
    static func scalar(_ stored: UnsafeRawPointer) -> Float
}

private enum Float32Lanes: StoredLanes {
    static var width: Int { 4 }
    static var prefetches: Bool { false }
    @inline(__always) static func lanes(_ stored: UnsafeRawPointer) -> SIMD8<Float> { stored.loadUnaligned(as: SIMD8<Float>.self) }
    @inline(__always) static func scalar(_ stored: UnsafeRawPointer) -> Float { stored.loadUnaligned(as: Float.self) }
}

private enum BFloat16Lanes: StoredLanes {
    static var width: Int { 2 }
    static var prefetches: Bool { true }
    @inline(__always) static func lanes(_ stored: UnsafeRawPointer) -> SIMD8<Float> { unsafeBitCast(zeroExtended(stored) &<< 16, to: SIMD8<Float>.self) }
    @inline(__always) static func scalar(_ stored: UnsafeRawPointer) -> Float { Widening.bfloat16(stored.loadUnaligned(as: UInt16.self)) }
}

private enum Float16Lanes: StoredLanes {
    static var width: Int { 2 }
    static var prefetches: Bool { true }
    @inline(__always) static func lanes(_ stored: UnsafeRawPointer) -> SIMD8<Float> { Widening.float16Lanes(widened: zeroExtended(stored)) }
    @inline(__always) static func scalar(_ stored: UnsafeRawPointer) -> Float { Widening.float16(stored.loadUnaligned(as: UInt16.self)) }
}

/// Eight stored 16-bit values zero-extended to 32 bits, in one instruction on x86-64 (the standard library's
/// SIMD conversion is not inlined there, and a call per eight weights would cost more than their products).
@inline(__always)
private func zeroExtended(_ stored: UnsafeRawPointer) -> SIMD8<UInt32> {
    #if arch(x86_64)
    unsafeBitCast(_mm256_cvtepu16_epi32(_mm_loadu_si128(stored.assumingMemoryBound(to: __m128i.self))), to: SIMD8<UInt32>.self)
    #else
    SIMD8<UInt32>(truncatingIfNeeded: stored.loadUnaligned(as: SIMD8<UInt16>.self))
    #endif
}

/// One quarter's sums of two rows with four inputs in `MatrixVector.pairDots`.
private struct PairSums {
    var first = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())
    var second = (SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>(), SIMD8<Float>())

    @inline(__always)
    func first(_ slot: Int) -> SIMD8<Float> { Self.pick(first, slot) }

    @inline(__always)
    func second(_ slot: Int) -> SIMD8<Float> { Self.pick(second, slot) }

    @inline(__always)
    private static func pick(_ sums: (SIMD8<Float>, SIMD8<Float>, SIMD8<Float>, SIMD8<Float>), _ slot: Int) -> SIMD8<Float> {
        switch slot {
        case 0: sums.0
        case 1: sums.1
        case 2: sums.2
        default: sums.3
        }
    }
}
