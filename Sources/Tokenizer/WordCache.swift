/// The tokens of each distinct word seen during one `encode` call: a book repeats its words, so each is
/// merged once. Keys and tokens live in two flat arrays and the table hashes with FNV-1a, so a hit
/// allocates nothing.
struct WordCache {
    /// A word's hash and where its bytes and its tokens sit in the flat arrays.
    private struct Entry {
        var hash: UInt64
        var key: Range<Int>
        var tokens: Range<Int>
    }

    private var slots: [Int32]
    private var entries: [Entry] = []
    private var keyBytes: [UInt8] = []
    private var tokens: [Int] = []
    private var mask: Int

    init() {
        slots = [Int32](repeating: -1, count: 1024)
        mask = 1023
    }

    /// Appends the cached tokens of `word` to `output`; false if the word has not been seen.
    func appendTokens(of word: ArraySlice<UInt8>, hash: UInt64, to output: inout [Int]) -> Bool {
        var index = Int(truncatingIfNeeded: hash) & mask
        while slots[index] >= 0 {
            let entry = entries[Int(slots[index])]
            if entry.hash == hash && entry.key.count == word.count && keyBytes[entry.key].elementsEqual(word) {
                output.append(contentsOf: tokens[entry.tokens])
                return true
            }
            index = (index + 1) & mask
        }
        return false
    }

    mutating func insert(_ word: ArraySlice<UInt8>, hash: UInt64, tokens wordTokens: ArraySlice<Int>) {
        if (entries.count + 1) * 2 > slots.count { grow() }
        entries.append(Entry(
            hash: hash, key: keyBytes.count..<(keyBytes.count + word.count), tokens: tokens.count..<(tokens.count + wordTokens.count)))
        keyBytes.append(contentsOf: word)
        tokens.append(contentsOf: wordTokens)
        place(entries.count - 1)
    }

    private mutating func place(_ entryIndex: Int) {
        var index = Int(truncatingIfNeeded: entries[entryIndex].hash) & mask
        while slots[index] >= 0 { index = (index + 1) & mask }
        slots[index] = Int32(entryIndex)
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        mask = slots.count - 1
        for entryIndex in entries.indices { place(entryIndex) }
    }
}
