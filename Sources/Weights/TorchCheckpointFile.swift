import Foundation

/// Reads the tensor table of a torch.save zip (`pytorch_model.bin`): `<archive>/data.pkl` is a pickled state
/// dict whose tensors point, through persistent ids, at the stored entries `<archive>/data/<key>`.
/// Tensors become views of those entries after checks of dtype, contiguity and bounds.
enum TorchCheckpointFile {
    static func entries(in file: MappedFile) throws -> [TensorEntry] {
        let archive = try ZipArchive(file: file)
        let pickles = archive.entryNames.filter { $0.hasSuffix("/data.pkl") && $0.split(separator: "/").count == 2 }
        guard pickles.count == 1, let pickleName = pickles.first else {
            throw WeightsError.notAZipArchive(file: file.name, detail: "expected exactly one <archive>/data.pkl, found \(pickles.count)")
        }
        let prefix = pickleName.dropLast("data.pkl".count)
        // torch.save records the writer's byte order since 1.10; the storages are read as little-endian.
        if archive.entries["\(prefix)byteorder"] != nil {
            let order = String(decoding: try archive.data("\(prefix)byteorder", in: file), as: UTF8.self)
            guard order.trimmingCharacters(in: .whitespacesAndNewlines) == "little" else {
                throw WeightsError.bigEndianCheckpoint(file: file.name, byteOrder: order)
            }
        }
        var unpickler = RestrictedUnpickler(bytes: try archive.data(pickleName, in: file), file: file.name)
        var entries: [TensorEntry] = []
        for (name, record) in try unpickler.loadStateDict() {
            let storageName = "\(prefix)data/\(record.storage.key)"
            guard let storageRange = archive.entries[storageName] else {
                throw WeightsError.missingZipEntry(file: file.name, entry: storageName)
            }
            entries.append(try entry(name, record, storageRange: storageRange, file: file.name))
        }
        return entries
    }

    private static func entry(_ name: String, _ record: TensorRecord, storageRange: Range<Int>, file: String) throws -> TensorEntry {
        let dtype = record.storage.dtype
        guard record.shape.count == record.strides.count, isRowMajor(shape: record.shape, strides: record.strides) else {
            throw WeightsError.nonContiguousTensor(file: file, tensor: name, shape: record.shape, strides: record.strides)
        }
        guard let storageBytes = TensorEntry.byteCount(of: [record.storage.elementCount], dtype: dtype),
              storageBytes <= storageRange.count
        else {
            throw WeightsError.tensorOutOfRange(file: file, tensor: name, detail: "its storage claims \(record.storage.elementCount) elements but the entry has \(storageRange.count) bytes")
        }
        guard let count = TensorEntry.elementCount(of: record.shape), record.offset >= 0,
              count <= record.storage.elementCount - record.offset
        else {
            throw WeightsError.tensorOutOfRange(file: file, tensor: name, detail: "shape \(record.shape) from element \(record.offset) exceeds its storage of \(record.storage.elementCount) elements")
        }
        let start = storageRange.lowerBound + record.offset * dtype.byteWidth
        guard start % dtype.byteWidth == 0 else {
            throw WeightsError.misalignedTensor(file: file, tensor: name, offset: start)
        }
        return TensorEntry(name: name, dtype: dtype, shape: record.shape, byteRange: start ..< start + count * dtype.byteWidth)
    }

    /// Strides of size-1 dimensions don't matter; the others must be those of a dense row-major array.
    private static func isRowMajor(shape: [Int], strides: [Int]) -> Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() {
            if size != 1, stride != expected { return false }
            let (product, overflow) = expected.multipliedReportingOverflow(by: size)
            if overflow { return false }
            expected = product
        }
        return true
    }
}
