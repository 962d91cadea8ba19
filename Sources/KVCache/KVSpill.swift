import Foundation

/// A resident-memory budget for a KV cache: once the cache holds more than `budgetBytes`, every block that
/// fills up is LZ4-compressed into a spill file and read back from there during attention. Attention reads
/// every block for every query, so which blocks leave memory does not matter; the ones past the budget do.
///
/// The file (in `directory`, the system temp folder by default) is created at the first spill and is gone when
/// the process ends, however it ends. Statistics say how much went to disk and how well it compressed.
public final class KVSpill: @unchecked Sendable {
    public let budgetBytes: Int
    public let directory: URL
    private var file: KVSpillFile?

    /// Blocks written to the spill file.
    public private(set) var spilledBlocks = 0
    /// Bytes those blocks held in memory (encoded tiles).
    public private(set) var spilledBytes = 0
    /// Bytes they take in the spill file after LZ4.
    public private(set) var fileBytes = 0
    /// The first failure to spill (e.g. a full disk); blocks then stay in memory, past the budget.
    public private(set) var failure: KVCacheError?

    public init(budgetBytes: Int, directory: URL? = nil) {
        self.budgetBytes = max(0, budgetBytes)
        self.directory = directory ?? FileManager.default.temporaryDirectory
    }

    /// How much LZ4 shrank the spilled blocks (memory bytes / file bytes); 1 before anything was spilled.
    public var compressionRatio: Double { fileBytes > 0 ? Double(spilledBytes) / Double(fileBytes) : 1 }

    /// Where the spill file was created (it is unlinked at once, so it is not visible there), if any.
    public var filePath: String? { file?.path }

    /// One line for the log, e.g. `KV spill: 412 blocks, 1.21 GB → 0.98 GB on disk (LZ4 1.23×)`.
    public var summary: String {
        var line = "KV spill: \(spilledBlocks) blocks, \(MemorySize.describe(spilledBytes)) → \(MemorySize.describe(fileBytes)) on disk (LZ4 \(String(format: "%.2f", compressionRatio))×)"
        if let failure { line += "; spilling stopped: \(failure)" }
        return line
    }

    /// `block`, or its spilled stand-in when the cache (holding `cacheResidentBytes`, `block` included) is past
    /// the budget. A block the spill cannot take stays in memory, and `failure` says why.
    func admit(_ block: any KVBlock, cacheResidentBytes: Int) -> any KVBlock {
        guard failure == nil, cacheResidentBytes > budgetBytes, !(block is SpilledKVBlock), let source = block as? KVTileSource else { return block }
        do {
            let file = try self.file ?? KVSpillFile(directory: directory)
            self.file = file
            var records: [SpilledKVBlock.Record] = []
            var compressedTotal = 0
            for kind in KVTileKind.allCases {
                for head in 0..<source.layout.heads {
                    let compressed = try source.compressedTile(kind, head: head)
                    let offset = try compressed.withUnsafeBytes { try file.append($0) }
                    records.append(.init(offset: offset, length: compressed.count))
                    compressedTotal += compressed.count
                }
            }
            spilledBlocks += 1
            spilledBytes += block.residentBytes
            fileBytes += compressedTotal
            return SpilledKVBlock(codec: source.codec, layout: source.layout, file: file, records: records, count: block.count)
        } catch let error as KVCacheError {
            failure = error
        } catch {
            failure = .spillWriteFailed(path: file?.path ?? directory.path, reason: "\(error)")
        }
        return block
    }
}
