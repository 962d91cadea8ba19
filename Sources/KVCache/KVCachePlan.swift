import Foundation

/// Which format a session's KV cache uses and how much of it may stay in memory, with the reason, for the log.
///
/// `auto` keeps the exact `f32` while the whole cache takes at most a quarter of the memory left beside the
/// weights (small runs stay exact), then `q8` while it takes at most half, then `q4` with a budget of half
/// that memory and the rest spilled to disk. With an explicit budget, `auto` takes the most exact format that
/// fits in it, or `q4` spilling past it.
public struct KVCachePlan: Sendable, Equatable {
    public let format: KVCacheFormat
    /// Resident bytes allowed before blocks spill; nil for no limit.
    public let memoryBudget: Int?
    public let reason: String

    public init(format: KVCacheFormat, memoryBudget: Int?, reason: String) {
        self.format = format
        self.memoryBudget = memoryBudget
        self.reason = reason
    }

    /// Memory kept free for activations, logits, the tokenizer and the system.
    public static let headroomBytes = 2 << 30

    /// The `auto` choice for `tokens` positions of a model with `layout`, on a machine with `physicalMemory`
    /// bytes whose weights take `weightBytes` once mapped, under an optional explicit `memoryBudget`.
    public static func auto(layout: KVCacheLayout, tokens: Int, physicalMemory: Int, weightBytes: Int, memoryBudget: Int? = nil) -> KVCachePlan {
        func size(_ format: KVCacheFormat) -> Int { format.projectedBytes(layout: layout, tokens: tokens) }
        let needs = "up to \(tokens) positions × \(layout.layers) layers"
        if let memoryBudget {
            for format in [KVCacheFormat.float32, .q8] where size(format) <= memoryBudget {
                return KVCachePlan(format: format, memoryBudget: memoryBudget,
                                   reason: "\(needs) in \(format.rawValue) take \(MemorySize.describe(size(format))), within --kv-memory \(MemorySize.describe(memoryBudget))")
            }
            return KVCachePlan(format: .q4, memoryBudget: memoryBudget,
                               reason: "\(needs) need \(MemorySize.describe(size(.q8))) in q8, past --kv-memory \(MemorySize.describe(memoryBudget)): q4 (\(MemorySize.describe(size(.q4)))), spilling what does not fit")
        }
        let room = max(256 << 20, physicalMemory - weightBytes - headroomBytes)
        let roomText = "\(MemorySize.describe(room)) free beside the weights"
        if size(.float32) <= room / 4 {
            return KVCachePlan(format: .float32, memoryBudget: nil, reason: "\(needs) in f32 take \(MemorySize.describe(size(.float32))) of \(roomText): exact")
        }
        if size(.q8) <= room / 2 {
            return KVCachePlan(format: .q8, memoryBudget: nil, reason: "\(needs) would take \(MemorySize.describe(size(.float32))) in f32; q8 takes \(MemorySize.describe(size(.q8))) of \(roomText)")
        }
        let budget = room / 2
        let spills = size(.q4) > budget
        return KVCachePlan(format: .q4, memoryBudget: spills ? budget : nil,
                           reason: "\(needs) would take \(MemorySize.describe(size(.q8))) in q8; q4 takes \(MemorySize.describe(size(.q4)))"
                               + (spills ? ", \(MemorySize.describe(budget)) in memory and the rest spilled to disk" : " of \(roomText)"))
    }

    /// One line for stderr, e.g. `KV cache: q8 (…reason…)`.
    public var summary: String {
        "KV cache: \(format.rawValue)" + (memoryBudget.map { ", memory budget \(MemorySize.describe($0))" } ?? "") + " (\(reason))"
    }

    /// A cache for this plan (spilling into `spillDirectory`, the system temp folder by default).
    public func makeCache(layout: KVCacheLayout, spillDirectory: URL? = nil) -> KVCache {
        KVCache(layout: layout, format: format, spill: memoryBudget.map { KVSpill(budgetBytes: $0, directory: spillDirectory) })
    }
}
