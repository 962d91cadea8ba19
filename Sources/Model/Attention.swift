import Kernels
import KVCache

/// Causal multi-head attention with ALiBi over everything in the KV cache, computed block by block with a
/// running softmax ("flash attention" order), so memory stays constant however long the book is.
///
/// Work is split into tasks of (head, tile of `queryTile` query rows). Each task walks the cache's blocks:
/// S = scale · Q·Kᵀ by sgemm, ALiBi bias, causal mask and the online-softmax update on S, then O += P·V by
/// sgemm. Prefill chunks and single-token decode take the same path (decode is a chunk of one row).
struct Attention {
    /// Query rows per task: 128 rows × 128 keys of scores (64 KB) stay in L2 next to the key and value tiles,
    /// and the two GEMMs per block are large enough for OpenBLAS (64 rows measured 15% slower at depth 2,048).
    static let queryTile = 128

    let layout: KVCacheLayout
    let slopes: [Float]
    let scale: Float

    /// Floats of scratch one worker needs: a score tile, a key tile, a value tile, and per-row max and sum.
    var scratchPerWorker: Int { Self.queryTile * layout.blockSize + 2 * layout.tileElements + 2 * Self.queryTile }

    /// `queries`: rows × (heads·headDim) with row stride `queryStride` (the Q part of the QKV projection),
    /// for positions `firstPosition ..< firstPosition + rows`, whose keys and values are already in `cache`.
    /// Writes rows × (heads·headDim) outputs, head-major, into `output`.
    func apply(
        queries: UnsafePointer<Float>, queryStride: Int, rows: Int, firstPosition: Int,
        layer: Int, cache: KVCache, output: UnsafeMutablePointer<Float>, scratch: ScratchBuffer
    ) throws {
        let tiles = (rows + Self.queryTile - 1) / Self.queryTile
        let workers = Parallel.threads
        let perWorker = scratchPerWorker
        let memory = scratch.reserve(workers * perWorker)
        var failures = [Error?](repeating: nil, count: workers)
        // Our workers already use every core; nested OpenBLAS threads would only oversubscribe them.
        BLAS.threads = 1
        defer { BLAS.threads = Parallel.threads }
        failures.withUnsafeMutableBufferPointer { failures in
            Parallel.forEach(layout.heads * tiles) { task, worker in
                guard failures[worker] == nil else { return }
                let head = task % layout.heads
                let firstRow = (task / layout.heads) * Self.queryTile
                do {
                    try attendTile(
                        head: head, rows: firstRow..<min(rows, firstRow + Self.queryTile),
                        queries: queries, queryStride: queryStride, firstPosition: firstPosition,
                        layer: layer, cache: cache, output: output, scratch: memory + worker * perWorker)
                } catch {
                    failures[worker] = error
                }
            }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
    }

    private func attendTile(
        head: Int, rows: Range<Int>, queries: UnsafePointer<Float>, queryStride: Int, firstPosition: Int,
        layer: Int, cache: KVCache, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
    ) throws {
        let headDim = layout.headDim, width = layout.width
        let scores = scratch
        let keyScratch = scores + Self.queryTile * layout.blockSize
        let valueScratch = keyScratch + layout.tileElements
        let maxima = valueScratch + layout.tileElements
        let sums = maxima + Self.queryTile
        let tileQueries = queries + rows.lowerBound * queryStride + head * headDim
        let tileOutput = output + rows.lowerBound * width + head * headDim
        let count = rows.count
        maxima.update(repeating: -.infinity, count: count)
        sums.update(repeating: 0, count: count)
        for row in 0..<count { (tileOutput + row * width).update(repeating: 0, count: headDim) }

        let lastPosition = firstPosition + rows.upperBound - 1
        for block in 0..<cache.blockCount(layer: layer) {
            let positions = cache.positions(layer: layer, block: block)
            guard positions.lowerBound <= lastPosition else { break }
            let keyCount = min(positions.upperBound, lastPosition + 1) - positions.lowerBound
            let keys = try cache.keys(layer: layer, block: block, head: head, scratch: keyScratch)
            BLAS.sgemm(
                m: count, n: keyCount, k: headDim,
                a: tileQueries, lda: queryStride, b: keys, ldb: headDim, transposeB: true,
                c: scores, ldc: keyCount, alpha: scale)
            for row in 0..<count {
                let rescale = OnlineSoftmax.fold(
                    scores + row * keyCount, count: keyCount,
                    firstKey: positions.lowerBound, query: firstPosition + rows.lowerBound + row, slope: slopes[head],
                    maximum: &maxima[row], sum: &sums[row])
                if rescale != 1 { Vector.scale(tileOutput + row * width, count: headDim, by: rescale) }
            }
            let values = try cache.values(layer: layer, block: block, head: head, scratch: valueScratch)
            BLAS.sgemm(
                m: count, n: headDim, k: keyCount,
                a: scores, lda: keyCount, b: values, ldb: headDim,
                c: tileOutput, ldc: width, beta: 1)
        }
        for row in 0..<count {
            Vector.scale(tileOutput + row * width, count: headDim, by: 1 / sums[row])
        }
    }
}
