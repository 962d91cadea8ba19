import Foundation
import KVCache

/// The KV cache memory accounting that `inspect` shows: bytes per token per layer in each format for a model,
/// what its cache takes at 84k tokens with the `auto` choice on this machine, and the same for the 7B
/// StoryWriter on a 24 GiB machine with its bf16 weights mapped.
enum KVMemoryReport {
    static let referenceMachineMemory = 24 << 30

    static func json(layout: KVCacheLayout, weightBytes: Int) -> [String: Any] {
        let machine = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        let model = KVMemoryProjection(layout: layout, tokens: KVMemoryProjection.longBookTokens, weightBytes: weightBytes, physicalMemory: machine)
        return [
            "kv_bytes_per_token_per_layer": bytesPerToken(layout),
            "kv_projection_84k": projection(model, machine: machine),
            "kv_projection_7b_84k": projection(.storyWriter7B(physicalMemory: referenceMachineMemory), machine: referenceMachineMemory),
        ]
    }

    static func text(layout: KVCacheLayout, weightBytes: Int) -> [String] {
        let perToken = KVCacheFormat.allCases.map { "\($0.rawValue) \($0.bytesPerTokenPerLayer(heads: layout.heads, headDim: layout.headDim))" }
        let seven = KVMemoryProjection.storyWriter7B(physicalMemory: referenceMachineMemory)
        return [
            "KV cache bytes per token per layer: " + perToken.joined(separator: ", "),
            "7B StoryWriter at \(seven.tokens) tokens on 24 GiB: \(seven.plan.summary); weights \(MemorySize.describe(seven.weightBytes)) + "
                + "KV in memory \(MemorySize.describe(seven.residentCacheBytes)) = \(MemorySize.describe(seven.residentBytes)), "
                + "spilled \(MemorySize.describe(seven.spilledCacheBytes)) before LZ4",
        ]
    }

    private static func bytesPerToken(_ layout: KVCacheLayout) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: KVCacheFormat.allCases.map { ($0.rawValue, $0.bytesPerTokenPerLayer(heads: layout.heads, headDim: layout.headDim)) })
    }

    private static func projection(_ projection: KVMemoryProjection, machine: Int) -> [String: Any] {
        let layout = projection.layout
        return [
            "layers": layout.layers, "heads": layout.heads, "head_dim": layout.headDim, "tokens": projection.tokens,
            "machine_memory_bytes": machine, "weight_bytes": projection.weightBytes,
            "kv_bytes_by_format": Dictionary(uniqueKeysWithValues: KVCacheFormat.allCases.map { ($0.rawValue, $0.projectedBytes(layout: layout, tokens: projection.tokens)) }),
            "auto_format": projection.plan.format.rawValue, "memory_budget_bytes": projection.plan.memoryBudget.map { $0 as Any } ?? NSNull(),
            "kv_bytes": projection.cacheBytes, "kv_resident_bytes": projection.residentCacheBytes, "kv_spilled_bytes": projection.spilledCacheBytes,
            "resident_bytes": projection.residentBytes,
            "fits": projection.residentBytes + KVCachePlan.headroomBytes <= machine,
            "reason": projection.plan.reason,
        ]
    }
}
