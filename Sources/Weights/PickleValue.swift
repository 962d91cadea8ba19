/// The values a restricted unpickler can produce: plain data, plus the few torch objects a state dict holds.
/// Nothing here can run code; an unknown global stops reading before anything is built from it.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(AllowedGlobal)
    case storage(StorageReference)
    case tensor(TensorRecord)

    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "a bool"
        case .int: "an int"
        case .float: "a float"
        case .string: "a string"
        case .bytes: "bytes"
        case .tuple: "a tuple"
        case .list: "a list"
        case .dict: "a dict"
        case .global: "a class"
        case .storage: "a storage"
        case .tensor: "a tensor"
        }
    }
}

/// Lists and dicts are shared by reference, as in Python: SETITEMS mutates the object that BINPUT memoized.
final class PickleList {
    var items: [PickleValue] = []
}

final class PickleDict {
    var items: [(key: PickleValue, value: PickleValue)] = []
}

/// The only globals a torch state dict needs. Every other `module.name` is refused by name.
enum AllowedGlobal {
    case orderedDict
    case rebuildTensorV2
    case rebuildParameter
    case storageType(TensorDType)

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", _):
            guard let dtype = TensorDType(torchStorageName: name) else { return nil }
            self = .storageType(dtype)
        default: return nil
        }
    }
}

/// A persistent id `('storage', torch.XStorage, key, location, numel)`: the data is `<archive>/data/<key>`.
struct StorageReference {
    let dtype: TensorDType
    let key: String
    let elementCount: Int
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, ...)`: a view of `size` elements from `offset` of the storage.
struct TensorRecord {
    let storage: StorageReference
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}
