/// 64-bit FNV-1a: the same value on every machine and in every process (Swift's `hashValue` is seeded per
/// process), so workers agree on shards and reruns recognise a book they already wrote.
public enum StableHash {
    public static func fnv1a64<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }
}
