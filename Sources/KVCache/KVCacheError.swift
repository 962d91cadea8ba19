/// What can go wrong storing, spilling or restoring a KV cache, phrased for the person at the command line.
public enum KVCacheError: Error, CustomStringConvertible {
    case spillFileUnavailable(path: String, reason: String)
    case spillWriteFailed(path: String, reason: String)
    case spillReadFailed(path: String, reason: String)
    case spilledBlockUnreadable(reason: String)
    case invalidMemorySize(String)
    case unknownFormat(String)
    case archiveDamaged(String)

    public var description: String {
        switch self {
        case .spillFileUnavailable(let path, let reason):
            return "Cannot create the KV spill file \(path): \(reason). Give a writable folder with free space in --spill-dir, or raise --kv-memory."
        case .spillWriteFailed(let path, let reason):
            return "Writing the KV spill file \(path) failed: \(reason). Free disk space there, choose another --spill-dir, or raise --kv-memory."
        case .spillReadFailed(let path, let reason):
            return "Reading back the KV spill file \(path) failed: \(reason); the file was changed or its disk failed. Run the command again."
        case .spilledBlockUnreadable(let reason):
            return "A spilled KV block could not be brought back into memory (\(reason)); run the command again."
        case .invalidMemorySize(let text):
            return "\"\(text)\" is not a memory size: use a number with a unit, e.g. 512MiB, 2GB or 8GiB (KB/MB/GB are powers of 1000; K, M, G and KiB/MiB/GiB powers of 1024)."
        case .unknownFormat(let name):
            return "Unknown KV cache format \"\(name)\": use one of \(KVCacheFormat.allCases.map(\.rawValue).joined(separator: ", "))."
        case .archiveDamaged(let detail):
            return "The saved KV cache is damaged or truncated (\(detail)); delete the file and read the book again."
        }
    }
}
