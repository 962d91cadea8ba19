import Foundation
import Model
import Testing
import Weights

@Suite("Checkpoint fixtures")
struct CheckpointFixtureTests {
    struct Expected {
        let folder: String
        let dModel, nHeads, nLayers, maxSeqLen: Int
        let alibiBiasMax: Float
        let clipQKV: Float?
        let dtype: TensorDType
        let format: Checkpoint.Format
        let dialect: MPTConfiguration.Dialect
        let files: Int
    }

    static let expectations = [
        Expected(folder: "tiny-storywriter", dModel: 128, nHeads: 4, nLayers: 2, maxSeqLen: 2048, alibiBiasMax: 16, clipQKV: 6, dtype: .bfloat16, format: .safetensors, dialect: .mosaicml, files: 1),
        Expected(folder: "tiny-storywriter-bin", dModel: 128, nHeads: 4, nLayers: 2, maxSeqLen: 2048, alibiBiasMax: 16, clipQKV: 6, dtype: .bfloat16, format: .pytorch, dialect: .mosaicml, files: 2),
        Expected(folder: "tiny-mpt-sharded", dModel: 96, nHeads: 6, nLayers: 3, maxSeqLen: 4096, alibiBiasMax: 8, clipQKV: nil, dtype: .float32, format: .safetensors, dialect: .transformers, files: 2),
        Expected(folder: "tiny-mpt-fp16", dModel: 64, nHeads: 2, nLayers: 1, maxSeqLen: 2048, alibiBiasMax: 8, clipQKV: nil, dtype: .float16, format: .safetensors, dialect: .mosaicml, files: 1),
    ]

    @Test("every fixture folder loads with its configuration, shapes and dtype", arguments: expectations)
    func loads(_ expected: Expected) throws {
        let checkpoint = try MPTCheckpoint(folder: Fixtures.require(Fixtures.model(expected.folder)))
        let configuration = checkpoint.configuration
        #expect(configuration.dialect == expected.dialect)
        #expect(configuration.dModel == expected.dModel)
        #expect(configuration.nHeads == expected.nHeads)
        #expect(configuration.nLayers == expected.nLayers)
        #expect(configuration.vocabSize == 50432)
        #expect(configuration.maxSeqLen == expected.maxSeqLen)
        #expect(configuration.alibiBiasMax == expected.alibiBiasMax)
        #expect(configuration.clipQKV == expected.clipQKV)
        #expect(configuration.expansionRatio == 4)
        #expect(checkpoint.weights.format == expected.format)
        #expect(checkpoint.weights.weightFiles.count == expected.files)
        #expect(checkpoint.weights.dtypes == [expected.dtype])
        #expect(!checkpoint.hasLMHead)
        #expect(checkpoint.tensorNames.count == 2 + 6 * expected.nLayers)

        let d = expected.dModel
        let wqkv = try checkpoint.weights.tensor("transformer.blocks.0.attn.Wqkv.weight")
        #expect(wqkv.shape == [3 * d, d])
        #expect(wqkv.bytes.count == 3 * d * d * expected.dtype.byteWidth)
        #expect(try checkpoint.weights.tensor("transformer.wte.weight").shape == [50432, d])
        #expect(try checkpoint.weights.tensor("transformer.blocks.0.ffn.down_proj.weight").shape == [d, 4 * d])
        #expect(throws: WeightsError.missingTensor(name: "transformer.blocks.99.norm_1.weight")) {
            try checkpoint.weights.tensor("transformer.blocks.99.norm_1.weight")
        }
    }

    @Test("tiny-mpt-scaled carries synth's --softmax-scale and --logit-scale into config.json")
    func scaledFixtureSetsBothScales() throws {
        let configuration = try MPTCheckpoint(folder: Fixtures.require(Fixtures.model("tiny-mpt-scaled"))).configuration
        #expect(configuration.softmaxScale == 0.3)
        #expect(configuration.logitScale == 0.7)
        #expect(configuration.clipQKV == 8)
    }

    @Test("the safetensors and PyTorch .bin copies of tiny-storywriter hold bit-identical tensors")
    func binMatchesSafetensors() throws {
        let safetensors = try MPTCheckpoint(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let pytorch = try MPTCheckpoint(folder: Fixtures.require(Fixtures.model("tiny-storywriter-bin")))
        #expect(safetensors.tensorNames == pytorch.tensorNames)
        #expect(safetensors.weights.parameterCount == pytorch.weights.parameterCount)
        for name in safetensors.tensorNames {
            let a = try safetensors.weights.tensor(name), b = try pytorch.weights.tensor(name)
            #expect(a.shape == b.shape && a.dtype == b.dtype, "\(name)")
            #expect(a.bytes.elementsEqual(b.bytes), "\(name) differs")
        }
    }
}

extension CheckpointFixtureTests.Expected: CustomTestStringConvertible {
    var testDescription: String { folder }
}
