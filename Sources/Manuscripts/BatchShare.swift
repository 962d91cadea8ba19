import Basics

/// One worker's stable share of a folder, `--shard K/N`: a book belongs to shard K when the hash of its file
/// name is K-1 modulo N, so every worker, on any machine, makes the same split without talking to the others.
public struct BatchShare: Sendable, Equatable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public static let whole = BatchShare(validIndex: 1, count: 1)

    /// Parses "K/N" with 1 ≤ K ≤ N.
    public init(parsing text: String) throws(ManuscriptWorkflowError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let index = Int(parts[0]),
              let count = Int(parts[1]),
              count >= 1, (1...count).contains(index)
        else { throw .invalidShard(text) }
        self.init(validIndex: index, count: count)
    }

    private init(validIndex: Int, count: Int) {
        self.index = validIndex
        self.count = count
    }

    public func contains(fileName: String) -> Bool {
        Int(FNV1a.hash(fileName.utf8) % UInt64(count)) == index - 1
    }

    public var description: String { "\(index)/\(count)" }
}
