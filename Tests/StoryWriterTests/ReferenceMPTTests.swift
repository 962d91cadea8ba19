import Foundation
import KVCache
import Model
import Testing
import Weights

/// The engine against `ReferenceMPT`, the float64 forward pass in the tests: logits at several positions (the
/// golden files hold only the last), chunking on the 3,000-token case, and each compressed KV cache against the
/// reference with that cache's codec applied.
@Suite struct ReferenceMPTTests {
    /// tiny-storywriter's `long` case through the reference, once per test run (it costs a few seconds); its
    /// first `quantizedLength` tokens with each compressed cache's codec applied to the keys and values.
    enum LongCase {
        static let tokens = Result { try #require(try GoldenFile.load("tiny-storywriter").cases.first { $0.name == "long" }).inputIDs }
        static let model = Result { try ReferenceMPT(folder: Fixtures.require(Fixtures.model("tiny-storywriter"))) }
        static let plain = Result { try model.get().finalHidden(tokens.get()) }
        /// Nine cache blocks and three chunks: enough for every codec path, a fifth of the whole case's cost.
        static let quantizedLength = 1_200
        static let float16 = Result { try quantized(applying: .float16) }
        static let q8 = Result { try quantized(applying: .q8) }
        static let q4 = Result { try quantized(applying: .q4) }

        static func quantized(_ format: KVCacheFormat) throws -> [[Double]] {
            switch format {
            case .float32: Array(try plain.get().prefix(quantizedLength))
            case .float16: try float16.get()
            case .q8: try q8.get()
            case .q4: try q4.get()
            }
        }

        private static func quantized(applying format: KVCacheFormat) throws -> [[Double]] {
            let reference = try model.get()
            var codecFailure: Error?
            let hidden = try reference.finalHidden(Array(tokens.get().prefix(quantizedLength))) { keys, values in
                do {
                    try format.roundTrip(keys: &keys, values: &values, heads: reference.configuration.nHeads, headDim: reference.configuration.headDim)
                } catch { codecFailure = error }
            }
            if let codecFailure { throw codecFailure }
            return hidden
        }
    }

    static let goldenModels = ["tiny-storywriter", "tiny-mpt-sharded", "tiny-mpt-fp16"]

    /// The reference earns its place: it reproduces every golden case's last logits to the float32 PyTorch
    /// reference's own rounding, and its greedy first token.
    @Test(arguments: goldenModels)
    func theReferenceReproducesTheGoldenLogits(model: String) throws {
        let golden = try GoldenFile.load(model)
        let reference = try ReferenceMPT(folder: Fixtures.require(Fixtures.model(model)))
        for goldenCase in golden.cases {
            let hidden = goldenCase.name == "long" && model == "tiny-storywriter" ? try LongCase.plain.get() : reference.finalHidden(goldenCase.inputIDs)
            let logits = reference.logits(hidden[hidden.count - 1])
            let error = LogitError(try golden.lastLogits(of: goldenCase), reference: logits)
            // Measured: relative L2 1e-6 to 5e-6, the float32 golden's own rounding (as for ../shared's NumPy reference).
            #expect(error.relativeL2 < 1e-5, "\(model) \(goldenCase.name): relative L2 \(error.relativeL2), max abs \(error.maxAbsolute)")
            #expect(logits.indices.max { logits[$0] < logits[$1] } == goldenCase.greedyIDs.first)
        }
    }

    /// Every position's logits, not only the last: a subtle change (LayerNorm's epsilon, GELU's tanh form)
    /// moves some positions far more than the last one.
    @Test(arguments: goldenModels)
    func logitsAtEveryPositionMatchTheReference(model: String) throws {
        let medium = try #require(try GoldenFile.load(model).cases.first { $0.name == "medium" })
        let worst = try Self.worstPosition(of: Fixtures.require(Fixtures.model(model)), reading: medium.inputIDs)
        // Measured: at most ~1e-5 at any position (typically ~1e-6).
        #expect(worst.relativeL2 < 2.5e-5, "\(model): relative L2 \(worst.relativeL2) at position \(worst.position)")
    }

    /// `softmax_scale` and `logit_scale` set (every shared fixture has null): tiny-mpt-fp16's weights with each
    /// config, the engine against the reference at every position.
    @Test(arguments: [(#"0.3"#, #"0.7"#, Float(0.7)), (#"null"#, #""inv_sqrt_d_model""#, Float(0.125))])
    func setSoftmaxAndLogitScalesMatchTheReference(softmaxScale: String, logitScale: String, resolvedLogitScale: Float) throws {
        let source = try Fixtures.require(Fixtures.model("tiny-mpt-fp16"))
        let folder = try KVSpillTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for file in ["model.safetensors", "tokenizer.json"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any])
        var attention = try #require(config["attn_config"] as? [String: Any])
        try #require(attention["softmax_scale"] is NSNull && config["logit_scale"] is NSNull, "the fixture's own config sets neither")
        func value(_ json: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed) }
        attention["softmax_scale"] = try value(softmaxScale)
        config["attn_config"] = attention
        config["logit_scale"] = try value(logitScale)
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("config.json"))

        #expect(try MPTConfiguration(contentsOf: folder.appendingPathComponent("config.json")).logitScale == resolvedLogitScale)

        let medium = try #require(try GoldenFile.load("tiny-mpt-fp16").cases.first { $0.name == "medium" })
        let worst = try Self.worstPosition(of: folder, reading: medium.inputIDs)
        // Measured: at most ~1e-6 at any position.
        #expect(worst.relativeL2 < 2.5e-5, "softmax_scale \(softmaxScale), logit_scale \(logitScale): relative L2 \(worst.relativeL2) at position \(worst.position)")
    }

    /// The engine's logits at every position of `tokens` against the reference's: the worst relative L2 and where.
    static func worstPosition(of folder: URL, reading tokens: [Int]) throws -> (position: Int, relativeL2: Double) {
        let reference = try ReferenceMPT(folder: folder)
        let hidden = reference.finalHidden(tokens)
        let session = InferenceSession(model: try MPTModel(folder: folder))
        var worst = (position: -1, relativeL2: 0.0), compared = 0
        try session.prefill(tokens, chunkSize: 100, logits: { chunk in
            let expected = reference.logits(of: Array(hidden[chunk.firstIndex..<(chunk.firstIndex + chunk.rows)]))
            for row in 0..<chunk.rows {
                let error = LogitError(chunk.row(row), reference: Array(expected[(row * chunk.vocabularySize)..<((row + 1) * chunk.vocabularySize)]))
                if error.relativeL2 > worst.relativeL2 { worst = (chunk.firstIndex + row, error.relativeL2) }
                compared += 1
            }
        })
        #expect(compared == tokens.count)
        return worst
    }

    /// The 3,000-token case (past max_seq_len) read in chunks of very different sizes: every chunking gives the
    /// reference's logits at positions on both sides of chunk and cache-block edges.
    @Test(arguments: [1, 7, 64, 512, 3_000])
    func theLongCaseDoesNotDependOnTheChunkSize(chunkSize: Int) throws {
        let tokens = try LongCase.tokens.get()
        let reference = try LongCase.model.get(), hidden = try LongCase.plain.get()
        let positions = [0, 511, 512, 1_000, 2_047, 2_048, 2_999]
        let logits = try Self.logits(of: tokens, at: positions, in: InferenceSession(model: MPTModel(folder: Fixtures.model("tiny-storywriter"))), chunkSize: chunkSize)
        for position in positions {
            let error = LogitError(try #require(logits[position]), reference: reference.logits(hidden[position]))
            // Measured: 2e-7 to 8e-6, every chunk size alike.
            #expect(error.relativeL2 < 2.5e-5, "chunk size \(chunkSize), position \(position): relative L2 \(error.relativeL2)")
        }
    }

    /// Each compressed cache against the reference with the same codec applied (the engine's own encode and
    /// decode, float64 everywhere else): the engine must sit far closer to that than the codec's own distance
    /// from the plain reference, so attention reads exactly what the codec stores. (The codec's own loss is
    /// bounded in `KVCompressionTests`.)
    @Test(arguments: [KVCacheFormat.float16, .q8, .q4])
    func compressedCachesMatchTheQuantizationAwareReference(format: KVCacheFormat) throws {
        let tokens = Array(try LongCase.tokens.get().prefix(LongCase.quantizedLength))
        let reference = try LongCase.model.get()
        let plain = try LongCase.quantized(.float32), quantized = try LongCase.quantized(format)
        let model = try MPTModel(folder: Fixtures.model("tiny-storywriter"))
        let session = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: format))
        let positions = [700, 1_000, 1_199]
        let logits = try Self.logits(of: tokens, at: positions, in: session)
        for position in positions {
            let expected = reference.logits(quantized[position])
            let codecDistance = LogitError(expected.map { Float($0) }, reference: reference.logits(plain[position])).relativeL2
            let error = LogitError(try #require(logits[position]), reference: expected).relativeL2
            // Measured: the engine sits about 1e-3 of the codec's distance from the q8 reference (the codec moves the
            // logits by about 5e-3 relative L2 there), and far closer to the q4 one. f16 sits up to 4e-2 of it: a key
            // computed in float32 and in float64 can round to different halves when it lies within float32 rounding
            // of a half-step boundary, and f16's steps are fine enough for that to happen often (q8's, less often).
            let bound: Double
            switch format {
            case .float16: bound = 0.15
            case .q8: bound = 5e-3
            default: bound = 1e-3
            }
            #expect(error < bound * codecDistance, "\(format) position \(position): \(error) from the quantization-aware reference, whose codec moves the logits by \(codecDistance)")
        }
    }

    /// The logits of `tokens` at `positions`, read through the prefill's logits callback.
    static func logits(of tokens: [Int], at positions: [Int], in session: InferenceSession,
                       chunkSize: Int = InferenceSession.defaultChunkSize) throws -> [Int: [Float]] {
        var logits: [Int: [Float]] = [:]
        try session.prefill(tokens, chunkSize: chunkSize, logits: { chunk in
            for row in 0..<chunk.rows where positions.contains(chunk.firstIndex + row) { logits[chunk.firstIndex + row] = Array(chunk.row(row)) }
        })
        return logits
    }
}
