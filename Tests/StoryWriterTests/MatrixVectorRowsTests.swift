import Generation
import Kernels
import Testing

/// The matrix-vector kernel for several inputs at once (`--variants`): every input's products must be bitwise
/// those of the single-input kernel, in every weight format, for any number of inputs.
@Suite struct MatrixVectorRowsTests {
    enum Stored: String, CaseIterable, Sendable { case float32, bfloat16, float16, q8 }

    /// 203 columns: six whole stretches of 32, one of 8 and three single columns (a short last q8 group); 1131
    /// columns span three of the batched kernel's stretches of columns, the last one short. 37 rows split
    /// unevenly between workers, end in a short block of rows and leave a row without a partner.
    @Test(arguments: Stored.allCases)
    func eachInputGetsTheSingleKernelsBits(format: Stored) throws {
        for columns in [203, 256, 1131] {
            let rows = 37
            var random = SeededRandomGenerator(seed: 22)
            let weights = (0..<(rows * columns)).map { _ in Float.random(in: -2...2, using: &random) }
            let inputs = (0..<(9 * columns)).map { _ in Float.random(in: -1...1, using: &random) }
            let before = (0..<(9 * rows)).map { _ in Float.random(in: -1...1, using: &random) }
            try Self.withMatrix(weights, rows: rows, columns: columns, as: format) { matrix in
                for count in 1...9 {
                    for accumulate in [false, true] {
                        var together = before
                        MatrixVector.apply(matrix, toRows: inputs, count: count, into: &together, accumulate: accumulate)
                        var alone = before
                        for input in 0..<count {
                            inputs.withUnsafeBufferPointer { x in
                                alone.withUnsafeMutableBufferPointer { y in
                                    MatrixVector.apply(matrix, to: x.baseAddress! + input * columns, into: y.baseAddress! + input * rows, accumulate: accumulate)
                                }
                            }
                        }
                        let differing = zip(together, alone).filter { $0.bitPattern != $1.bitPattern }.count
                        #expect(differing == 0, "\(format) \(columns) columns, \(count) inputs, accumulate \(accumulate): \(differing) values differ")
                    }
                }
            }
        }
    }

    private static func withMatrix(
        _ weights: [Float], rows: Int, columns: Int, as format: Stored, _ body: (WeightMatrix) throws -> Void
    ) throws {
        switch format {
        case .float32, .q8:
            try weights.withUnsafeBytes { raw in
                let matrix = WeightMatrix(rows: rows, columns: columns, format: .float32, base: try #require(raw.baseAddress))
                if format == .q8 {
                    let quantized = QuantizedWeightMatrix(quantizing: matrix)
                    try body(quantized.matrix)
                } else {
                    try body(matrix)
                }
            }
        case .bfloat16, .float16:
            let bits: [UInt16] = weights.map { format == .bfloat16 ? UInt16($0.bitPattern >> 16) : Float16($0).bitPattern }
            try bits.withUnsafeBytes { raw in
                try body(WeightMatrix(rows: rows, columns: columns, format: format == .bfloat16 ? .bfloat16 : .float16, base: try #require(raw.baseAddress)))
            }
        }
    }
}
