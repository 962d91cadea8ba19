/// The BPE model: a word's bytes start as single-byte tokens, then the pair with the lowest merge rank is
/// merged, again and again, until no pair of neighbours has a merge.
struct BPEModel: Sendable {
    /// The token of each single byte, or -1 for a byte the vocabulary lacks (dropped, as `tokenizers`
    /// drops unknown symbols when there is no unknown token; encoded text is UTF-8, so never in practice).
    private let byteTokenIDs: [Int]
    /// Merges keyed by the packed pair `left << 32 | right`, valued `rank << 32 | merged`.
    private let merges: MergeTable

    init(byteTokenIDs: [Int], merges: MergeTable) {
        self.byteTokenIDs = byteTokenIDs
        self.merges = merges
    }

    static func pairKey(_ left: Int, _ right: Int) -> Int { left << 32 | right }
    static func mergeValue(rank: Int, mergedID: Int) -> Int { rank << 32 | mergedID }

    /// Buffers reused from word to word, so merging allocates nothing once they have grown.
    struct Scratch {
        fileprivate var symbols: [Int] = []
        fileprivate var next: [Int] = []
        fileprivate var previous: [Int] = []
        fileprivate var queue = MergeQueue()
    }

    @inline(__always)
    private func merge(_ left: Int, _ right: Int, at position: Int) -> MergeCandidate? {
        let value = merges.value(Self.pairKey(left, right))
        guard value != MergeTable.missing else { return nil }
        return MergeCandidate(rank: value >> 32, position: position, mergedID: value & 0xFFFF_FFFF)
    }

    /// Appends the tokens of one pre-tokenized word. Symbols live in a linked list over their first
    /// positions and a heap orders the candidate merges, so a long word costs O(n log n), not O(n²).
    func tokenize(_ word: ArraySlice<UInt8>, scratch: inout Scratch, appendingTo output: inout [Int]) {
        scratch.symbols.removeAll(keepingCapacity: true)
        for byte in word where byteTokenIDs[Int(byte)] >= 0 { scratch.symbols.append(byteTokenIDs[Int(byte)]) }
        let count = scratch.symbols.count
        if count < 2 {
            output.append(contentsOf: scratch.symbols)
            return
        }
        scratch.next.removeAll(keepingCapacity: true)
        scratch.next.append(contentsOf: 1...count)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.previous.append(contentsOf: -1..<(count - 1))
        scratch.queue.removeAll()
        for position in 0..<(count - 1) {
            if let candidate = merge(scratch.symbols[position], scratch.symbols[position + 1], at: position) {
                scratch.queue.push(candidate)
            }
        }
        while let candidate = scratch.queue.pop() {
            let position = candidate.position
            let right = scratch.next[position]
            // Skip candidates made stale by an earlier merge (removed symbol, or a neighbour that changed).
            guard scratch.symbols[position] >= 0, right < count,
                  merge(scratch.symbols[position], scratch.symbols[right], at: position)?.mergedID == candidate.mergedID
            else { continue }
            scratch.symbols[position] = candidate.mergedID
            scratch.symbols[right] = -1
            let after = scratch.next[right]
            scratch.next[position] = after
            if after < count { scratch.previous[after] = position }
            let left = scratch.previous[position]
            if left >= 0, let candidate = merge(scratch.symbols[left], candidate.mergedID, at: left) {
                scratch.queue.push(candidate)
            }
            if after < count, let candidate = merge(candidate.mergedID, scratch.symbols[after], at: position) {
                scratch.queue.push(candidate)
            }
        }
        var position = 0
        while position < count {
            output.append(scratch.symbols[position])
            position = scratch.next[position]
        }
    }
}
