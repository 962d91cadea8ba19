import Foundation
import Generation
import KVCache
import Model
import Testing

/// The compressed KV formats against tiny-storywriter's 3,000-token `long` reference case.
@Suite struct KVCompressionTests {
    struct Tolerance: Sendable, CustomStringConvertible {
        let format: KVCacheFormat
        /// Mean NLL relative to the reference.
        let nll: Double
        /// Last-position logits, relative L2 to the reference.
        let logits: Double
        var description: String { format.rawValue }
    }

    /// Measured on the `long` case (mean NLL, last logits): f32 1.2e-10, 8.9e-7; f16 1.5e-6, 1.8e-4; q8 2.9e-5,
    /// 5.3e-3; q4 5.4e-5, 8.7e-2. Each bound is about 1.3 times that, so a codec twice as lossy fails;
    /// `ReferenceMPTTests` holds each format to the reference with its codec applied.
    static let tolerances = [
        Tolerance(format: .float32, nll: 3e-10, logits: 1.2e-6),
        Tolerance(format: .float16, nll: 2e-6, logits: 2.3e-4),
        Tolerance(format: .q8, nll: 3.8e-5, logits: 7e-3),
        Tolerance(format: .q4, nll: 7e-5, logits: 0.115),
    ]

    @Test(arguments: tolerances)
    func longCaseStaysWithinTheFormatsTolerance(_ tolerance: Tolerance) throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let long = try #require(golden.cases.first { $0.name == "long" })
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let session = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: tolerance.format))

        let logits = try session.prefill(long.inputIDs)
        let error = LogitError(logits, reference: try golden.lastLogits(of: long))
        #expect(error.relativeL2 < tolerance.logits, "\(tolerance.format): last logits relative L2 \(error.relativeL2)")

        let nll = try session.perplexity(of: long.inputIDs).meanNLL
        let relative = abs(nll - long.meanNLL) / long.meanNLL
        #expect(relative < tolerance.nll, "\(tolerance.format): mean NLL \(nll) vs \(long.meanNLL), relative \(relative)")
        #expect(session.cache.format == tolerance.format)
    }

    /// Every value comes back within half a quantization step of its group (scale = absmax/127 or /7), also
    /// for head widths that leave a short last group; f16 within its rounding; f32 exactly.
    @Test(arguments: [16, 32, 48, 128])
    func tilesRoundTripWithinHalfAStep(headDim: Int) throws {
        let layout = KVCacheLayout(layers: 1, heads: 2, headDim: headDim, blockSize: 8)
        let rows = 11
        var random = SeededRandomGenerator(seed: 47)
        let keys = (0..<(rows * layout.width)).map { _ in Float.random(in: -6...6, using: &random) * (Bool.random(using: &random) ? 1 : 0.01) }
        let values = keys.map { -$0 / 3 }
        for format in KVCacheFormat.allCases {
            let cache = KVCache(layout: layout, format: format)
            cache.append(layer: 0, keys: keys, values: values, rowStride: layout.width, rows: rows)
            var scratch = [Float](repeating: .nan, count: layout.tileElements)
            for block in 0..<cache.blockCount(layer: 0) {
                let positions = cache.positions(layer: 0, block: block)
                for head in 0..<layout.heads {
                    for (source, read) in [(keys, cache.keys), (values, cache.values)] {
                        let tile = try scratch.withUnsafeMutableBufferPointer { scratch in
                            let pointer = try read(0, block, head, scratch.baseAddress!)
                            return Array(UnsafeBufferPointer(start: pointer, count: positions.count * headDim))
                        }
                        for (offset, position) in positions.enumerated() {
                            let original = Array(source[(position * layout.width + head * headDim)..<(position * layout.width + (head + 1) * headDim)])
                            let decoded = Array(tile[(offset * headDim)..<((offset + 1) * headDim)])
                            for group in stride(from: 0, to: headDim, by: 32) {
                                let range = group..<min(headDim, group + 32)
                                let absmax = range.map { abs(original[$0]) }.max()!
                                let bound: Float = switch format {
                                case .float32: 0
                                case .float16: absmax * 0x1p-11
                                case .q8: absmax / 127 * 0.5001
                                case .q4: absmax / 7 * 0.5001
                                }
                                for index in range {
                                    #expect(abs(decoded[index] - original[index]) <= bound, "\(format) headDim \(headDim): \(decoded[index]) for \(original[index])")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func smallerFormatsTakeLessMemory() {
        let layout = KVCacheLayout(layers: 32, heads: 32, headDim: 128)
        let perToken = KVCacheFormat.allCases.map { $0.bytesPerTokenPerLayer(heads: layout.heads, headDim: layout.headDim) }
        #expect(perToken == [32_768, 16_384, 9_216, 5_120])
        let projection = KVMemoryProjection.storyWriter7B(physicalMemory: 24 << 30)
        #expect(projection.plan.format == .q4)
        #expect(projection.residentBytes + KVCachePlan.headroomBytes <= 24 << 30, "\(projection.plan.summary)")
        let small = KVCachePlan.auto(layout: KVCacheLayout(layers: 2, heads: 4, headDim: 32), tokens: 3_000, physicalMemory: 24 << 30, weightBytes: 13_000_000)
        #expect(small.format == .float32 && small.memoryBudget == nil)
    }

    @Test func memorySizesParseAsWritten() throws {
        #expect(try MemorySize.parse("2GB") == 2_000_000_000)
        #expect(try MemorySize.parse("512MiB") == 512 << 20)
        #expect(try MemorySize.parse("8G") == 8 << 30)
        #expect(try MemorySize.parse("1.5 GiB") == 3 << 29)
        #expect(try MemorySize.parse("4096") == 4096)
        for bad in ["", "GB", "2XB", "-1GB", "0"] {
            #expect(throws: KVCacheError.self) { try MemorySize.parse(bad) }
        }
    }
}
