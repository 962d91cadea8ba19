import CBLAS
import Kernels
import KVCache
import Testing

@Suite struct SystemLibraryTests {
    @Test func openBLASMultipliesTwoByTwo() {
        let a: [Float] = [1, 2, 3, 4]
        let b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        BLAS.sgemm(m: 2, n: 2, k: 2, a: a, b: b, c: &c)
        #expect(c == [19, 22, 43, 50])
        BLAS.sgemm(m: 2, n: 2, k: 2, a: a, b: b, transposeB: true, c: &c)
        #expect(c == [17, 23, 39, 53])
    }

    @Test func lz4RoundTripsAndCompresses() throws {
        let original = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 % 97) }
        let packed = try original.withUnsafeBytes { try LZ4.compress($0) }
        #expect(packed.count < original.count / 4)
        var restored = [UInt8](repeating: 0, count: original.count)
        try packed.withUnsafeBytes { src in try restored.withUnsafeMutableBytes { try LZ4.decompress(src, into: $0) } }
        #expect(restored == original)
        var wrongSize = [UInt8](repeating: 0, count: original.count - 1)
        #expect(throws: LZ4Error.self) {
            try packed.withUnsafeBytes { src in try wrongSize.withUnsafeMutableBytes { try LZ4.decompress(src, into: $0) } }
        }
    }
}
