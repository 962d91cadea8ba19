import Benchmarks
import Foundation
import Model
import Testing
import Weights

/// `storywriter bench` and the FLOP accounting its GFLOP/s rest on. (The speeds themselves are benchmarks,
/// recorded in bench/RESULTS.md, never asserted here.)
@Suite struct BenchCommandTests {
    private func bench(_ arguments: [String]) throws -> StoryWriterProcess.Run {
        try StoryWriterProcess.run(["bench"] + arguments)
    }

    @Test func countsMatrixAndCausalAttentionFLOPs() throws {
        let folder = try Fixtures.require(Fixtures.model("tiny-storywriter"))
        let flops = BenchmarkFLOPs(configuration: try MPTCheckpoint(folder: folder).configuration)
        // d_model 128, 2 layers, FFN 512, vocabulary 50,432.
        let perTokenPerLayer: Double = 4 * 128 * 128 + 2 * 128 * 512
        let matrix: Double = 2 * 2 * perTokenPerLayer
        let logits: Double = 2 * 50_432 * 128
        let attentionPerKey: Double = 4 * 128 * 2
        #expect(flops.matrixFLOPsPerToken == matrix)
        #expect(flops.logitFLOPsPerRow == logits)
        // Three tokens at positions 2, 3, 4 see 3 + 4 + 5 keys.
        #expect(flops.attentionFLOPs(tokens: 3, startingAt: 2) == attentionPerKey * 12)
        // The last block carries only the last row past Wqkv: the first two rows skip its out_proj, up_proj and
        // down_proj, and its attention sees the last row's 5 keys only.
        let afterKeysAndValues: Double = 2 * (128 * 128 + 2 * 128 * 512)
        #expect(flops.matrixFLOPsPerTokenAfterKeysAndValues == afterKeysAndValues)
        let attentionPerKeyPerLayer = attentionPerKey / 2
        #expect(flops.prefill(tokens: 3, depth: 2) == 3 * matrix - 2 * afterKeysAndValues + attentionPerKeyPerLayer * (12 + 5) + logits)
        // Two decode steps at positions 5 and 6 see 6 + 7 keys.
        #expect(flops.decode(steps: 2, depth: 5) == 2 * (matrix + logits) + attentionPerKey * 13)
    }

    @Test func reportsOneJSONObjectWithTheMeasuredRates() throws {
        let folder = try Fixtures.require(Fixtures.model("tiny-storywriter"))
        let result = try bench([
            "--model", folder.path, "--context", "40", "--depth", "130", "--decode", "3",
            "--repetitions", "1", "--chunk-size", "16", "--gemm-size", "128", "--json",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in [
            "prefill_tokens_per_second", "prefill_words_per_minute", "decode_tokens_per_second",
            "prefill_gflops_per_second", "gemm_peak_gflops_per_second", "peak_rss_bytes", "depth_fill_seconds", "kv_cache_bytes",
        ] {
            let value = try #require(object[key] as? Double, "missing \(key)")
            #expect(value > 0, "\(key) = \(value)")
        }
        let gflop = try #require(object["prefill_gflop"] as? Double)
        let skipped = try #require(object["prefill_attention_skipped_fraction"] as? Double)
        #expect((0...1).contains(skipped))
        // Written out for tiny-storywriter (d_model 128, 2 layers, FFN 512, vocabulary 50,432): 40 tokens at
        // positions 130-169. Every row runs every product of the first layer and the last layer's Wqkv; the last
        // layer's out_proj, up_proj and down_proj run for the last row only. The first layer's rows see
        // 131 + ... + 170 = 6,020 keys, the last layer's last row 170; each key costs 4 · d_model. One row of logits.
        let wqkv: Double = 2 * 128 * 384, rest: Double = 2 * (128 * 128 + 2 * 128 * 512)
        let matrices = 40 * (wqkv + rest) + 40 * wqkv + rest
        let attention: Double = 4 * 128 * (6_020 + 170)
        let expected = matrices + (1 - skipped) * attention + 2 * 50_432 * 128
        #expect(abs(gflop - expected * 1e-9) < 1e-9, "prefill GFLOP \(gflop), expected \(expected * 1e-9)")
        let tokensPerSecond = try #require(object["prefill_tokens_per_second"] as? Double)
        let wordsPerMinute = try #require(object["prefill_words_per_minute"] as? Double)
        #expect(abs(wordsPerMinute - tokensPerSecond * 60 * 48_201 / 71_884) < 1e-6 * wordsPerMinute)
    }

    @Test func runsWithQ8WeightsAndSaysSo() throws {
        let folder = try Fixtures.require(Fixtures.model("tiny-storywriter"))
        let result = try bench(["--model", folder.path, "--context", "20", "--decode", "3", "--repetitions", "1", "--gemm-size", "64", "--weights", "q8", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["weights"] as? String == "q8")
        #expect((object["decode_tokens_per_second"] as? Double ?? 0) > 0)

        let refused = try bench(["--model", folder.path, "--weights", "q3"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("q8"), "stderr: \(refused.stderr)")
    }

    @Test func refusesAnUnknownCacheFormat() throws {
        let folder = try Fixtures.require(Fixtures.model("tiny-storywriter"))
        let result = try bench(["--model", folder.path, "--kv-cache", "f7"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("f32"), "stderr: \(result.stderr)")
    }
}
