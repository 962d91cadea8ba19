/// The exact format: float32, laid out [head][position][headDim] so one head's keys of a block are one
/// contiguous matrix that sgemm reads in place.
final class Float32KVBlock: KVBlock {
    private let layout: KVCacheLayout
    private let keyStorage: UnsafeMutablePointer<Float>
    private let valueStorage: UnsafeMutablePointer<Float>
    private(set) var count = 0

    init(layout: KVCacheLayout) {
        self.layout = layout
        keyStorage = .allocate(capacity: layout.heads * layout.tileElements)
        valueStorage = .allocate(capacity: layout.heads * layout.tileElements)
    }

    deinit {
        keyStorage.deallocate()
        valueStorage.deallocate()
    }

    var residentBytes: Int { 2 * layout.heads * layout.tileElements * MemoryLayout<Float>.size }

    func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: Int) {
        let headDim = layout.headDim
        for row in 0..<rows {
            for head in 0..<layout.heads {
                let offset = head * layout.tileElements + (count + row) * headDim
                (keyStorage + offset).update(from: keys + row * rowStride + head * headDim, count: headDim)
                (valueStorage + offset).update(from: values + row * rowStride + head * headDim, count: headDim)
            }
        }
        count += rows
    }

    func keys(head: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        UnsafePointer(keyStorage + head * layout.tileElements)
    }

    func values(head: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        UnsafePointer(valueStorage + head * layout.tileElements)
    }

    func truncate(to count: Int) {
        self.count = min(self.count, max(0, count))
    }
}
