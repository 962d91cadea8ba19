import Kernels
import KVCache

/// Causal multi-head attention with ALiBi over everything in the KV cache, computed block by block with a
/// running softmax ("flash attention" order), so memory stays constant however long the book is.
///
/// Each head is one task. It walks the cache's blocks once; each block's keys are turned to [headDim × keys]
/// once and serve every tile of `queryTile` query rows: S = (scale · Q)·Kᵀ, the ALiBi bias, the causal mask
/// and the online-softmax update on S, then O += P·V, both products by `TileProduct`. A chunk of a few rows
/// (decode is a chunk of one) skips the transpose and takes each row's scores as dot products with the keys.
struct Attention {
    /// Query rows per score tile: 126 rows × 128 keys of scores (63 KB) stay in L2 beside the key and value tiles.
    static let queryTile = 21 * TileProduct.rowBlock
    /// From this many rows on, transposing a block's keys (two memory operations per key value) costs less
    /// than one dot product per row and key, whose horizontal sums cost about five operations each.
    static let transposedKeysMinimumRows = 16

    let layout: KVCacheLayout
    let slopes: [Float]
    let scale: Float
    let statistics: AttentionStatistics

    /// Keys per block rounded up to whole column blocks of `TileProduct`; the padding keys are zero.
    private var paddedBlockSize: Int { roundUp(layout.blockSize, to: TileProduct.columnBlock) }

    /// Floats of scratch one worker needs for a chunk of `rows`: scaled queries and output accumulators,
    /// per-row max, sum and query length, the transposed keys, the decoded key and value tiles and a score tile.
    func scratchPerWorker(rows: Int) -> Int {
        2 * rows * layout.headDim + 3 * rows
            + layout.headDim * paddedBlockSize + 2 * layout.tileElements + Self.queryTile * paddedBlockSize
    }

    /// `queries`: rows × (heads·headDim) with row stride `queryStride` (the Q part of the QKV projection),
    /// for positions `firstPosition ..< firstPosition + rows`, whose keys and values are already in `cache`.
    /// Writes rows × (heads·headDim) outputs, head-major, into `output`.
    func apply(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, firstPosition: Int,
        layer: Int, cache: KVCache, output: UnsafeMutablePointer<Float>, scratch: ScratchBuffer
    ) throws {
        guard rows > 0 else { return }
        let workers = min(Parallel.threads, layout.heads)
        let perWorker = scratchPerWorker(rows: rows)
        let memory = scratch.reserve(workers * perWorker)
        var failures = [Error?](repeating: nil, count: workers)
        failures.withUnsafeMutableBufferPointer { failures in
            Parallel.forEach(layout.heads) { head, worker in
                guard failures[worker] == nil else { return }
                do {
                    try attendHead(
                        head, queries: queries, queryStride: queryStride, rows: rows, firstPosition: firstPosition,
                        layer: layer, cache: cache, output: output, scratch: memory + worker * perWorker)
                } catch {
                    failures[worker] = error
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    }

    private func attendHead(
        _ head: Int, queries: UnsafePointer<Float>, queryStride: Int, rows: Int, firstPosition: Int,
        layer: Int, cache: KVCache, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) throws {
        let headDim = layout.headDim, keyStride = paddedBlockSize
        let transposesKeys = rows >= Self.transposedKeysMinimumRows
        let scaledQueries = scratch
        let accumulators = scaledQueries + rows * headDim
        let maxima = accumulators + rows * headDim
        let sums = maxima + rows
        let queryNorms = sums + rows
        let transposedKeys = queryNorms + rows
        let keyScratch = transposedKeys + headDim * keyStride
        let valueScratch = keyScratch + layout.tileElements
        let scores = valueScratch + layout.tileElements

        for row in 0..<rows {
            Vector.scale(queries + row * queryStride + head * headDim, count: headDim, by: scale, into: scaledQueries + row * headDim)
            queryNorms[row] = Vector.norm(scaledQueries + row * headDim, count: headDim)
        }
        accumulators.update(repeating: 0, count: rows * headDim)
        maxima.update(repeating: -.infinity, count: rows)
        sums.update(repeating: 0, count: rows)

        // Newest block first: the nearest keys set each row's maximum early, so that distant blocks can be
        // seen to be negligible (`DistantKeys`) before they are read.
        let lastPosition = firstPosition + rows - 1
        var computedTiles = 0, skippedTiles = 0
        defer { statistics.record(computedTiles: computedTiles, skippedTiles: skippedTiles) }
        for block in (0..<cache.blockCount(layer: layer)).reversed() {
            let positions = cache.positions(layer: layer, block: block)
            guard positions.lowerBound <= lastPosition else { continue }
            let knownKeyNorm = cache.keyNorm(layer: layer, block: block, head: head)
            let tileNeedsBlock = { (tileStart: Int) -> Bool in
                guard let knownKeyNorm else { return true }
                return (tileStart..<min(rows, tileStart + Self.queryTile)).contains { row in
                    !DistantKeys.negligible(
                        queryNorm: queryNorms[row], keyNorm: knownKeyNorm, slope: self.slopes[head],
                        distance: firstPosition + row - (positions.upperBound - 1), runningMaximum: maxima[row])
                }
            }
            // Rows before the block's first position see none of it; start at the first tile that does.
            let firstSeeing = max(0, positions.lowerBound - firstPosition)
            let firstTile = firstSeeing / Self.queryTile * Self.queryTile
            let tileStarts = Array(stride(from: firstTile, to: rows, by: Self.queryTile))
            // A tile's rows keep their maxima until that tile is processed, so deciding up front is final.
            let neededTileStarts = tileStarts.filter(tileNeedsBlock)
            computedTiles += neededTileStarts.count
            skippedTiles += tileStarts.count - neededTileStarts.count
            guard !neededTileStarts.isEmpty else { continue }

            let keys = try cache.keys(layer: layer, block: block, head: head, scratch: keyScratch)
            if knownKeyNorm == nil {
                let longest = (0..<positions.count).reduce(Float(0)) { max($0, Vector.norm(keys + $1 * headDim, count: headDim)) }
                cache.recordKeyNorm(longest, layer: layer, block: block, head: head)
            }
            if transposesKeys {
                Transpose.apply(keys, rows: positions.count, columns: headDim, into: transposedKeys, stride: keyStride)
            }
            let values = try cache.values(layer: layer, block: block, head: head, scratch: valueScratch)

            for tileStart in neededTileStarts {
                let tileRows = min(Self.queryTile, rows - tileStart)
                let tileLastPosition = firstPosition + tileStart + tileRows - 1
                let keyCount = min(positions.upperBound, tileLastPosition + 1) - positions.lowerBound
                let scoreStride = roundUp(keyCount, to: TileProduct.columnBlock)
                let tileQueries = scaledQueries + tileStart * headDim
                // A tile across the causal diagonal goes a register block of rows at a time, each only as far
                // as its last row sees: the masked triangle is a quarter of the products at depth 0.
                let crossesDiagonal = firstPosition + tileStart < positions.lowerBound + keyCount - 1
                let groupRows = crossesDiagonal ? TileProduct.rowBlock : tileRows
                let groupKeys = { (group: Int) in
                    max(0, min(keyCount, firstPosition + tileStart + min(tileRows, group + groupRows) - positions.lowerBound))
                }
                if transposesKeys {
                    for group in stride(from: 0, to: tileRows, by: groupRows) {
                        TileProduct.multiply(
                            m: min(groupRows, tileRows - group), n: roundUp(groupKeys(group), to: TileProduct.columnBlock),
                            k: headDim, a: tileQueries + group * headDim, lda: headDim,
                            b: transposedKeys, ldb: keyStride, c: scores + group * scoreStride, ldc: scoreStride, accumulate: false)
                    }
                } else {
                    let keyRows = WeightMatrix(rows: keyCount, columns: headDim, format: .float32, base: UnsafeRawPointer(keys))
                    for tileRow in 0..<tileRows {
                        MatrixVector.apply(keyRows, to: tileQueries + tileRow * headDim, into: scores + tileRow * scoreStride, accumulate: false)
                    }
                }
                for tileRow in 0..<tileRows {
                    let row = tileStart + tileRow
                    let rescale = OnlineSoftmax.fold(
                        scores + tileRow * scoreStride, count: keyCount,
                        firstKey: positions.lowerBound, query: firstPosition + row, slope: slopes[head],
                        maximum: &maxima[row], sum: &sums[row])
                    if rescale != 1 { Vector.scale(accumulators + row * headDim, count: headDim, by: rescale) }
                }
                for group in stride(from: 0, to: tileRows, by: groupRows) {
                    TileProduct.multiply(
                        m: min(groupRows, tileRows - group), n: headDim, k: groupKeys(group),
                        a: scores + group * scoreStride, lda: scoreStride, b: values, ldb: headDim,
                        c: accumulators + (tileStart + group) * headDim, ldc: headDim, accumulate: true)
                }
            }
        }
        for row in 0..<rows {
            Vector.scale(accumulators + row * headDim, count: headDim, by: 1 / sums[row], into: output + row * layout.width + head * headDim)
        }
    }
}

private func roundUp(_ value: Int, to multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }
