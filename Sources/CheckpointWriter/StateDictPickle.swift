import Weights

/// Encodes the `data.pkl` of a torch.save'd state dict (protocol 2, as torch writes it): a dict of
/// name → `_rebuild_tensor_v2(storage, 0, shape, row-major strides, False, OrderedDict())`, where each
/// storage is the persistent id `('storage', torch.<Type>Storage, key, 'cpu', numel)`.
enum StateDictPickle {
    struct Tensor {
        let name: String
        let dtype: TensorDType
        let shape: [Int]
        let storageKey: String
    }

    static func encode(_ tensors: [Tensor]) -> [UInt8] {
        var pickle = PickleEncoder()
        pickle.opcode(0x80, 2) // PROTO 2
        pickle.opcode(0x7D) // EMPTY_DICT
        pickle.opcode(0x28) // MARK
        for tensor in tensors {
            pickle.string(tensor.name)
            pickle.global("torch._utils", "_rebuild_tensor_v2")
            pickle.opcode(0x28) // MARK: the arguments
            pickle.opcode(0x28) // MARK: the persistent id
            pickle.string("storage")
            pickle.global("torch", tensor.dtype.torchStorageName)
            pickle.string(tensor.storageKey)
            pickle.string("cpu")
            pickle.integer(tensor.shape.reduce(1, *))
            pickle.opcode(0x74) // TUPLE
            pickle.opcode(0x51) // BINPERSID
            pickle.integer(0)
            pickle.tuple(tensor.shape)
            pickle.tuple(rowMajorStrides(tensor.shape))
            pickle.opcode(0x89) // NEWFALSE: requires_grad
            pickle.global("collections", "OrderedDict")
            pickle.opcode(0x29) // EMPTY_TUPLE
            pickle.opcode(0x52) // REDUCE: backward hooks
            pickle.opcode(0x74) // TUPLE
            pickle.opcode(0x52) // REDUCE: the tensor
        }
        pickle.opcode(0x75) // SETITEMS
        pickle.opcode(0x2E) // STOP
        return pickle.bytes
    }

    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for index in shape.indices.dropLast().reversed() {
            strides[index] = strides[index + 1] * shape[index + 1]
        }
        return strides
    }
}

private struct PickleEncoder {
    var bytes: [UInt8] = []

    mutating func opcode(_ code: UInt8, _ argument: UInt8...) {
        bytes.append(code)
        bytes += argument
    }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes.append(0x58) // BINUNICODE
        withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { bytes += $0 }
        bytes += utf8
    }

    mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63) // GLOBAL
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    mutating func integer(_ value: Int) {
        if let small = Int32(exactly: value) {
            bytes.append(0x4A) // BININT
            withUnsafeBytes(of: small.littleEndian) { bytes += $0 }
        } else {
            bytes += [0x8A, 8] // LONG1 of 8 bytes
            withUnsafeBytes(of: Int64(value).littleEndian) { bytes += $0 }
        }
    }

    mutating func tuple(_ values: [Int]) {
        bytes.append(0x28) // MARK
        for value in values { integer(value) }
        bytes.append(0x74) // TUPLE
    }
}
