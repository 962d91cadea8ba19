/// The merge of each token pair, in an open-addressing table with a multiplicative hash. BPE looks a pair
/// up for every neighbour it considers, so each key sits beside its value: one cache miss per lookup.
struct MergeTable: Sendable {
    /// `[key, value, key, value, ...]`; an empty slot has the key `missing`.
    private var slots: [Int]
    private let shift: Int
    private let mask: Int
    static let missing = -1

    init(capacity: Int) {
        var bits = 4
        while 1 << bits < capacity * 2 { bits += 1 }
        slots = [Int](repeating: Self.missing, count: 2 << bits)
        shift = 64 - bits
        mask = 1 << bits - 1
    }

    @inline(__always)
    private func slot(_ key: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(truncatingIfNeeded: key) &* 0x9E37_79B9_7F4A_7C15) >> UInt64(shift))
    }

    /// Stores `value` for `key` (non-negative), replacing an earlier value.
    mutating func insert(_ key: Int, _ value: Int) {
        var index = slot(key)
        while slots[2 * index] != Self.missing && slots[2 * index] != key {
            index = (index + 1) & mask
        }
        slots[2 * index] = key
        slots[2 * index + 1] = value
    }

    /// The value stored for `key`, or `missing`.
    @inline(__always)
    func value(_ key: Int) -> Int {
        var index = slot(key)
        while true {
            let stored = slots[2 * index]
            if stored == key { return slots[2 * index + 1] }
            if stored == Self.missing { return Self.missing }
            index = (index + 1) & mask
        }
    }
}
