import Foundation

/// Memory sizes as people write them on a command line: `2GB`, `512MiB`, `8G`, `1.5GiB`, `1000000`.
/// KB, MB, GB, TB are powers of 1000; K, M, G, T and KiB, MiB, GiB, TiB powers of 1024 (as `free -h`, llama.cpp and
/// most tools read a bare G).
public enum MemorySize {
    public static func parse(_ text: String) throws(KVCacheError) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let numberPart = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(numberPart.count).trimmingCharacters(in: .whitespaces).lowercased()
        let multipliers: [String: Double] = [
            "": 1, "b": 1,
            "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
            "k": 0x1p10, "m": 0x1p20, "g": 0x1p30, "t": 0x1p40,
            "kib": 0x1p10, "mib": 0x1p20, "gib": 0x1p30, "tib": 0x1p40,
        ]
        guard let number = Double(numberPart), let multiplier = multipliers[unit] else { throw .invalidMemorySize(text) }
        let bytes = number * multiplier
        guard bytes.isFinite, bytes >= 1, bytes < 0x1p62 else { throw .invalidMemorySize(text) }
        return Int(bytes)
    }

    /// `1.23 GB`, `512.0 MB`, `900 B`: decimal units, as disk tools report.
    public static func describe(_ bytes: Int) -> String {
        let units: [(String, Double)] = [("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)]
        for (name, size) in units where Double(bytes) >= size {
            return "\(String(format: "%.2f", Double(bytes) / size)) \(name)"
        }
        return "\(bytes) B"
    }
}
