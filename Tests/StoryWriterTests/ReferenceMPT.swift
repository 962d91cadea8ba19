import CBLAS
import Foundation
import KVCache
import Model
import Weights

/// A plain float64 MPT forward pass, written from the MPT definition (mosaicml's `modeling_mpt.py`) and sharing
/// nothing with the engine but the checkpoint reader and its configuration: the yardstick for the engine's logits
/// at every position, its chunking, and its compressed KV caches. Slow and simple on purpose: one position, one
/// head, one loop at a time.
struct ReferenceMPT {
    let configuration: MPTConfiguration
    private let embedding: [Double]
    private let head: [Double]
    private let finalNorm: [Double]
    private let blocks: [Block]

    private struct Block {
        let norm1: [Double], wqkv: [Double], outProj: [Double], norm2: [Double], upProj: [Double], downProj: [Double]
    }

    init(folder: URL) throws {
        let checkpoint = try MPTCheckpoint(folder: folder)
        func load(_ name: String) throws -> [Double] { Self.widen(try checkpoint.weights.tensor(name)) }
        configuration = checkpoint.configuration
        embedding = try load(MPTTensorName.tokenEmbedding)
        head = try load(checkpoint.outputEmbeddingName)
        finalNorm = try load(MPTTensorName.finalNorm)
        blocks = try (0..<checkpoint.configuration.nLayers).map { layer in
            Block(norm1: try load(MPTTensorName.norm1(layer)), wqkv: try load(MPTTensorName.wqkv(layer)),
                  outProj: try load(MPTTensorName.outProj(layer)), norm2: try load(MPTTensorName.norm2(layer)),
                  upProj: try load(MPTTensorName.upProj(layer)), downProj: try load(MPTTensorName.downProj(layer)))
        }
    }

    private static func widen(_ tensor: TensorView) -> [Double] {
        (0..<tensor.elementCount).map { index in
            switch tensor.dtype {
            case .float32: Double(Float(bitPattern: tensor.bytes.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
            case .bfloat16: Double(Float(bitPattern: UInt32(tensor.bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)) << 16))
            case .float16: Double(Float16(bitPattern: tensor.bytes.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
            }
        }
    }

    /// MPT's `gen_slopes`: for a power-of-two head count h, head i (from 1) gets 2^(-i·alibi_bias_max/h); otherwise the
    /// slopes of the next power of two, odd-numbered ones first, cut to h.
    var alibiSlopes: [Double] {
        let heads = configuration.nHeads
        let padded = 1 << Int(Foundation.ceil(Foundation.log2(Double(heads))))
        let slopes = (1...padded).map { 1 / Foundation.pow(2, Double($0) * Double(configuration.alibiBiasMax) / Double(padded)) }
        guard padded != heads else { return slopes }
        return Array((stride(from: 1, to: padded, by: 2).map { slopes[$0] } + stride(from: 0, to: padded, by: 2).map { slopes[$0] }).prefix(heads))
    }

    /// The rows after the final norm, one per token; `storeKeysAndValues` sees each layer's keys and values
    /// ([tokens × d_model]) before attention reads them, as a KV cache stores them.
    func finalHidden(_ tokens: [Int], storeKeysAndValues: ((inout [Double], inout [Double]) -> Void)? = nil) -> [[Double]] {
        let d = configuration.dModel, heads = configuration.nHeads, headDim = configuration.headDim
        let epsilon = Double(configuration.layerNormEpsilon)
        let scale = configuration.softmaxScale.map(Double.init) ?? 1 / Double(headDim).squareRoot()
        let slopes = alibiSlopes
        var x = tokens.map { Array(embedding[($0 * d)..<(($0 + 1) * d)]) }
        for block in blocks {
            var queries = [Double](), keys = [Double](), values = [Double]()
            for row in x {
                var qkv = Self.multiply(block.wqkv, Self.layerNorm(row, block.norm1, epsilon))
                if let clip = configuration.clipQKV { qkv = qkv.map { min(max($0, -Double(clip)), Double(clip)) } }
                queries += qkv[0..<d]
                keys += qkv[d..<(2 * d)]
                values += qkv[(2 * d)..<(3 * d)]
            }
            storeKeysAndValues?(&keys, &values)
            for i in tokens.indices {
                var attended = [Double](repeating: 0, count: d)
                for h in 0..<heads {
                    let q = (i * d + h * headDim)..<(i * d + (h + 1) * headDim)
                    let scores = (0...i).map { j in
                        zip(queries[q], keys[(j * d + h * headDim)...]).reduce(0) { $0 + $1.0 * $1.1 } * scale + slopes[h] * Double(j - i)
                    }
                    let top = scores.max()!
                    let weights = scores.map { Foundation.exp($0 - top) }
                    let total = weights.reduce(0, +)
                    for (j, weight) in weights.enumerated() {
                        for k in 0..<headDim { attended[h * headDim + k] += weight / total * values[j * d + h * headDim + k] }
                    }
                }
                x[i] = zip(x[i], Self.multiply(block.outProj, attended)).map(+)
                let hidden = Self.multiply(block.upProj, Self.layerNorm(x[i], block.norm2, epsilon)).map { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }
                x[i] = zip(x[i], Self.multiply(block.downProj, hidden)).map(+)
            }
        }
        return x.map { Self.layerNorm($0, finalNorm, epsilon) }
    }

    /// The logits of one final hidden row: the output embedding times the row, times `logit_scale`.
    func logits(_ hidden: [Double]) -> [Double] { logits(of: [hidden]) }

    /// The logits of several final hidden rows, one after another ([rows × vocabulary]); the product in float64
    /// BLAS (dgemm), which shares no code with the engine's float32 path.
    func logits(of hidden: [[Double]]) -> [Double] {
        let d = configuration.dModel, vocabulary = head.count / d
        let rows = hidden.flatMap { $0 }
        var product = [Double](repeating: 0, count: hidden.count * vocabulary)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(hidden.count), Int32(vocabulary), Int32(d),
                    Double(configuration.logitScale ?? 1), rows, Int32(d), head, Int32(d), 0, &product, Int32(vocabulary))
        return product
    }

    /// LayerNorm without bias: (x - mean) / sqrt(variance + eps) · weight.
    private static func layerNorm(_ x: [Double], _ weight: [Double], _ epsilon: Double) -> [Double] {
        let mean = x.reduce(0, +) / Double(x.count)
        let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count)
        let inverse = 1 / (variance + epsilon).squareRoot()
        return zip(x, weight).map { ($0 - mean) * inverse * $1 }
    }

    /// `weight` [out × in] (PyTorch's Linear layout) times `x`.
    private static func multiply(_ weight: [Double], _ x: [Double]) -> [Double] {
        (0..<(weight.count / x.count)).map { row in
            var sum: Double = 0
            for column in x.indices { sum += weight[row * x.count + column] * x[column] }
            return sum
        }
    }
}

extension KVCacheFormat {
    /// Keys and values ([rows × heads·headDim]) as this format gives them back: rounded to float32, stored in a
    /// one-layer cache (the engine's own codec) and read out again, for a reference that quantizes as the cache does.
    func roundTrip(keys: inout [Double], values: inout [Double], heads: Int, headDim: Int) throws {
        let layout = KVCacheLayout(layers: 1, heads: heads, headDim: headDim)
        let cache = KVCache(layout: layout, format: self)
        let rows = keys.count / layout.width
        cache.append(layer: 0, keys: keys.map { Float($0) }, values: values.map { Float($0) }, rowStride: layout.width, rows: rows)
        var scratch = [Float](repeating: .nan, count: layout.tileElements)
        for block in 0..<cache.blockCount(layer: 0) {
            let positions = cache.positions(layer: 0, block: block)
            for head in 0..<heads {
                for (read, isKeys) in [(cache.keys, true), (cache.values, false)] {
                    let tile = try scratch.withUnsafeMutableBufferPointer { scratch in
                        Array(UnsafeBufferPointer(start: try read(0, block, head, scratch.baseAddress!), count: positions.count * headDim))
                    }
                    for (offset, position) in positions.enumerated() {
                        for k in 0..<headDim {
                            let decoded = Double(tile[offset * headDim + k])
                            if isKeys { keys[position * layout.width + head * headDim + k] = decoded } else { values[position * layout.width + head * headDim + k] = decoded }
                        }
                    }
                }
            }
        }
    }
}
