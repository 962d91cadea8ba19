import Foundation
import Kernels

/// ALiBi (Press et al., "Train Short, Test Long"): instead of position embeddings, each head adds
/// slope·(key − query) to its attention scores, a penalty that grows with distance and has no length limit.
/// Everything ALiBi decides lives here: the slopes, the bias, and when the bias puts keys out of reach.
public enum ALiBi {
    /// The per-head slopes exactly as the original MPT code (llm-foundry `gen_slopes`) computes them:
    /// for the next power of two n ≥ heads, slope_k = 2^(−k · biasMax / n), k = 1…n; when heads is not a
    /// power of two, the odd-indexed slopes come first, then the even ones, cut to `heads`.
    /// (Hugging Face transformers ignores `alibi_bias_max` and always uses 8; StoryWriter-style configs differ.)
    public static func slopes(heads: Int, biasMax: Float) -> [Float] {
        guard heads > 0 else { return [] }
        var powerOfTwo = 1
        while powerOfTwo < heads { powerOfTwo *= 2 }
        let all = (1...powerOfTwo).map { k in 1 / exp2(Double(k) * Double(biasMax) / Double(powerOfTwo)) }
        guard powerOfTwo != heads else { return all.map(Float.init) }
        let odd = stride(from: 1, to: powerOfTwo, by: 2).map { all[$0] }
        let even = stride(from: 0, to: powerOfTwo, by: 2).map { all[$0] }
        return (odd + even).prefix(heads).map(Float.init)
    }

    /// Adds the bias slope·(key − query) to `scores[0..<count]`, one query's scores for the keys at positions
    /// `firstKey ..< firstKey + count`.
    @inline(__always)
    static func addBias(_ scores: UnsafeMutablePointer<Float>, count: Int, firstKey: Int, query: Int, slope: Float) {
        let offsets = SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7)
        let start = Float(firstKey - query)
        var index = 0
        while index + 8 <= count {
            Vector.store(Vector.load(scores + index).addingProduct(start + Float(index) + offsets, slope), to: scores + index)
            index += 8
        }
        while index < count {
            scores[index] = scores[index].addingProduct(slope, start + Float(index))
            index += 1
        }
    }

    /// True if no key of a block can get a nonzero softmax weight from a query, so attention can skip the block
    /// and get the same bits: every biased score lies so far below the query's running maximum that
    /// `Exponential` gives its weight as exactly 0, so the block adds nothing to the sum or the output and moves
    /// no maximum. Far back in a book that is most of the cache for the heads with steep slopes.
    ///
    /// `queryNorm` is the (scaled) query's length, `keyNorm` the longest key's, `distance` how far the query sits
    /// after the block's last key, `runningMaximum` the largest score the query has seen so far. A score is at
    /// most ‖q‖·‖k‖ (Cauchy–Schwarz); the margins cover the rounding of the dot products.
    static func outOfReach(queryNorm: Float, keyNorm: Float, slope: Float, distance: Int, runningMaximum: Float) -> Bool {
        guard distance > 0, runningMaximum > -.infinity, queryNorm.isFinite, keyNorm.isFinite else { return false }
        let largestScore = Double(queryNorm) * Double(keyNorm) * 1.001 + 1e-3
        return largestScore - Double(slope) * Double(distance) < Double(runningMaximum) - zeroWeightGap
    }

    /// `Exponential` gives 0 below `Exponential.zeroBelow` (−87.3); 88.5 leaves more than a unit of room for rounding.
    private static let zeroWeightGap = (-Double(Exponential.zeroBelow)).rounded(.up) + 0.5
}

/// Attention's skip of the key blocks ALiBi puts out of reach (`ALiBi.outOfReach`), for one cache: per layer,
/// block and head, the longest key of the block as attention reads it (decoded), measured the first time
/// attention reads the block, with how many of the block's rows that covers. With it, a block can be seen
/// not to matter to a query without reading it again. A new session (a restored state too) has measured
/// nothing, so its first chunk reads every block.
///
/// Each head's slots are written only by the worker attending that head, so heads are served concurrently;
/// the blocks of a layer are covered (`cover`) before the workers start.
final class DistantKeys: @unchecked Sendable {
    /// The longest key's norm, over the block's first `rows` rows.
    private struct Bound {
        var norm: Float = 0
        var rows = 0
    }

    /// The (key block, query tile) score products computed and skipped, and the key blocks read.
    private struct Tally {
        var computed = 0
        var skipped = 0
        var read = 0
    }

    private var bounds: [[PerHead<Bound>]]
    private let tallies: PerHead<Tally>
    private let heads: Int

    init(layers: Int, heads: Int) {
        self.heads = heads
        bounds = Array(repeating: [], count: layers)
        tallies = PerHead(heads, Tally())
    }

    /// The bounds this one knows, for a forked cache holding the same blocks (`KVCache.fork`): a bound counts
    /// only while its block holds the rows it was measured over, so a block the fork changes is measured again.
    /// The tallies start at zero.
    func copy() -> DistantKeys {
        let copy = DistantKeys(layers: bounds.count, heads: heads)
        copy.bounds = bounds.map { layer in layer.map { $0.copy() } }
        return copy
    }

    /// What attention computed and skipped so far.
    var statistics: AttentionStatistics {
        let all = (0..<heads).map { tallies[$0] }
        return AttentionStatistics(
            computedTiles: all.reduce(0) { $0 + $1.computed }, skippedTiles: all.reduce(0) { $0 + $1.skipped },
            readBlocks: all.reduce(0) { $0 + $1.read })
    }

    /// Attention decoded one block's keys and values for `head`.
    func countRead(head: Int) {
        tallies[head].read += 1
    }

    /// Makes room for `blocks` blocks in `layer`; call before the workers start.
    func cover(layer: Int, blocks: Int) {
        while bounds[layer].count < blocks { bounds[layer].append(PerHead(heads, Bound())) }
    }

    /// The cache lost every position from `position` on: the bounds of the blocks it dropped go, and those of
    /// the last block it kept are stale (its rows may be replaced by others).
    func forget(from position: Int, blockSize: Int) {
        let keptBlocks = (max(0, position) + blockSize - 1) / blockSize
        for layer in bounds.indices {
            bounds[layer].removeLast(max(0, bounds[layer].count - keptBlocks))
            if bounds[layer].count == keptBlocks, let last = bounds[layer].last {
                for head in 0..<heads { last[head] = Bound() }
            }
        }
    }

    /// The starts of the query tiles (`Attention.queryTile` rows each, from row 0 at `firstPosition`) that must
    /// read the block holding keys `keys`: those with a row at or after the block's first key (the causal mask),
    /// less those whose every row the block cannot reach.
    func tilesInReach(
        layer: Int, block: Int, keys: Range<Int>, head: Int, slope: Float,
        rows: Int, firstPosition: Int, queryNorms: UnsafePointer<Float>, maxima: UnsafePointer<Float>
    ) -> [Int] {
        guard keys.lowerBound <= firstPosition + rows - 1 else { return [] }
        let keyNorm = knownNorm(layer: layer, block: block, head: head, rows: keys.count)
        let firstSeeing = max(0, keys.lowerBound - firstPosition)
        let tileStarts = Array(stride(from: firstSeeing / Attention.queryTile * Attention.queryTile, to: rows, by: Attention.queryTile))
        // A tile's rows keep their maxima until that tile is processed, so deciding up front is final.
        let inReach = tileStarts.filter { tileStart in
            guard let keyNorm else { return true }
            return (tileStart..<min(rows, tileStart + Attention.queryTile)).contains { row in
                !ALiBi.outOfReach(
                    queryNorm: queryNorms[row], keyNorm: keyNorm, slope: slope,
                    distance: firstPosition + row - (keys.upperBound - 1), runningMaximum: maxima[row])
            }
        }
        tallies[head].computed += inReach.count
        tallies[head].skipped += tileStarts.count - inReach.count
        return inReach
    }

    /// Measures the longest of a block's `count` keys (`headDim` floats each) the first time attention reads them.
    func measure(keys: UnsafePointer<Float>, count: Int, headDim: Int, layer: Int, block: Int, head: Int) {
        guard knownNorm(layer: layer, block: block, head: head, rows: count) == nil else { return }
        let longest = (0..<count).reduce(Float(0)) { max($0, Vector.norm(keys + $1 * headDim, count: headDim)) }
        bounds[layer][block][head] = Bound(norm: longest, rows: count)
    }

    /// The bound for `head`, if it was measured over exactly the block's current `rows`.
    private func knownNorm(layer: Int, block: Int, head: Int, rows: Int) -> Float? {
        let bound = bounds[layer][block][head]
        return bound.rows == rows && rows > 0 ? bound.norm : nil
    }
}

/// How many (head, key block, query tile) score products attention computed, and how many ALiBi let it skip,
/// since the session began: the bench reports the skipped share, which depends on the weights.
public struct AttentionStatistics: Sendable, Equatable {
    public let computedTiles: Int
    public let skippedTiles: Int
    /// (head, key block) pairs decoded from the cache. A block several texts of a batch share is decoded once
    /// for all of them and counted on one of them, so a batch's sum counts its reads.
    public let readBlocks: Int
}

/// One value per head in memory of its own, so the workers attending different heads write their slots at once.
private final class PerHead<Value> {
    private let slots: UnsafeMutablePointer<Value>
    private let count: Int

    init(_ count: Int, _ initial: Value) {
        self.count = count
        slots = .allocate(capacity: count)
        slots.initialize(repeating: initial, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    /// Another set of slots holding the same values.
    func copy() -> PerHead {
        let copy = PerHead(count, slots[0])
        copy.slots.update(from: slots, count: count)
        return copy
    }

    subscript(head: Int) -> Value {
        get { slots[head] }
        set { slots[head] = newValue }
    }
}
