import Foundation
import Generation
import Kernels
import KVCache
import Model
import Testing

/// The engine's attention (query tiles, register blocks across the causal diagonal, transposed keys, the skip of
/// blocks ALiBi puts out of reach) against attention written as its definition, in float64: scores, ALiBi bias,
/// causal mask, softmax, weighted values.
@Suite struct AttentionReferenceTests {
    static let layout = KVCacheLayout(layers: 1, heads: 4, headDim: 16, blockSize: 32)
    /// Steep slopes put most of a 300-position cache out of reach of the first heads; the last sees all of it.
    static let slopes: [Float] = [2, 1, 0.25, 0.01]
    static let scale: Float = 0.25
    static let positions = 300

    /// Keys, values and queries, positions × width each, uniform in [−2, 2).
    struct Inputs {
        let keys: [Float], values: [Float], queries: [Float]

        init(seed: UInt64) {
            var random = SeededRandomGenerator(seed: seed)
            func draw() -> [Float] {
                (0..<(AttentionReferenceTests.positions * AttentionReferenceTests.layout.width)).map { _ in Float(random.nextUnitInterval() * 4 - 2) }
            }
            keys = draw()
            values = draw()
            queries = draw()
        }
    }

    /// Attention by its definition: for the query at position i and each head, s_j = scale·(q·k_j) + slope·(j − i)
    /// over the keys j ≤ i, p = softmax(s), output Σ_j p_j·v_j. Rows × width, for positions `rows`.
    static func reference(_ inputs: Inputs, rows: Range<Int>) -> [Double] {
        let width = layout.width, headDim = layout.headDim
        var output = [Double](repeating: 0, count: rows.count * width)
        for i in rows {
            for head in 0..<layout.heads {
                let columns = (head * headDim)..<((head + 1) * headDim)
                let scores = (0...i).map { j in
                    Double(scale) * columns.reduce(0) { $0 + Double(inputs.queries[i * width + $1]) * Double(inputs.keys[j * width + $1]) }
                        + Double(slopes[head]) * Double(j - i)
                }
                let maximum = scores.max()!
                let weights = scores.map { Foundation.exp($0 - maximum) }
                let total = weights.reduce(0, +)
                for (j, weight) in weights.enumerated() {
                    for column in columns {
                        output[(i - rows.lowerBound) * width + column] += weight / total * Double(inputs.values[j * width + column])
                    }
                }
            }
        }
        return output
    }

    /// A cache holding the first `count` positions of `inputs`.
    static func cache(_ inputs: Inputs, count: Int) -> KVCache {
        let cache = KVCache(layout: layout)
        cache.append(layer: 0, keys: inputs.keys, values: inputs.values, rowStride: layout.width, rows: count)
        return cache
    }

    /// The engine's attention for the queries at positions `rows`, whose keys are in `cache`.
    static func attend(_ attention: Attention, _ inputs: Inputs, rows: Range<Int>, cache: KVCache) throws -> [Float] {
        var output = [Float](repeating: .nan, count: rows.count * layout.width)
        try inputs.queries.withUnsafeBufferPointer { queries in
            try output.withUnsafeMutableBufferPointer { output in
                try attention.apply(
                    queries: queries.baseAddress! + rows.lowerBound * layout.width, queryStride: layout.width, rows: rows.count,
                    firstPosition: rows.lowerBound, layer: 0, cache: cache, output: output.baseAddress!, scratch: ScratchBuffer())
            }
        }
        return output
    }

    static func expectClose(_ engine: [Float], _ reference: [Double], _ comment: Comment) {
        let worst = zip(engine, reference).map { abs(Double($0) - $1) }.max() ?? .infinity
        #expect(worst < 1e-5, "\(comment): largest difference \(worst)")
    }

    /// Prefill chunks of every shape attention distinguishes: one row (decode), a few rows (dot products, no
    /// transpose), 16 and more (transposed keys), more than one query tile, and a chunk from position 0. Each is
    /// asked twice of one `Attention`: the first reads every block and measures its keys, the second may skip
    /// those out of reach, and must give the same bits.
    @Test(arguments: [1, 5, 16, 127, 300])
    func prefillChunksMatchTheDefinition(rows: Int) throws {
        let inputs = Inputs(seed: 19)
        let chunk = (Self.positions - rows)..<Self.positions
        let cache = Self.cache(inputs, count: Self.positions)
        let attention = Attention(layout: Self.layout, slopes: Self.slopes, scale: Self.scale)
        let reading = try Self.attend(attention, inputs, rows: chunk, cache: cache)
        #expect(attention.statistics.skippedTiles == 0)
        let skipping = try Self.attend(attention, inputs, rows: chunk, cache: cache)
        Self.expectClose(reading, Self.reference(inputs, rows: chunk), "\(rows) rows")
        #expect(skipping == reading, "\(rows) rows: the skip changed bits")
        if chunk.lowerBound >= 3 * Self.layout.blockSize {
            #expect(attention.statistics.skippedTiles > 0, "\(rows) rows: nothing was out of reach")
        }
    }

    /// Decode, one position at a time: each step's row against the definition, and against a fresh `Attention`
    /// that has measured nothing and reads every block; the skip must be active and change no bit.
    @Test func decodeStepsMatchTheDefinition() throws {
        let inputs = Inputs(seed: 23)
        let start = 250
        let cache = Self.cache(inputs, count: start)
        let attention = Attention(layout: Self.layout, slopes: Self.slopes, scale: Self.scale)
        for position in start..<Self.positions {
            try inputs.keys.withUnsafeBufferPointer { keys in
                try inputs.values.withUnsafeBufferPointer { values in
                    cache.append(
                        layer: 0, keys: keys.baseAddress! + position * Self.layout.width,
                        values: values.baseAddress! + position * Self.layout.width, rowStride: Self.layout.width, rows: 1)
                }
            }
            let step = position..<(position + 1)
            let output = try Self.attend(attention, inputs, rows: step, cache: cache)
            let fresh = Attention(layout: Self.layout, slopes: Self.slopes, scale: Self.scale)
            #expect(try Self.attend(fresh, inputs, rows: step, cache: cache) == output, "position \(position): the skip changed bits")
            #expect(fresh.statistics.skippedTiles == 0)
            Self.expectClose(output, Self.reference(inputs, rows: step), "position \(position)")
        }
        #expect(attention.statistics.skippedTiles > 0)
    }

    /// After the cache is cut and refilled with other keys, attention must measure the cut block again: here a
    /// key after the cut, far back from the last queries, aligns with them so strongly that it dominates their
    /// softmax, where the block's old keys were out of reach.
    @Test func aCutBlockIsMeasuredAgain() throws {
        let original = Inputs(seed: 29), other = Inputs(seed: 31)
        let width = Self.layout.width, headDim = Self.layout.headDim
        let cache = Self.cache(original, count: Self.positions)
        let attention = Attention(layout: Self.layout, slopes: Self.slopes, scale: Self.scale)
        _ = try Self.attend(attention, original, rows: (Self.positions - 20)..<Self.positions, cache: cache)
        let skippedBefore = attention.statistics.skippedTiles

        let cut = 100, aligned = 110, head = 1, lastQuery = Self.positions - 1
        var keys = original.keys, values = original.values
        keys.replaceSubrange((cut * width)..., with: other.keys[(cut * width)...])
        values.replaceSubrange((cut * width)..., with: other.values[(cut * width)...])
        for column in (head * headDim)..<((head + 1) * headDim) {
            keys[aligned * width + column] = 60 * original.queries[lastQuery * width + column]
        }
        let refilled = Inputs(keys: keys, values: values, queries: original.queries)
        cache.truncate(to: cut)
        attention.cacheTruncated(to: cut)
        keys.withUnsafeBufferPointer { keys in
            values.withUnsafeBufferPointer { values in
                cache.append(
                    layer: 0, keys: keys.baseAddress! + cut * width, values: values.baseAddress! + cut * width,
                    rowStride: width, rows: Self.positions - cut)
            }
        }
        let rows = (Self.positions - 20)..<Self.positions
        Self.expectClose(try Self.attend(attention, refilled, rows: rows, cache: cache), Self.reference(refilled, rows: rows), "after the cut")
        #expect(attention.statistics.skippedTiles > skippedBefore)
    }
}

extension AttentionReferenceTests.Inputs {
    init(keys: [Float], values: [Float], queries: [Float]) {
        self.keys = keys
        self.values = values
        self.queries = queries
    }
}
