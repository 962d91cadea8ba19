import ArgumentParser
import Foundation
import KVCache
import Model

/// `--kv-cache`, `--kv-memory`, `--spill-dir`: how a command stores the KV cache of a long text.
struct KVCacheFlags: ParsableArguments {
    @Option(name: .customLong("kv-cache"), help: ArgumentHelp(
        "KV cache format: auto, f32, f16, q8 or q4. auto keeps exact f32 while the cache fits easily in memory, then q8, then q4 spilling to disk; the choice is printed.",
        valueName: "format"))
    var format = "auto"

    @Option(name: .customLong("kv-memory"), help: ArgumentHelp(
        "Keep at most this much KV cache in memory, e.g. 2GB or 512MiB; blocks past it are LZ4-compressed into a spill file.",
        valueName: "size"))
    var memory: String?

    @Option(name: .customLong("spill-dir"), help: ArgumentHelp(
        "Folder for the KV spill file (default: the system temp folder); it is removed when the command ends, however it ends.",
        valueName: "dir"))
    var spillDirectory: String?

    func validate() throws {
        if format != "auto", KVCacheFormat(rawValue: format) == nil {
            throw ValidationError("--kv-cache \(format): use auto, f32, f16, q8 or q4.")
        }
        if let memory {
            do { _ = try MemorySize.parse(memory) } catch { throw ValidationError("--kv-memory: \(error)") }
        }
        if let spillDirectory {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: spillDirectory, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--spill-dir \(spillDirectory) is not an existing folder.")
            }
        }
    }

    var spillFolder: URL? { spillDirectory.map { URL(fileURLWithPath: $0) } }

    /// The format and budget for `tokens` positions of `model`.
    func plan(for model: MPTModel, tokens: Int) throws -> KVCachePlan {
        let budget = try memory.map { try MemorySize.parse($0) }
        guard let fixed = KVCacheFormat(rawValue: format) else {
            return KVCachePlan.auto(
                layout: model.cacheLayout(), tokens: tokens, physicalMemory: Int(clamping: ProcessInfo.processInfo.physicalMemory),
                weightBytes: model.checkpoint.weights.weightFileBytes, memoryBudget: budget)
        }
        return KVCachePlan(format: fixed, memoryBudget: budget, reason: "--kv-cache \(fixed.rawValue)")
    }

    /// A cache for `tokens` positions of `model`, after printing the choice on stderr.
    func makeCache(for model: MPTModel, tokens: Int, say: (String) -> Void) throws -> KVCache {
        let plan = try plan(for: model, tokens: tokens)
        say(plan.summary)
        return plan.makeCache(layout: model.cacheLayout(), spillDirectory: spillFolder)
    }
}
