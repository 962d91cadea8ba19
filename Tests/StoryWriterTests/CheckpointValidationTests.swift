import CheckpointWriter
import Foundation
import Model
import Testing
import Weights

@Suite("Checkpoint: folders, shards, tensor names and shapes")
struct CheckpointValidationTests {
    typealias Support = WeightsTestSupport

    @Test("the writer's safetensors and .bin checkpoints, single and sharded, hold bit-identical tensors")
    func writerRoundTrip() throws {
        let single = try Support.tinyCheckpoint(format: .safetensors)
        let sharded = try Support.tinyCheckpoint(format: .safetensors, shardSize: 2048)
        let bin = try Support.tinyCheckpoint(format: .pytorch)
        let binSharded = try Support.tinyCheckpoint(format: .pytorch, shardSize: 2048)
        defer { for folder in [single, sharded, bin, binSharded] { try? FileManager.default.removeItem(at: folder) } }

        let reference = try MPTCheckpoint(folder: single)
        #expect(reference.configuration == Support.tinyConfiguration)
        #expect(reference.weights.weightFiles.map(\.lastPathComponent) == ["model.safetensors"])
        for folder in [sharded, bin, binSharded] {
            let other = try MPTCheckpoint(folder: folder)
            #expect(other.tensorNames == reference.tensorNames)
            for name in reference.tensorNames {
                #expect(try other.weights.tensor(name).bytes.elementsEqual(reference.weights.tensor(name).bytes), "\(name) in \(folder.lastPathComponent)")
            }
        }
        #expect(try MPTCheckpoint(folder: sharded).weights.weightFiles.count > 2)
        #expect(try MPTCheckpoint(folder: binSharded).weights.weightFiles.first?.lastPathComponent.hasPrefix("pytorch_model-00001-of-") == true)
    }

    @Test("random weights have the intended scales: norms near 1, matrices near 1/sqrt(fan-in)", arguments: [TensorDType.bfloat16, .float16, .float32])
    func randomScales(dtype: TensorDType) throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let configuration = MPTConfiguration(dModel: 64, nHeads: 2, nLayers: 1, vocabSize: 256)
        try RandomCheckpointWriter(configuration: configuration, dtype: dtype, seed: 1).write(to: folder)
        let checkpoint = try MPTCheckpoint(folder: folder)
        #expect(checkpoint.weights.dtypes == [dtype])
        let norm = try floats(checkpoint.weights.tensor(MPTTensorName.norm1(0)))
        let up = try floats(checkpoint.weights.tensor(MPTTensorName.upProj(0)))
        #expect(abs(mean(norm) - 1) < 0.05)
        #expect(abs(standardDeviation(up) - 1 / 8) < 0.01)
        #expect(up.allSatisfy { $0.isFinite && abs($0) < 0.25 })
    }

    @Test("an untied lm_head.weight is found and reported")
    func untiedHead() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RandomCheckpointWriter(configuration: Support.tinyConfiguration, includesLMHead: true).write(to: folder)
        let checkpoint = try MPTCheckpoint(folder: folder)
        #expect(checkpoint.hasLMHead && !checkpoint.tiedEmbeddings)
        #expect(checkpoint.outputEmbeddingName == "lm_head.weight")
        #expect(checkpoint.tensorNames.last == "lm_head.weight")

        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        try Data(Support.safetensors(Support.tinyTensors())).write(to: folder.appendingPathComponent("model.safetensors"))
        guard case let .missingTensor(name)? = Support.openingError(folder) else { Issue.record("expected missingTensor"); return }
        #expect(name.hasPrefix("lm_head.weight"))
    }

    @Test("a missing or misshapen tensor is named")
    func missingAndMisshapen() throws {
        let folder = try Support.folder(withSafetensors: Support.safetensors(Support.tinyTensors(removing: [MPTTensorName.norm2(0)])))
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(Support.openingError(folder) == .missingTensor(name: "transformer.blocks.0.norm_2.weight"))

        try Data(Support.safetensors(Support.tinyTensors(replacing: [MPTTensorName.wqkv(0): [16, 48]]))).write(to: folder.appendingPathComponent("model.safetensors"))
        #expect(Support.openingError(folder) == .misshapenTensor(name: "transformer.blocks.0.attn.Wqkv.weight", expected: [48, 16], actual: [16, 48]))
    }

    @Test("a learned position embedding, a bias or a stray tensor is refused by name")
    func unsupportedTensors() throws {
        let folder = try Support.tinyCheckpoint()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, shape, hint) in [
            ("transformer.wpe.weight", [128, 16], "position embedding"),
            ("transformer.blocks.0.attn.Wqkv.bias", [48], "biases"),
            ("transformer.blocks.1.norm_1.weight", [16], "not part"),
        ] {
            try Data(Support.safetensors(Support.tinyTensors(adding: [(name, shape)]))).write(to: folder.appendingPathComponent("model.safetensors"))
            let error = Support.openingError(folder)
            guard case let .unsupportedTensor(refused, _)? = error else { Issue.record("expected unsupportedTensor for \(name)"); continue }
            #expect(refused == name)
            #expect(error?.description.contains(hint) == true, "\(error?.description ?? "")")
        }
    }

    @Test("a shard named in the index but missing, and an index that misplaces a tensor")
    func shards() throws {
        let folder = try Support.tinyCheckpoint(format: .pytorch, shardSize: 2048)
        defer { try? FileManager.default.removeItem(at: folder) }
        let shard = try #require(try MPTCheckpoint(folder: folder).weights.weightFiles.last)
        try FileManager.default.removeItem(at: shard)
        #expect(Support.openingError(folder) == .missingShard(index: "pytorch_model.bin.index.json", shard: shard.lastPathComponent))
        #expect(Support.openingError(folder)?.description.contains(shard.lastPathComponent) == true)

        let sharded = try Support.tinyCheckpoint(format: .safetensors, shardSize: 2048)
        defer { try? FileManager.default.removeItem(at: sharded) }
        let indexURL = sharded.appendingPathComponent("model.safetensors.index.json")
        var index = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any])
        var weightMap = try #require(index["weight_map"] as? [String: String])
        weightMap[MPTTensorName.finalNorm] = weightMap[MPTTensorName.tokenEmbedding]
        index["weight_map"] = weightMap
        try JSONSerialization.data(withJSONObject: index).write(to: indexURL)
        guard case .invalidIndex? = Support.openingError(sharded) else { Issue.record("expected invalidIndex"); return }
    }

    @Test("a folder without weights says which files it looked for")
    func noWeights() throws {
        let folder = try Support.tinyCheckpoint()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        let error = Support.openingError(folder)
        #expect(error == .noWeights(folder: folder.path))
        #expect(error?.description.contains("pytorch_model.bin.index.json") == true)
    }

    private func floats(_ tensor: TensorView) -> [Float] {
        switch tensor.dtype {
        case .float32: return tensor.bytes.withMemoryRebound(to: Float.self) { Array($0) }
        case .bfloat16: return tensor.bytes.withMemoryRebound(to: UInt16.self) { $0.map { Float(bitPattern: UInt32($0) << 16) } }
        case .float16: return tensor.bytes.withMemoryRebound(to: Float16.self) { $0.map(Float.init) }
        }
    }

    private func mean(_ values: [Float]) -> Float { values.reduce(0, +) / Float(values.count) }

    private func standardDeviation(_ values: [Float]) -> Float {
        let m = mean(values)
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Float(values.count)).squareRoot()
    }
}
