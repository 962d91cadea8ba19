import Foundation
import Testing
import Weights

@Suite("storywriter inspect and synth (command line)")
struct CheckpointInspectCLITests {
    static func inspectJSON(_ folder: URL) throws -> [String: Any] {
        let result = try StoryWriterProcess.run(["inspect", folder.path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test("inspect --json reports the configuration, dtype, parameter count and every tensor's shape", arguments: ["tiny-storywriter", "tiny-storywriter-bin"])
    func inspectFixture(_ name: String) throws {
        let folder = try Fixtures.require(Fixtures.model(name))
        let report = try Self.inspectJSON(folder)
        #expect(report["d_model"] as? Int == 128)
        #expect(report["n_heads"] as? Int == 4)
        #expect(report["n_layers"] as? Int == 2)
        #expect(report["vocab_size"] as? Int == 50432)
        #expect(report["max_seq_len"] as? Int == 2048)
        #expect(report["alibi_bias_max"] as? Double == 16)
        #expect(report["clip_qkv"] as? Double == 6)
        #expect(report["dtype"] as? String == "bfloat16")
        #expect(report["parameters"] as? Int == 50432 * 128 + 2 * 12 * 128 * 128 + 2 * 2 * 128 + 128)
        #expect(report["tied_embeddings"] as? Bool == true)
        #expect(report["dialect"] as? String == "mosaicml")
        #expect(report["format"] as? String == (name.hasSuffix("bin") ? "pytorch" : "safetensors"))
        let files = try #require(report["files"] as? [[String: Any]])
        #expect(files.count == (name.hasSuffix("bin") ? 2 : 1))
        #expect(report["bytes"] as? Int == files.compactMap { $0["bytes"] as? Int }.reduce(0, +))

        let tensors = try #require(report["tensors"] as? [[String: Any]])
        #expect(tensors.count == 14)
        let shapes = Dictionary(uniqueKeysWithValues: tensors.compactMap { tensor in
            (tensor["name"] as? String).map { ($0, tensor["shape"] as? [Int] ?? []) }
        })
        #expect(shapes["transformer.wte.weight"] == [50432, 128])
        #expect(shapes["transformer.blocks.1.attn.Wqkv.weight"] == [384, 128])
        #expect(shapes["transformer.blocks.1.ffn.up_proj.weight"] == [512, 128])
        #expect(shapes["transformer.blocks.1.ffn.down_proj.weight"] == [128, 512])
        #expect(shapes["transformer.norm_f.weight"] == [128])
        #expect(tensors.allSatisfy { $0["dtype"] as? String == "bfloat16" })
    }

    @Test("inspect reports the sharded float32 fixture in the transformers dialect, clip_qkv null")
    func inspectShardedFixture() throws {
        let report = try Self.inspectJSON(Fixtures.require(Fixtures.model("tiny-mpt-sharded")))
        #expect(report["dialect"] as? String == "transformers")
        #expect(report["dtype"] as? String == "float32")
        #expect(report["clip_qkv"] is NSNull)
        #expect(report["parameters"] as? Int == 5_173_920)
    }

    @Test("synth writes a sharded .bin checkpoint that inspect reads; a broken folder is a clear error")
    func synthThenInspect() throws {
        let folder = try WeightsTestSupport.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let synth = try StoryWriterProcess.run(["synth", folder.path, "--d-model", "32", "--heads", "4", "--layers", "2", "--vocab", "100",
                                  "--format", "bin", "--shard-size", "10KB", "--dtype", "fp16", "--clip-qkv", "8", "--alibi-bias-max", "8"])
        #expect(synth.status == 0, "\(synth.stderr)")
        let report = try Self.inspectJSON(folder)
        #expect(report["d_model"] as? Int == 32)
        #expect(report["n_layers"] as? Int == 2)
        #expect(report["dtype"] as? String == "float16")
        #expect(report["clip_qkv"] as? Double == 8)
        #expect(report["format"] as? String == "pytorch")
        #expect((report["files"] as? [Any])?.count ?? 0 > 1)

        try FileManager.default.removeItem(at: folder.appendingPathComponent("pytorch_model-00001-of-0000\((report["files"] as? [Any])?.count ?? 0).bin"))
        let broken = try StoryWriterProcess.run(["inspect", folder.path])
        #expect(broken.status != 0)
        #expect(broken.stderr.contains("pytorch_model-00001-of-"))
        #expect(broken.stderr.contains("missing"))
    }
}
