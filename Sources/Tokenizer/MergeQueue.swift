/// A candidate merge of the symbol at `position` with the one after it.
struct MergeCandidate {
    /// Merge rank in the high bits, position in the low bits: smaller keys merge first, so among equal
    /// ranks the leftmost pair wins, as in Hugging Face `tokenizers`.
    let key: Int
    let mergedID: Int

    static let positionBits = 40

    init(rank: Int, position: Int, mergedID: Int) {
        key = rank << Self.positionBits | position
        self.mergedID = mergedID
    }

    var position: Int { key & (1 << Self.positionBits - 1) }
}

/// A binary min-heap of merge candidates.
struct MergeQueue {
    private var heap: [MergeCandidate] = []

    mutating func removeAll() { heap.removeAll(keepingCapacity: true) }

    mutating func push(_ candidate: MergeCandidate) {
        heap.append(candidate)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].key < heap[parent].key else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> MergeCandidate? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            let right = left + 1
            let smaller = right < heap.count && heap[right].key < heap[left].key ? right : left
            guard heap[smaller].key < heap[parent].key else { break }
            heap.swapAt(smaller, parent)
            parent = smaller
        }
        return top
    }
}
