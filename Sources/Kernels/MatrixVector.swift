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
        case .float32: dots(first, second, x, count: count, as: Float32Lanes.self)
        case .bfloat16: dots(first, second, x, count: count, as: BFloat16Lanes.self)
        case .float16: dots(first, second, x, count: count, as: Float16Lanes.self)
        case .q8: preconditionFailure("q8 rows are multiplied by Q8.dots")
        }
    }

    /// Both rows' dot products with x, each row in four sums so that four loads are in flight per row while
    /// each sum waits on its own multiply-add. Generic over the stored format so that the widening is inlined
    /// in the loop.
    @inline(__always)
    private static func dots<Stored: StoredLanes>(
        _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ x: UnsafePointer<Float>, count: Int, as: Stored.Type
    ) -> (Float, Float) {
        let width = Stored.width
        var firstSums = RowSums(), secondSums = RowSums()
        var index = 0
        while index + 32 <= count {
            if Stored.prefetches {
                Prefetch.ahead(of: first + index * width, by: Prefetch.sixteenBitDistance)
                Prefetch.ahead(of: second + index * width, by: Prefetch.sixteenBitDistance)
            }
            let x0 = Vector.load(x + index), x1 = Vector.load(x + index + 8)
            let x2 = Vector.load(x + index + 16), x3 = Vector.load(x + index + 24)
            firstSums.add(Stored.lanes(first + index * width), Stored.lanes(first + (index + 8) * width),
                          Stored.lanes(first + (index + 16) * width), Stored.lanes(first + (index + 24) * width), times: x0, x1, x2, x3)
            secondSums.add(Stored.lanes(second + index * width), Stored.lanes(second + (index + 8) * width),
                           Stored.lanes(second + (index + 16) * width), Stored.lanes(second + (index + 24) * width), times: x0, x1, x2, x3)
            index += 32
        }
        while index + 8 <= count {
            let xs = Vector.load(x + index)
            firstSums.first = firstSums.first.addingProduct(Stored.lanes(first + index * width), xs)
            secondSums.first = secondSums.first.addingProduct(Stored.lanes(second + index * width), xs)
            index += 8
        }
        var (firstTotal, secondTotal) = (firstSums.total, secondSums.total)
        while index < count {
            firstTotal += Stored.scalar(first + index * width) * x[index]
            secondTotal += Stored.scalar(second + index * width) * x[index]
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
    /// Inputs multiplied together per pass: two rows' sums for four inputs are eight vector registers, and
    /// the two rows' weights are loaded once for the four.
    static let inputsPerPass = 4
    /// Rows that take each stretch of columns in turn. Every row needs every column of every input, and all the
    /// inputs together outgrow the level-1 cache (eight texts at d_model 4096: 128 KB), so rows go through the
    /// columns a stretch at a time: a stretch of the inputs is fetched once for a block of rows, not once per row.
    static let rowsPerBlock = 8
    /// Columns per stretch: eight inputs' share of it, a block's weights and its sums fit a 32 KB level-1 cache.
    static let columnsPerStretch = 512

    /// y[n] = W · x[n] for each of `count` inputs, x row-major (count × W.columns) and y likewise (count × W.rows).
    /// Each stretch of W is read from memory once for every input, and y[n] is bitwise what
    /// `apply(_:to:into:accumulate:)` gives for x[n] alone: each row's sums are formed in the same order, only
    /// interleaved with the other inputs' and rows'. So a text decoded in a batch writes what it writes alone.
    public static func apply(
        _ weight: WeightMatrix, toRows x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        guard count > 1 else {
            if count == 1 { apply(weight, to: x, into: y, accumulate: accumulate) }
            return
        }
        let columns = weight.columns, outputs = weight.rows
        let minimumRows = max(1, 262_144 / max(columns, 1))
        let groups = stride(from: 0, to: count, by: inputsPerPass).map { InputGroup(first: $0, used: min(inputsPerPass, count - $0)) }
        let output = BatchOutput(y: y, outputs: outputs, accumulate: accumulate)
        guard weight.format != .q8 else {
            // q8 rows go one after the next, each whole row for every input: their inputs are 16-bit, half
            // the size of float32's, and the arithmetic per input, not the reading of the inputs, sets the pace.
            Int16Groups.withQuantized(rows: count, x, count: columns) { inputs in
                Parallel.forEachRange(outputs, minimumPerRange: minimumRows) { range in
                    for row in range {
                        for group in groups {
                            let sums = Q8.dots(
                                weight.row(row), inputs[group.input(0)], inputs[group.input(1)],
                                inputs[group.input(2)], inputs[group.input(3)])
                            output.store(sums, row: row, group: group)
                        }
                    }
                }
            }
            return
        }
        Parallel.forEachRange(outputs, minimumPerRange: minimumRows) { range in
            for rows in blocks(of: range) {
                let upcoming = UpcomingBlock(weight, after: rows, in: range)
                switch weight.format {
                case .float32: blockDots(weight, rows: rows, x, groups, output, upcoming: upcoming, as: Float32Lanes.self)
                case .bfloat16: blockDots(weight, rows: rows, x, groups, output, upcoming: upcoming, as: BFloat16Lanes.self)
                case .float16: blockDots(weight, rows: rows, x, groups, output, upcoming: upcoming, as: Float16Lanes.self)
                case .q8: preconditionFailure("q8 rows are multiplied by Q8.dots")
                }
            }
        }
    }

    private static func blocks(of range: Range<Int>) -> some Sequence<Range<Int>> {
        stride(from: range.lowerBound, to: range.upperBound, by: rowsPerBlock).lazy.map { $0..<min($0 + rowsPerBlock, range.upperBound) }
    }

    /// The weights of the block after the current one, fetched into the level-2 cache a share at a time while the
    /// current block is multiplied: a block goes through its rows a stretch of columns at a time, which hardware
    /// prefetchers do not follow as they follow one row after the next.
    fileprivate struct UpcomingBlock {
        let start: UnsafeRawPointer
        let bytes: Int

        init(_ weight: WeightMatrix, after rows: Range<Int>, in range: Range<Int>) {
            start = weight.row(rows.upperBound)
            bytes = (min(rows.upperBound + rowsPerBlock, range.upperBound) - rows.upperBound) * weight.format.rowBytes(columns: weight.columns)
        }

        /// Share `share` of `shares` equal shares.
        @inline(__always)
        func prefetch(share: Int, of shares: Int) {
            let shareBytes = (bytes + shares - 1) / shares
            var offset = share * shareBytes
            let end = min(bytes, offset + shareBytes)
            while offset < end {
                Prefetch.intoLevel2(start + offset)
                offset += 64
            }
        }
    }

    /// Up to four of the inputs, multiplied in one pass; a short last group repeats its last input, whose
    /// repeated sums are not stored.
    fileprivate struct InputGroup {
        let first: Int
        let used: Int

        func input(_ slot: Int) -> Int { first + min(slot, used - 1) }

        func vectors(_ x: UnsafePointer<Float>, columns: Int) -> FourInputs {
            (x + input(0) * columns, x + input(1) * columns, x + input(2) * columns, x + input(3) * columns)
        }
    }

    /// Where a batch's products go: y[n] of input n holds `outputs` values.
    fileprivate struct BatchOutput {
        let y: UnsafeMutablePointer<Float>
        let outputs: Int
        let accumulate: Bool

        func store(_ sums: SIMD4<Float>, row: Int, group: InputGroup) {
            for slot in 0..<group.used {
                MatrixVector.store(sums[slot], into: y + (group.first + slot) * outputs + row, accumulate: accumulate)
            }
        }
    }

    fileprivate typealias FourInputs = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)

    /// A block of rows' products with every input, in pairs of rows and groups of four inputs. The single-row
    /// kernel keeps four sums per row, one for each eight-column quarter of every 32 columns (`RowSums`); here
    /// each quarter is one pass over a pair of rows, whose weights stay in cache for the later passes, so a pass
    /// needs only eight sums in registers, and the passes go a stretch of columns at a time for the whole block
    /// (the sums wait in memory between stretches). The sums, the eight-column tail (into the first quarter's)
    /// and the scalar tail are formed exactly as `dots` forms them.
    private static func blockDots<Stored: StoredLanes>(
        _ weight: WeightMatrix, rows: Range<Int>, _ x: UnsafePointer<Float>, _ groups: [InputGroup], _ output: BatchOutput,
        upcoming: UpcomingBlock, as: Stored.Type
    ) {
        let columns = weight.columns, wholeColumns = columns / 32 * 32
        let pairs = (rows.count + 1) / 2
        func pair(_ index: Int) -> (first: Int, second: Int) {
            let first = rows.lowerBound + 2 * index
            return (first, min(first + 1, rows.upperBound - 1))
        }
        withUnsafeTemporaryAllocation(of: PairSums.self, capacity: pairs * groups.count * 4) { sums in
            _ = sums.initialize(from: repeatElement(PairSums(), count: sums.count))
            func slot(_ pairIndex: Int, _ groupIndex: Int, _ quarter: Int) -> Int { (pairIndex * groups.count + groupIndex) * 4 + quarter }
            let stretches = (wholeColumns + columnsPerStretch - 1) / columnsPerStretch
            for start in stride(from: 0, to: wholeColumns, by: columnsPerStretch) {
                let end = min(start + columnsPerStretch, wholeColumns)
                for (groupIndex, group) in groups.enumerated() {
                    let inputs = group.vectors(x, columns: columns)
                    for pairIndex in 0..<pairs {
                        let (first, second) = pair(pairIndex)
                        if groupIndex == 0 { upcoming.prefetch(share: start / columnsPerStretch * pairs + pairIndex, of: stretches * pairs) }
                        for quarter in 0..<4 {
                            quarterSums(
                                &sums[slot(pairIndex, groupIndex, quarter)], weight.row(first), weight.row(second), inputs,
                                columns: (start + 8 * quarter)..<end, step: 32,
                                prefetches: Stored.prefetches && quarter == 0 && groupIndex == 0, as: Stored.self)
                        }
                    }
                }
            }
            for (groupIndex, group) in groups.enumerated() {
                let inputs = group.vectors(x, columns: columns)
                for pairIndex in 0..<pairs {
                    let (first, second) = pair(pairIndex)
                    let quarters = sums.baseAddress! + slot(pairIndex, groupIndex, 0)
                    // The eight-column stretches after the whole 32s, into the first quarter's sums, as `dots` adds them.
                    quarterSums(
                        &quarters[0], weight.row(first), weight.row(second), inputs,
                        columns: wholeColumns..<(columns / 8 * 8), step: 8, prefetches: false, as: Stored.self)
                    let (firstSums, secondSums) = totals(quarters, weight.row(first), weight.row(second), inputs, count: columns, as: Stored.self)
                    output.store(firstSums, row: first, group: group)
                    if second != first { output.store(secondSums, row: second, group: group) }
                }
            }
        }
    }

    /// Each input's two row totals from a pair's four quarter sums, then the scalar tail, as `dots` adds them.
    @inline(__always)
    private static func totals<Stored: StoredLanes>(
        _ quarters: UnsafePointer<PairSums>, _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ x: FourInputs, count: Int,
        as: Stored.Type
    ) -> (SIMD4<Float>, SIMD4<Float>) {
        var firstTotals = SIMD4<Float>(), secondTotals = SIMD4<Float>()
        let width = Stored.width
        for slot in 0..<4 {
            var firstTotal = ((quarters[0].first(slot) + quarters[1].first(slot)) + (quarters[2].first(slot) + quarters[3].first(slot))).sum()
            var secondTotal = ((quarters[0].second(slot) + quarters[1].second(slot)) + (quarters[2].second(slot) + quarters[3].second(slot))).sum()
            let input = slot == 0 ? x.0 : slot == 1 ? x.1 : slot == 2 ? x.2 : x.3
            for index in (count / 8 * 8)..<count {
                firstTotal += Stored.scalar(first + index * width) * input[index]
                secondTotal += Stored.scalar(second + index * width) * input[index]
            }
            firstTotals[slot] = firstTotal
            secondTotals[slot] = secondTotal
        }
        return (firstTotals, secondTotals)
    }

    /// One pass of `blockDots`: adds to one quarter's sums of two rows and four inputs the products of the
    /// eight-column stretches that start at `columns.lowerBound`, `step` apart, and end within `columns`: eight
    /// sums, kept in registers (a pass of its own, not inlined, where the rest of the block's work would crowd
    /// them out of the sixteen vector registers).
    @inline(never)
    private static func quarterSums<Stored: StoredLanes>(
        _ sums: inout PairSums, _ first: UnsafeRawPointer, _ second: UnsafeRawPointer, _ x: FourInputs,
        columns: Range<Int>, step: Int, prefetches: Bool, as: Stored.Type
    ) {
        let (x0, x1, x2, x3) = x
        let width = Stored.width
        var (a0, a1, a2, a3) = sums.first
        var (b0, b1, b2, b3) = sums.second
        var index = columns.lowerBound
        while index + 8 <= columns.upperBound {
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
            index += step
        }
        sums = PairSums(first: (a0, a1, a2, a3), second: (b0, b1, b2, b3))
    }
}

/// A stored number format as `MatrixVector`'s kernels read it: eight values widened at a time, or one.
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
    @inline(__always) static func lanes(_ stored: UnsafeRawPointer) -> SIMD8<Float> { Widening.bfloat16Lanes(stored) }
    @inline(__always) static func scalar(_ stored: UnsafeRawPointer) -> Float { Widening.bfloat16(stored.loadUnaligned(as: UInt16.self)) }
}

private enum Float16Lanes: StoredLanes {
    static var width: Int { 2 }
    static var prefetches: Bool { true }
    @inline(__always) static func lanes(_ stored: UnsafeRawPointer) -> SIMD8<Float> { Widening.float16Lanes(stored) }
    @inline(__always) static func scalar(_ stored: UnsafeRawPointer) -> Float { Widening.float16(stored.loadUnaligned(as: UInt16.self)) }
}

/// One quarter's sums of two rows with four inputs in `MatrixVector.blockDots`.
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
