import Foundation
import Model
import Testing
import Weights

@Suite("MPTConfiguration: both config.json dialects, refusals of unsupported options")
struct WeightsConfigurationTests {
    /// tiny-storywriter's config.json (mosaicml dialect) with `edit` applied to its top level and `attn_config`.
    static func configuration(_ edit: (inout [String: Any], inout [String: Any]) -> Void) throws -> MPTConfiguration {
        let url = try Fixtures.require(Fixtures.model("tiny-storywriter").appendingPathComponent("config.json"))
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var attention = try #require(json["attn_config"] as? [String: Any])
        edit(&json, &attention)
        json["attn_config"] = attention
        return try MPTConfiguration(json: JSONSerialization.data(withJSONObject: json))
    }

    @Test("clip_qkv as an integer, a float or null; unknown keys ignored; logit_scale forms")
    func flexibleValues() throws {
        #expect(try Self.configuration { _, _ in }.clipQKV == 6)
        #expect(try Self.configuration { _, attention in attention["clip_qkv"] = 6.5 }.clipQKV == 6.5)
        #expect(try Self.configuration { _, attention in attention["clip_qkv"] = NSNull() }.clipQKV == nil)
        let extended = try Self.configuration { json, attention in
            json["some_future_key"] = ["nested": [1, 2, 3]]
            attention["another_unknown"] = "value"
            json["logit_scale"] = "inv_sqrt_d_model"
            json["layer_norm_epsilon"] = 1e-6
        }
        #expect(extended.logitScale == 1 / Float(128).squareRoot())
        #expect(extended.layerNormEpsilon == 1e-6)
        #expect(try Self.configuration { json, _ in json["logit_scale"] = 0.5 }.logitScale == 0.5)
        #expect(try Self.configuration { _, attention in attention["softmax_scale"] = 0.25 }.softmaxScale == 0.25)
        #expect(try Self.configuration { _, _ in }.headDim == 32)
    }

    struct Refusal: CustomTestStringConvertible, Sendable {
        let option: String
        let edit: @Sendable (inout [String: Any], inout [String: Any]) -> Void
        var testDescription: String { option }
    }

    static let refusals: [Refusal] = [
        Refusal(option: "attn_config.alibi: false") { _, attention in attention["alibi"] = false },
        Refusal(option: "attn_config.qk_ln: true") { _, attention in attention["qk_ln"] = true },
        Refusal(option: "attn_config.kv_n_heads 2") { _, attention in attention["kv_n_heads"] = 2 },
        Refusal(option: "attn_config.attn_type \"grouped_query_attention\"") { _, attention in attention["attn_type"] = "grouped_query_attention" },
        Refusal(option: "attn_config.rope: true") { _, attention in attention["rope"] = true },
        Refusal(option: "no_bias: false") { json, _ in json["no_bias"] = false },
        Refusal(option: "norm_type \"rmsnorm\"") { json, _ in json["norm_type"] = "rmsnorm" },
        Refusal(option: "ffn_config.ffn_type \"te_ln_mlp\"") { json, _ in json["ffn_config"] = ["ffn_type": "te_ln_mlp"] },
        Refusal(option: "model_type \"llama\"") { json, _ in json["model_type"] = "llama" },
    ]

    @Test("options that change the computation are refused, naming the option", arguments: refusals)
    func refused(_ refusal: Refusal) throws {
        let error = #expect(throws: WeightsError.self) { try Self.configuration(refusal.edit) }
        guard case let .unsupportedConfiguration(option, detail)? = error else { Issue.record("expected unsupportedConfiguration, got \(String(describing: error))"); return }
        #expect(option == refusal.option)
        #expect(!detail.isEmpty)
    }

    @Test("both LayerNorm variants and kv_n_heads equal to n_heads are accepted")
    func acceptedVariants() throws {
        #expect(try Self.configuration { json, attention in json["norm_type"] = "layernorm"; attention["kv_n_heads"] = 4 }.nHeads == 4)
    }

    @Test("a checkpoint folder with an unsupported config is refused before any weight is opened")
    func folderRefused() throws {
        let folder = try WeightsTestSupport.tinyCheckpoint()
        defer { try? FileManager.default.removeItem(at: folder) }
        let configURL = folder.appendingPathComponent("config.json")
        let text = try String(contentsOf: configURL, encoding: .utf8)
        try text.replacingOccurrences(of: "\"qk_ln\" : false", with: "\"qk_ln\" : true").write(to: configURL, atomically: true, encoding: .utf8)
        let error = WeightsTestSupport.openingError(folder)
        #expect(error == .unsupportedConfiguration(option: "attn_config.qk_ln: true", detail: "query/key LayerNorm is not implemented"))
        #expect(error?.description.contains("qk_ln") == true)
    }

    @Test("malformed configs name the problem")
    func malformed() throws {
        let missing = #expect(throws: WeightsError.self) { try MPTConfiguration(json: Data(#"{"d_model": 8, "n_heads": 2}"#.utf8)) }
        #expect(missing?.description.contains("n_layers") == true)
        let indivisible = #expect(throws: WeightsError.self) { try Self.configuration { json, _ in json["n_heads"] = 3 } }
        #expect(indivisible?.description.contains("multiple of n_heads") == true)
    }

    /// Values a script or a typo can produce are refused with the key and the range, never trapped on (a product
    /// overflowing) and never allocated for (n_layers 2^62 grew memory without end).
    @Test("numbers out of range are refused by name")
    func outOfRange() throws {
        let cases: [(String, (inout [String: Any], inout [String: Any]) -> Void)] = [
            ("d_model", { json, _ in json["d_model"] = 1 << 62 }),
            ("n_layers", { json, _ in json["n_layers"] = 4_611_686_018_427_387_904 }),
            ("n_layers", { json, _ in json["n_layers"] = 10_000_000 }),
            ("vocab_size", { json, _ in json["vocab_size"] = 1 << 40 }),
            ("expansion_ratio", { json, _ in json["expansion_ratio"] = 1 << 62 }),
            ("alibi_bias_max", { _, attention in attention["alibi_bias_max"] = 1e308 }),
            ("alibi_bias_max", { _, attention in attention["alibi_bias_max"] = -8 }),
            ("clip_qkv", { _, attention in attention["clip_qkv"] = -6 }),
            ("softmax_scale", { _, attention in attention["softmax_scale"] = 0 }),
            ("layer_norm_epsilon", { json, _ in json["layer_norm_epsilon"] = -1e-5 }),
            ("logit_scale", { json, _ in json["logit_scale"] = 1e300 }),
        ]
        for (key, edit) in cases {
            let error = #expect(throws: WeightsError.self) { try Self.configuration(edit) }
            #expect(error?.description.contains(key) == true, "\(key): \(String(describing: error))")
        }
    }

    @Test("wrong types name the key and the type, not Swift's decoding text")
    func wrongTypes() throws {
        let url = try Fixtures.require(Fixtures.model("tiny-storywriter").appendingPathComponent("config.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        for (key, value, expected) in [("attn_config", "str" as Any, "attn_config must be an object"), ("d_model", 128.5, "d_model must be a whole number")] {
            var edited = json
            edited[key] = value
            let error = #expect(throws: WeightsError.self) { try MPTConfiguration(json: JSONSerialization.data(withJSONObject: edited)) }
            let text = error?.description ?? ""
            #expect(text.contains(expected) && !text.contains("debugDescription") && !text.contains("Parsed JSON") && !text.contains("valid JSON"), "\(text)")
        }
        let broken = #expect(throws: WeightsError.self) { try MPTConfiguration(json: Data("{\"d_model\": ".utf8)) }
        #expect(broken?.description.contains("not valid JSON") == true)
    }
}
