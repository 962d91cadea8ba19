import Kernels
import KVCache

/// Causal multi-head attention with ALiBi over everything in the KV cache. For one head and the query row at
/// position i, over the cached keys j:
///
///     s_j = (scale · q_i) · k_j + slope · (j − i)      scores with the ALiBi bias
///     p   = softmax(s over j ≤ i)                      the causal mask
///     o_i = Σ_j p_j · v_j                              the weighted values
///
/// computed block by block with a running softmax ("flash attention" order), so memory stays constant however
/// long the book is. `attendHead` is that algorithm; the tiling (`QueryTile`) and the skip of blocks ALiBi puts
/// out of reach (`DistantKeys`) are its helpers.
///
/// Each head is one task. It walks the cache's blocks once; each block's keys are turned to [headDim × keys]
/// once and serve every tile of `queryTile` query rows, both products by `TileProduct`. A chunk of a few rows
/// (decode is a chunk of one) skips the transpose and takes each row's scores as dot products with the keys.
public struct Attention {
    /// Query rows per score tile: 126 rows × 128 keys of scores (63 KB) stay in L2 beside the key and value tiles.
    static let queryTile = 21 * TileProduct.rowBlock
    /// From this many rows on, transposing a block's keys (two memory operations per key value) costs less
    /// than one dot product per row and key, whose horizontal sums cost about five operations each.
    static let transposedKeysMinimumRows = 16

    let layout: KVCacheLayout
    /// ALiBi's slope per head, and the softmax scale of the scores.
    let slopes: [Float]
    let scale: Float
    /// The bounds on the cached keys' lengths that let attention skip distant blocks: they describe the cache
    /// attention has read, so an `Attention` serves one cache.
    private let distantKeys: DistantKeys

    /// Attention over caches shaped `layout`, for one cache at a time.
    public init(layout: KVCacheLayout, slopes: [Float], scale: Float) {
        precondition(slopes.count == layout.heads, "Attention: one ALiBi slope per head")
        self.init(layout: layout, slopes: slopes, scale: scale, distantKeys: DistantKeys(layers: layout.layers, heads: layout.heads))
    }

    /// Attention over a fork of this one's cache (`KVCache.fork`), knowing what this one learnt of the blocks
    /// they share: the fork's first step skips what a step here would skip, instead of reading the whole book.
    func forked() -> Attention {
        Attention(layout: layout, slopes: slopes, scale: scale, distantKeys: distantKeys.copy())
    }

    private init(layout: KVCacheLayout, slopes: [Float], scale: Float, distantKeys: DistantKeys) {
        self.layout = layout
        self.slopes = slopes
        self.scale = scale
        self.distantKeys = distantKeys
    }

    /// What attention computed, and skipped as out of ALiBi's reach, so far.
    public var statistics: AttentionStatistics { distantKeys.statistics }

    /// The cache lost every position from `position` on: what attention knew of the cut blocks is stale.
    public func cacheTruncated(to position: Int) {
        distantKeys.forget(from: position, blockSize: layout.blockSize)
    }

    /// Keys per block rounded up to whole column blocks of `TileProduct`; the padding keys are zero.
    private var paddedBlockSize: Int { roundUp(layout.blockSize, to: TileProduct.columnBlock) }

    /// Floats of scratch one worker needs for a chunk of `rows`: its rows' state and one set of block tiles.
    func scratchPerWorker(rows: Int) -> Int { blockTileFloats + rowStateFloats(rows: rows) }

    /// The transposed keys and the decoded key and value tiles of one block.
    private var blockTileFloats: Int { layout.headDim * paddedBlockSize + 2 * layout.tileElements }

    /// Scaled queries and output accumulators, per-row max, sum and query length, and a score tile.
    private func rowStateFloats(rows: Int) -> Int {
        2 * rows * layout.headDim + 3 * rows + min(rows, Self.queryTile) * paddedBlockSize
    }

    /// `queries`: rows × (heads·headDim) with row stride `queryStride` (the Q part of the QKV projection),
    /// for positions `firstPosition ..< firstPosition + rows`, whose keys and values are already in `cache`.
    /// Writes rows × (heads·headDim) outputs, head-major, into `output`.
    public func apply(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, firstPosition: Int,
        layer: Int, cache: KVCache, output: UnsafeMutablePointer<Float>, scratch: ScratchBuffer
    ) throws {
        guard rows > 0 else { return }
        distantKeys.cover(layer: layer, blocks: cache.blockCount(layer: layer))
        try Self.forEachHead(layout.heads, floatsPerWorker: scratchPerWorker(rows: rows), scratch: scratch) { head, memory in
            let tiles = BlockTiles(memory, headDim: layout.headDim, keyStride: paddedBlockSize, tileElements: layout.tileElements)
            try attendHead(
                head, queries: queries, queryStride: queryStride, rows: rows, firstPosition: firstPosition,
                layer: layer, cache: cache, output: output,
                state: HeadScratch(memory + blockTileFloats, rows: rows, headDim: layout.headDim, tiles: tiles))
        }
    }

    /// One decode row for each of several texts (`SessionBatch`): row m of `queries` is the query of the newest
    /// position of `members[m].cache`, attended by `members[m].attention`; its output goes to row m of `output`
    /// (row stride `outputStride`). Each row gets exactly the arithmetic of its own one-row `apply` (its own
    /// running softmax, its own skip of distant blocks, each block newest first), but a block that several
    /// members' caches share (`KVCache.fork`) is decoded once per head for all of them: deep in a book, reading
    /// the KV cache costs as much as reading the weights.
    static func apply(
        independent members: [(attention: Attention, cache: KVCache)], queries: UnsafePointer<Float>, queryStride: Int,
        layer: Int, output: UnsafeMutablePointer<Float>, outputStride: Int, scratch: ScratchBuffer
    ) throws {
        guard let first = members.first?.attention else { return }
        precondition(members.allSatisfy { $0.attention.layout == first.layout }, "Attention: a batch's members share one cache layout")
        for member in members { member.attention.distantKeys.cover(layer: layer, blocks: member.cache.blockCount(layer: layer)) }
        let rowFloats = first.rowStateFloats(rows: 1)
        // Members with as many blocks walk them in step; in a batch decoded together that is every member.
        let inStep = Dictionary(grouping: members.indices) { members[$0].cache.blockCount(layer: layer) }.values
        try forEachHead(first.layout.heads, floatsPerWorker: first.blockTileFloats + members.count * rowFloats, scratch: scratch) { head, memory in
            let tiles = BlockTiles(memory, headDim: first.layout.headDim, keyStride: first.paddedBlockSize, tileElements: first.layout.tileElements)
            let states = members.indices.map { member in
                HeadScratch(memory + first.blockTileFloats + member * rowFloats, rows: 1, headDim: first.layout.headDim, tiles: tiles)
            }
            for (member, reader) in members.enumerated() {
                reader.attention.startHead(head, queries: queries + member * queryStride, queryStride: queryStride, rows: 1, state: states[member])
            }
            for group in inStep {
                try attendHead(head, together: group, of: members, layer: layer, states: states, tiles: tiles)
            }
            for (member, reader) in members.enumerated() {
                reader.attention.finishHead(head, rows: 1, output: output + member * outputStride, state: states[member])
            }
        }
    }

    /// One head for members whose caches hold as many blocks, block by block from the newest: the members
    /// holding one block share its reading, each folding it into its own running softmax.
    private static func attendHead(
        _ head: Int, together group: [Int], of members: [(attention: Attention, cache: KVCache)], layer: Int,
        states: [HeadScratch], tiles: BlockTiles
    ) throws {
        for block in (0..<members[group[0]].cache.blockCount(layer: layer)).reversed() {
            var unread = group[...]
            while let holder = unread.first {
                let cache = members[holder].cache, keyPositions = cache.positions(layer: layer, block: block)
                let sharing = unread.filter { members[$0].cache.holdsSameBlock(layer: layer, index: block, as: cache) }
                unread.removeAll { sharing.contains($0) }
                // Each member decides by its own running maximum; a block none of them reaches is not read.
                let reading = sharing.filter { member in
                    let attention = members[member].attention
                    return !attention.distantKeys.tilesInReach(
                        layer: layer, block: block, keys: keyPositions, head: head, slope: attention.slopes[head], rows: 1,
                        firstPosition: members[member].cache.count(layer: layer) - 1,
                        queryNorms: states[member].queryNorms, maxima: states[member].maxima
                    ).isEmpty
                }
                guard let reader = reading.first else { continue }
                let keys = try members[reader].attention.readKeys(
                    layer: layer, block: block, head: head, count: keyPositions.count, rows: 1, cache: cache, state: states[reader])
                let values = try cache.values(layer: layer, block: block, head: head, scratch: tiles.values)
                for member in reading {
                    let attention = members[member].attention
                    // The reader measured its keys; each other member learns their bound from the same read.
                    if member != reader {
                        attention.distantKeys.measure(keys: keys, count: keyPositions.count, headDim: attention.layout.headDim, layer: layer, block: block, head: head)
                    }
                    let tile = QueryTile(start: 0, chunkRows: 1, firstPosition: members[member].cache.count(layer: layer) - 1, keys: keyPositions)
                    attention.fold(tile, head: head, keys: keys, values: values, state: states[member])
                }
            }
        }
    }

    /// Runs `body(head, scratch)` for every head on the worker threads, each worker with `floatsPerWorker` floats
    /// of its own scratch, and rethrows the first failure.
    private static func forEachHead(
        _ heads: Int, floatsPerWorker: Int, scratch: ScratchBuffer, _ body: (Int, UnsafeMutablePointer<Float>) throws -> Void
    ) throws {
        let workers = min(Parallel.threads, heads)
        let memory = scratch.reserve(workers * floatsPerWorker)
        var failures = [Error?](repeating: nil, count: workers)
        failures.withUnsafeMutableBufferPointer { failures in
            Parallel.forEach(heads) { head, worker in
                guard failures[worker] == nil else { return }
                do {
                    try body(head, memory + worker * floatsPerWorker)
                } catch {
                    failures[worker] = error
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    }

    /// One head for every row of the chunk, over every cached block.
    private func attendHead(
        _ head: Int, queries: UnsafePointer<Float>, queryStride: Int, rows: Int, firstPosition: Int,
        layer: Int, cache: KVCache, output: UnsafeMutablePointer<Float>, state: HeadScratch
    ) throws {
        startHead(head, queries: queries, queryStride: queryStride, rows: rows, state: state)
        // Newest block first: the nearest keys set each row's maximum early, so that distant blocks can be
        // seen to be out of reach before they are read.
        for block in (0..<cache.blockCount(layer: layer)).reversed() {
            let keyPositions = cache.positions(layer: layer, block: block)
            let tileStarts = distantKeys.tilesInReach(
                layer: layer, block: block, keys: keyPositions, head: head, slope: slopes[head],
                rows: rows, firstPosition: firstPosition, queryNorms: state.queryNorms, maxima: state.maxima)
            guard !tileStarts.isEmpty else { continue }
            let keys = try readKeys(layer: layer, block: block, head: head, count: keyPositions.count, rows: rows, cache: cache, state: state)
            let values = try cache.values(layer: layer, block: block, head: head, scratch: state.tiles.values)
            for tileStart in tileStarts {
                fold(QueryTile(start: tileStart, chunkRows: rows, firstPosition: firstPosition, keys: keyPositions), head: head, keys: keys, values: values, state: state)
            }
        }
        finishHead(head, rows: rows, output: output, state: state)
    }

    /// q ← scale · q, with its length for the skip rule; the running softmax starts empty.
    private func startHead(_ head: Int, queries: UnsafePointer<Float>, queryStride: Int, rows: Int, state: HeadScratch) {
        let headDim = layout.headDim
        for row in 0..<rows {
            Vector.scale(queries + row * queryStride + head * headDim, count: headDim, by: scale, into: state.queries + row * headDim)
            state.queryNorms[row] = Vector.norm(state.queries + row * headDim, count: headDim)
        }
        state.accumulators.update(repeating: 0, count: rows * headDim)
        state.maxima.update(repeating: -.infinity, count: rows)
        state.sums.update(repeating: 0, count: rows)
    }

    /// A tile of rows against one block's keys and values: the scores, the bias and causal mask, the running
    /// softmax, and the weighted values added to the rows' accumulators.
    private func fold(_ tile: QueryTile, head: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, state: HeadScratch) {
        let headDim = layout.headDim
        computeScores(tile, keys: keys, state: state)
        for tileRow in 0..<tile.rows {
            let row = tile.start + tileRow, query = tile.firstPosition + row
            let scores = state.scores + tileRow * tile.scoreStride
            // The causal mask: the row sees the block's keys up to its own position.
            let visible = max(0, min(tile.keyCount, query - tile.firstKey + 1))
            ALiBi.addBias(scores, count: visible, firstKey: tile.firstKey, query: query, slope: slopes[head])
            let rescale = OnlineSoftmax.fold(scores, count: tile.keyCount, visible: visible, maximum: &state.maxima[row], sum: &state.sums[row])
            if rescale != 1 { Vector.scale(state.accumulators + row * headDim, count: headDim, by: rescale) }
        }
        addWeightedValues(tile, values: values, state: state)
    }

    /// o = Σ p·v / Σ p, into the rows' outputs (`layout.width` floats a row).
    private func finishHead(_ head: Int, rows: Int, output: UnsafeMutablePointer<Float>, state: HeadScratch) {
        let headDim = layout.headDim
        for row in 0..<rows {
            Vector.scale(state.accumulators + row * headDim, count: headDim, by: 1 / state.sums[row], into: output + row * layout.width + head * headDim)
        }
    }

    /// `head`'s keys of a block as float32 [count × headDim], and transposed to [headDim × keys] in
    /// `state.tiles.transposedKeys` when the chunk has rows enough for that to pay. Counted as one block read.
    private func readKeys(
        layer: Int, block: Int, head: Int, count: Int, rows: Int, cache: KVCache, state: HeadScratch
    ) throws -> UnsafePointer<Float> {
        let keys = try cache.keys(layer: layer, block: block, head: head, scratch: state.tiles.keys)
        distantKeys.measure(keys: keys, count: count, headDim: layout.headDim, layer: layer, block: block, head: head)
        distantKeys.countRead(head: head)
        if rows >= Self.transposedKeysMinimumRows {
            Transpose.apply(keys, rows: count, columns: layout.headDim, into: state.tiles.transposedKeys, stride: paddedBlockSize)
        }
        return keys
    }

    /// S = (scale · Q) · Kᵀ for the tile's rows, `tile.scoreStride` floats a row.
    private func computeScores(_ tile: QueryTile, keys: UnsafePointer<Float>, state: HeadScratch) {
        let headDim = layout.headDim
        let queries = state.queries + tile.start * headDim
        if tile.chunkRows >= Self.transposedKeysMinimumRows {
            for group in tile.groups {
                TileProduct.multiply(
                    m: tile.rows(ofGroup: group), n: roundUp(tile.keys(ofGroup: group), to: TileProduct.columnBlock),
                    k: headDim, a: queries + group * headDim, lda: headDim,
                    b: state.tiles.transposedKeys, ldb: paddedBlockSize, c: state.scores + group * tile.scoreStride, ldc: tile.scoreStride,
                    accumulate: false)
            }
        } else {
            let keyRows = WeightMatrix(rows: tile.keyCount, columns: headDim, format: .float32, base: UnsafeRawPointer(keys))
            for tileRow in 0..<tile.rows {
                MatrixVector.apply(keyRows, to: queries + tileRow * headDim, into: state.scores + tileRow * tile.scoreStride, accumulate: false)
            }
        }
    }

    /// O += P · V for the tile's rows, P being the softmax weights left in the scores.
    private func addWeightedValues(_ tile: QueryTile, values: UnsafePointer<Float>, state: HeadScratch) {
        let headDim = layout.headDim
        for group in tile.groups {
            TileProduct.multiply(
                m: tile.rows(ofGroup: group), n: headDim, k: tile.keys(ofGroup: group),
                a: state.scores + group * tile.scoreStride, lda: tile.scoreStride, b: values, ldb: headDim,
                c: state.accumulators + (tile.start + group) * headDim, ldc: headDim, accumulate: true)
        }
    }
}

/// A tile of query rows against one block of keys: how many of the block's keys its rows see (the last row
/// sees the most), and its register-block groups of rows. A tile across the causal diagonal goes a register
/// block of rows at a time, each only as far as its last row sees: the masked triangle is a quarter of the
/// products at depth 0.
private struct QueryTile {
    /// The tile's first row in the chunk, and its rows.
    let start: Int
    let rows: Int
    /// Rows in the whole chunk, the position of its first row, and the position of the block's first key.
    let chunkRows: Int
    let firstPosition: Int
    let firstKey: Int
    /// Keys of the block the tile's last row sees, and the score row stride that holds them.
    let keyCount: Int
    let scoreStride: Int
    private let groupRows: Int
    private let firstVisible: Int

    init(start: Int, chunkRows: Int, firstPosition: Int, keys: Range<Int>) {
        self.start = start
        self.chunkRows = chunkRows
        self.firstPosition = firstPosition
        firstKey = keys.lowerBound
        rows = min(Attention.queryTile, chunkRows - start)
        let lastPosition = firstPosition + start + rows - 1
        keyCount = min(keys.upperBound, lastPosition + 1) - keys.lowerBound
        scoreStride = roundUp(keyCount, to: TileProduct.columnBlock)
        let crossesDiagonal = firstPosition + start < keys.lowerBound + keyCount - 1
        groupRows = crossesDiagonal ? TileProduct.rowBlock : rows
        firstVisible = firstPosition + start - keys.lowerBound
    }

    /// The first tile row of each group.
    var groups: StrideTo<Int> { stride(from: 0, to: rows, by: groupRows) }

    func rows(ofGroup group: Int) -> Int { min(groupRows, rows - group) }

    /// Keys the group's last row sees.
    func keys(ofGroup group: Int) -> Int {
        max(0, min(keyCount, firstVisible + min(rows, group + groupRows)))
    }
}

/// One worker's scratch for one head's rows, carved from `Attention.rowStateFloats` floats, beside the block
/// tiles the rows read.
private struct HeadScratch {
    /// The head's queries times the softmax scale, rows × headDim.
    let queries: UnsafeMutablePointer<Float>
    /// Σ p·v so far, rows × headDim.
    let accumulators: UnsafeMutablePointer<Float>
    /// Per row: the running maximum score, the running sum of weights, and the scaled query's length.
    let maxima: UnsafeMutablePointer<Float>
    let sums: UnsafeMutablePointer<Float>
    let queryNorms: UnsafeMutablePointer<Float>
    /// One tile's scores, then its softmax weights.
    let scores: UnsafeMutablePointer<Float>
    let tiles: BlockTiles

    init(_ base: UnsafeMutablePointer<Float>, rows: Int, headDim: Int, tiles: BlockTiles) {
        queries = base
        accumulators = queries + rows * headDim
        maxima = accumulators + rows * headDim
        sums = maxima + rows
        queryNorms = sums + rows
        scores = queryNorms + rows
        self.tiles = tiles
    }
}

/// Room for one block of one head as attention reads it, carved from `Attention.blockTileFloats` floats: the
/// decoded keys and values, and the keys transposed.
private struct BlockTiles {
    let transposedKeys: UnsafeMutablePointer<Float>
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>

    init(_ base: UnsafeMutablePointer<Float>, headDim: Int, keyStride: Int, tileElements: Int) {
        transposedKeys = base
        keys = transposedKeys + headDim * keyStride
        values = keys + tileElements
    }
}

private func roundUp(_ value: Int, to multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
