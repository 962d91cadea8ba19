import Foundation
import Kernels
import Testing

@Suite struct KernelTests {
    @Test func wideningIsExactForEveryHalfAndBFloatPattern() {
        let patterns = (0...UInt16.max).map { $0 }
        var halves = [Float](repeating: 0, count: patterns.count)
        var bfloats = [Float](repeating: 0, count: patterns.count)
        patterns.withUnsafeBytes { raw in
            Widening.widen(raw.baseAddress!, format: .float16, count: patterns.count, into: &halves)
            Widening.widen(raw.baseAddress!, format: .bfloat16, count: patterns.count, into: &bfloats)
        }
        var mismatches = 0
        for (index, bits) in patterns.enumerated() {
            let half = Float(Float16(bitPattern: bits))
            let bfloat = Float(bitPattern: UInt32(bits) << 16)
            if !(half.bitPattern == halves[index].bitPattern || (half.isNaN && halves[index].isNaN)) { mismatches += 1 }
            if !(bfloat.bitPattern == bfloats[index].bitPattern || (bfloat.isNaN && bfloats[index].isNaN)) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func exponentialIsWithinTwoUlpsAndZeroForMinusInfinity() {
        var worst: Float = 0
        for step in 0..<20_000 {
            let x = -87 + Float(step) * (88 + 87) / 20_000
            let expected = Foundation.exp(Double(x))
            worst = max(worst, Float(abs(Double(Exponential.scalar(x)) - expected) / expected))
        }
        #expect(worst < 2.5e-7)
        #expect(Exponential.scalar(-.infinity) == 0)
        #expect(Exponential.scalar(0) == 1)
    }

    @Test func layerNormAndGELUMatchTheirDefinitions() {
        let width = 37
        let x = (0..<(2 * width)).map { Float(sin(Double($0))) * 3 }
        let weight = (0..<width).map { 1 + Float($0) / 100 }
        var y = [Float](repeating: 0, count: x.count)
        LayerNorm.apply(x, rows: 2, width: width, weight: weight, epsilon: 1e-5, into: &y)
        for row in 0..<2 {
            let values = x[(row * width)..<((row + 1) * width)].map(Double.init)
            let mean = values.reduce(0, +) / Double(width)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(width)
            for column in 0..<width {
                let expected = (values[column] - mean) / (variance + 1e-5).squareRoot() * Double(weight[column])
                #expect(abs(Double(y[row * width + column]) - expected) < 1e-5)
            }
        }
        var g = x
        GELU.apply(&g, count: g.count)
        for (value, result) in zip(x, g) {
            let expected = 0.5 * Double(value) * (1 + erf(Double(value) / 2.0.squareRoot()))
            #expect(abs(Double(result) - expected) < 1e-6)
        }
    }

    @Test func onlineSoftmaxOverTilesEqualsTheDirectSoftmax() {
        // One query at position 40 against keys 0..<50 in tiles of 16: ALiBi bias slope·(j − i), keys after 40 masked.
        let scores = (0..<50).map { Float(cos(Double($0) * 0.7)) * 4 }
        let slope: Float = 0.25, query = 40
        let biased = (0...query).map { Double(scores[$0]) + Double(slope) * Double($0 - query) }
        let maximum = biased.max()!
        let denominator = biased.map { Foundation.exp($0 - maximum) }.reduce(0, +)
        let values = (0..<50).map { Double($0 % 7) - 3 }
        let expected = (0...query).map { Foundation.exp(biased[$0] - maximum) / denominator * values[$0] }.reduce(0, +)

        var runningMax: Float = -.infinity, runningSum: Float = 0, accumulator: Float = 0
        for first in stride(from: 0, to: 50, by: 16) {
            var tile = (first..<min(50, first + 16)).map { scores[$0] + slope * Float($0 - query) }
            let visible = max(0, min(tile.count, query - first + 1))
            let rescale = OnlineSoftmax.fold(&tile, count: tile.count, visible: visible, maximum: &runningMax, sum: &runningSum)
            accumulator *= rescale
            for (offset, weight) in tile.enumerated() {
                if first + offset > query { #expect(weight == 0) }
                accumulator += weight * Float(values[first + offset])
            }
        }
        #expect(abs(Double(accumulator / runningSum) - expected) < 1e-5)
    }

    /// 19 outputs are one range of odd length, whose middle row decode pairs with itself; 43,691 outputs are
    /// several ranges of odd length (a million weights, enough for more than one worker's share).
    @Test(arguments: [NumberFormat.float32, .bfloat16, .float16], [(rows: 1, outputs: 19), (1, 43_691), (5, 19)])
    func linearMatchesANaiveProductInEveryFormat(format: NumberFormat, shape: (rows: Int, outputs: Int)) {
        let (rows, outputs) = shape
        let inputs = 24
        let weights = (0..<(outputs * inputs)).map { Float(($0 * 37) % 23 - 11) / 8 }  // exact in 16-bit formats
        let stored: [UInt8] = weights.withUnsafeBufferPointer { floats in
            switch format {
            case .float32: return Array(UnsafeRawBufferPointer(floats))
            case .bfloat16: return floats.flatMap { value -> [UInt8] in let bits = UInt16(value.bitPattern >> 16); return [UInt8(bits & 0xff), UInt8(bits >> 8)] }
            case .float16: return floats.flatMap { value -> [UInt8] in let bits = Float16(value).bitPattern; return [UInt8(bits & 0xff), UInt8(bits >> 8)] }
            case .q8: Issue.record("q8 is lossy; QuantizedWeightsTests covers it"); return []
            }
        }
        let x = (0..<(rows * inputs)).map { Float($0 % 5) - 2 }
        var y = [Float](repeating: 1, count: rows * outputs)
        stored.withUnsafeBytes { raw in
            let matrix = WeightMatrix(rows: outputs, columns: inputs, format: format, base: raw.baseAddress!)
            Linear.apply(matrix, to: x, rows: rows, into: &y, accumulate: true, scratch: ScratchBuffer())
        }
        for row in 0..<rows {
            for output in 0..<outputs {
                let expected = 1 + (0..<inputs).map { x[row * inputs + $0] * weights[output * inputs + $0] }.reduce(0, +)
                #expect(y[row * outputs + output] == expected)
            }
        }
    }

    @Test(arguments: [false, true])
    func tileProductMatchesANaiveProduct(accumulate: Bool) {
        // Two whole column blocks and a 5-column remainder, a row block and two single rows, strides wider than the rows.
        let m = TileProduct.rowBlock + 2, n = 2 * TileProduct.columnBlock + 5, k = 13
        let lda = k + 3, ldb = n + 2, ldc = n + 1
        let a = (0..<(m * lda)).map { Float(($0 * 29) % 17 - 8) / 4 }
        let b = (0..<(k * ldb)).map { Float(($0 * 31) % 19 - 9) / 8 }
        var c = (0..<(m * ldc)).map { Float($0 % 7) }
        let before = c
        TileProduct.multiply(m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: &c, ldc: ldc, accumulate: accumulate)
        for row in 0..<m {
            for column in 0..<ldc {
                guard column < n else {
                    #expect(c[row * ldc + column] == before[row * ldc + column], "past n is untouched")
                    continue
                }
                let product = (0..<k).map { Double(a[row * lda + $0]) * Double(b[$0 * ldb + column]) }.reduce(0, +)
                let expected = product + (accumulate ? Double(before[row * ldc + column]) : 0)
                #expect(abs(Double(c[row * ldc + column]) - expected) < 1e-4, "row \(row) column \(column)")
            }
        }
    }

    @Test func transposeWritesColumnsAsRowsAndZeroPads() {
        let rows = 5, columns = 3, stride = 8
        let source = (0..<(rows * columns)).map(Float.init)
        var destination = [Float](repeating: .nan, count: columns * stride)
        Transpose.apply(source, rows: rows, columns: columns, into: &destination, stride: stride)
        for column in 0..<columns {
            #expect(Array(destination[(column * stride)..<(column * stride + rows)]) == (0..<rows).map { source[$0 * columns + column] })
            #expect(destination[(column * stride + rows)..<((column + 1) * stride)].allSatisfy { $0 == 0 })
        }
    }
}
