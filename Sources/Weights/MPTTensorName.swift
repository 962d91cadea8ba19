/// The Hugging Face tensor names of an MPT checkpoint, and the shapes a configuration requires of them.
public enum MPTTensorName {
    public static let tokenEmbedding = "transformer.wte.weight"
    public static let finalNorm = "transformer.norm_f.weight"
    public static let outputEmbedding = "lm_head.weight"
    /// A learned position embedding; StoryWriter-style ALiBi checkpoints don't have one, and we refuse it.
    public static let positionEmbedding = "transformer.wpe.weight"

    public static func norm1(_ layer: Int) -> String { "transformer.blocks.\(layer).norm_1.weight" }
    public static func wqkv(_ layer: Int) -> String { "transformer.blocks.\(layer).attn.Wqkv.weight" }
    public static func outProj(_ layer: Int) -> String { "transformer.blocks.\(layer).attn.out_proj.weight" }
    public static func norm2(_ layer: Int) -> String { "transformer.blocks.\(layer).norm_2.weight" }
    public static func upProj(_ layer: Int) -> String { "transformer.blocks.\(layer).ffn.up_proj.weight" }
    public static func downProj(_ layer: Int) -> String { "transformer.blocks.\(layer).ffn.down_proj.weight" }

    /// Every required tensor with its shape ([out, in] for linear layers, as torch stores them), in file order.
    public static func requiredShapes(for configuration: MPTConfiguration) -> [(name: String, shape: [Int])] {
        let d = configuration.dModel, hidden = configuration.ffnHiddenSize
        var shapes: [(name: String, shape: [Int])] = [(tokenEmbedding, [configuration.vocabSize, d])]
        for layer in 0 ..< configuration.nLayers {
            shapes += [
                (norm1(layer), [d]),
                (wqkv(layer), [3 * d, d]),
                (outProj(layer), [d, d]),
                (norm2(layer), [d]),
                (upProj(layer), [hidden, d]),
                (downProj(layer), [d, hidden]),
            ]
        }
        shapes.append((finalNorm, [d]))
        return shapes
    }
}
