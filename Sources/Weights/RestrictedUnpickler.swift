/// Reads a torch.save `data.pkl` without executing anything. It interprets only the opcodes a state dict uses
/// (protocols 2 to 5), builds plain values, and accepts only the globals in `AllowedGlobal`: a pickle that names
/// any other (os.system, builtins.eval, ...) is refused at the GLOBAL opcode, before any call could be built.
struct RestrictedUnpickler {
    private let bytes: UnsafeRawBufferPointer
    private let file: String
    private var position = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// Every list and dict made, so `loadStateDict` can unlink them all when done: a hostile pickle can chain
    /// containers a million deep, and releasing such a chain recursively would overflow the stack.
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []
    private static let maximumTupleDepth = 32

    /// The (name, tensor) pairs of the state dict the pickle returns, in pickle order.
    mutating func loadStateDict() throws -> [(name: String, tensor: TensorRecord)] {
        defer {
            for list in lists { list.items.removeAll() }
            for dict in dicts { dict.items.removeAll() }
        }
        guard case let .dict(stateDict) = try load() else { throw invalid("data.pkl does not hold a state dict") }
        return try stateDict.items.map { key, value in
            guard case let .string(name) = key, case let .tensor(record) = value else {
                throw invalid("the state dict maps \(key.kind) to \(value.kind), not a name to a tensor")
            }
            return (name, record)
        }
    }

    /// The object the pickle returns at STOP.
    private mutating func load() throws -> PickleValue {
        while true {
            let opcodeOffset = position
            let opcode = try readByte()
            switch opcode {
            case 0x80: _ = try readByte() // PROTO
            case 0x95: _ = try read(8) // FRAME: a length hint only
            case 0x2E: return try pop() // STOP
            case 0x28: marks.append(stack.count) // MARK
            case 0x30: _ = try pop() // POP
            case 0x31: _ = try popMark() // POP_MARK
            case 0x32: stack.append(try top()) // DUP
            case 0x4E: stack.append(.none) // NONE
            case 0x88: stack.append(.bool(true)) // NEWTRUE
            case 0x89: stack.append(.bool(false)) // NEWFALSE
            case 0x4B: stack.append(.int(Int(try readByte()))) // BININT1
            case 0x4D: stack.append(.int(Int(try readInteger(UInt16.self)))) // BININT2
            case 0x4A: stack.append(.int(Int(try readInteger(Int32.self)))) // BININT
            case 0x8A: stack.append(.int(try readLong(length: Int(try readByte())))) // LONG1
            case 0x47: stack.append(.float(Double(bitPattern: UInt64(bigEndian: try readRaw(UInt64.self))))) // BINFLOAT
            case 0x58: stack.append(.string(try readString(length: Int(try readInteger(UInt32.self))))) // BINUNICODE
            case 0x8C: stack.append(.string(try readString(length: Int(try readByte())))) // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try readString(length: try checkedLength(try readInteger(UInt64.self))))) // BINUNICODE8
            case 0x54: stack.append(.bytes(Array(try read(Int(try readInteger(UInt32.self)))))) // BINSTRING
            case 0x55: stack.append(.bytes(Array(try read(Int(try readByte()))))) // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try read(Int(try readInteger(UInt32.self)))))) // BINBYTES
            case 0x43: stack.append(.bytes(Array(try read(Int(try readByte()))))) // SHORT_BINBYTES
            case 0x29: stack.append(.tuple([])) // EMPTY_TUPLE
            case 0x74: try pushTuple(try popMark()) // TUPLE
            case 0x85: try pushTuple(try pop(1)) // TUPLE1
            case 0x86: try pushTuple(try pop(2)) // TUPLE2
            case 0x87: try pushTuple(try pop(3)) // TUPLE3
            case 0x5D: stack.append(.list(newList())) // EMPTY_LIST
            case 0x6C: // LIST
                let list = newList()
                list.items = try popMark()
                stack.append(.list(list))
            case 0x61: try appendToList(try pop(1)) // APPEND
            case 0x65: try appendToList(try popMark()) // APPENDS
            case 0x7D: stack.append(.dict(newDict())) // EMPTY_DICT
            case 0x64: // DICT
                let dict = newDict()
                stack.append(.dict(dict))
                try setItems(try popMarkBelowTop(), in: dict)
            case 0x73: try setItemsOfTopDict(try pop(2)) // SETITEM
            case 0x75: try setItemsOfTopDict(try popMark()) // SETITEMS
            case 0x71: memo[Int(try readByte())] = try top() // BINPUT
            case 0x72: memo[Int(try readInteger(UInt32.self))] = try top() // LONG_BINPUT
            case 0x94: memo[memo.count] = try top() // MEMOIZE
            case 0x68: stack.append(try memoized(Int(try readByte()))) // BINGET
            case 0x6A: stack.append(try memoized(Int(try readInteger(UInt32.self)))) // LONG_BINGET
            case 0x63: // GLOBAL "module\nname\n"
                let module = try readLine(), name = try readLine()
                stack.append(.global(try allowedGlobal(module: module, name: name)))
            case 0x93: // STACK_GLOBAL
                let pair = try pop(2)
                guard case let .string(module) = pair[0], case let .string(name) = pair[1] else {
                    throw invalid("STACK_GLOBAL without module and name strings")
                }
                stack.append(.global(try allowedGlobal(module: module, name: name)))
            case 0x51: try pushStorage(fromPersistentID: try pop()) // BINPERSID
            case 0x52: // REDUCE
                let arguments = try pop(), callable = try pop()
                stack.append(try call(callable, arguments))
            case 0x81: // NEWOBJ: only OrderedDict() is constructible
                let arguments = try pop(), cls = try pop()
                guard case .global(.orderedDict) = cls else { throw invalid("NEWOBJ of \(cls.kind)") }
                stack.append(try call(cls, arguments))
            case 0x62: // BUILD: state on a dict or tensor (e.g. a state dict's _metadata) carries no weights
                _ = try pop()
                _ = try top()
            default:
                throw invalid("unsupported pickle opcode 0x\(String(opcode, radix: 16)) at byte \(opcodeOffset)")
            }
        }
    }

    // MARK: - Calls to the allowed globals

    private func allowedGlobal(module: String, name: String) throws -> AllowedGlobal {
        guard let global = AllowedGlobal(module: module, name: name) else {
            throw WeightsError.forbiddenPickleGlobal(file: file, module: module, name: name)
        }
        return global
    }

    private mutating func call(_ callable: PickleValue, _ arguments: PickleValue) throws -> PickleValue {
        guard case let .global(global) = callable, case let .tuple(args) = arguments else {
            throw invalid("REDUCE of \(callable.kind) with \(arguments.kind)")
        }
        switch global {
        case .orderedDict:
            guard args.isEmpty else { throw invalid("OrderedDict called with arguments") }
            return .dict(newDict())
        case .rebuildTensorV2:
            guard args.count >= 4, case let .storage(storage) = args[0], case let .int(offset) = args[1] else {
                throw invalid("_rebuild_tensor_v2 without (storage, offset, size, stride, ...)")
            }
            return .tensor(TensorRecord(storage: storage, offset: offset, shape: try integers(args[2]), strides: try integers(args[3])))
        case .rebuildParameter:
            guard let data = args.first, case .tensor = data else { throw invalid("_rebuild_parameter without a tensor") }
            return data
        case .storageType:
            throw invalid("a storage class is called directly")
        }
    }

    private func storage(fromPersistentID id: PickleValue) throws -> StorageReference {
        guard case let .tuple(fields) = id, fields.count == 5, case .string("storage") = fields[0],
              case let .global(.storageType(dtype)) = fields[1], case let .string(key) = fields[2],
              case let .int(count) = fields[4], count >= 0
        else {
            throw invalid("a persistent id that is not ('storage', torch.<Type>Storage, key, location, numel)")
        }
        return StorageReference(dtype: dtype, key: key, elementCount: count)
    }

    private func integers(_ value: PickleValue) throws -> [Int] {
        guard case let .tuple(items) = value else { throw invalid("a tensor size or stride that is \(value.kind)") }
        return try items.map {
            guard case let .int(integer) = $0 else { throw invalid("a tensor size or stride holding \($0.kind)") }
            return integer
        }
    }

    // MARK: - Containers

    private mutating func newList() -> PickleList {
        let list = PickleList()
        lists.append(list)
        return list
    }

    private mutating func newDict() -> PickleDict {
        let dict = PickleDict()
        dicts.append(dict)
        return dict
    }

    /// Tuples nest by value, so their depth is bounded here (a state dict needs 3 levels).
    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        let value = PickleValue.tuple(items)
        guard Self.tupleDepth(value) <= Self.maximumTupleDepth else {
            throw invalid("tuples nested deeper than \(Self.maximumTupleDepth) levels")
        }
        return value
    }

    private static func tupleDepth(_ value: PickleValue) -> Int {
        guard case let .tuple(items) = value else { return 0 }
        return 1 + (items.map(tupleDepth).max() ?? 0)
    }

    // MARK: - Stack

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw invalid("stack underflow") }
        return value
    }

    private mutating func pop(_ count: Int) throws -> [PickleValue] {
        guard stack.count - count >= (marks.last ?? 0) else { throw invalid("stack underflow") }
        return removeTop(from: stack.count - count)
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else { throw invalid("no MARK to pop to") }
        return removeTop(from: mark)
    }

    /// The stack's items from `start` on, removed.
    private mutating func removeTop(from start: Int) -> [PickleValue] {
        let items = Array(stack[start...])
        stack.removeSubrange(start...)
        return items
    }

    /// DICT pushes the new dict first, so its items sit between the mark and the top.
    private mutating func popMarkBelowTop() throws -> [PickleValue] {
        let dict = stack.removeLast()
        let items = try popMark()
        stack.append(dict)
        return items
    }

    private func top() throws -> PickleValue {
        guard let value = stack.last, stack.count > (marks.last ?? 0) else { throw invalid("stack underflow") }
        return value
    }

    private func topDict() throws -> PickleDict {
        guard case let .dict(dict) = try top() else { throw invalid("SETITEM on something that is not a dict") }
        return dict
    }

    // Values popped off the stack go to mutating helpers as arguments. Passed to a non-mutating method instead
    // (`tuple(try pop(1))`), the pop would run while that call holds a copy of `self`, so the stack's buffer
    // would be shared and the pop would copy the whole stack: n² steps for n nested APPENDs.

    private mutating func pushTuple(_ items: [PickleValue]) throws {
        stack.append(try tuple(items))
    }

    private mutating func setItemsOfTopDict(_ flat: [PickleValue]) throws {
        try setItems(flat, in: try topDict())
    }

    private mutating func pushStorage(fromPersistentID id: PickleValue) throws {
        stack.append(.storage(try storage(fromPersistentID: id)))
    }

    private mutating func appendToList(_ items: [PickleValue]) throws {
        guard case let .list(list) = try top() else { throw invalid("APPEND on something that is not a list") }
        list.items += items
    }

    private func setItems(_ flat: [PickleValue], in dict: PickleDict) throws {
        guard flat.count.isMultiple(of: 2) else { throw invalid("SETITEMS with an odd number of values") }
        for index in stride(from: 0, to: flat.count, by: 2) {
            dict.items.append((flat[index], flat[index + 1]))
        }
    }

    private func memoized(_ index: Int) throws -> PickleValue {
        guard let value = memo[index] else { throw invalid("memo entry \(index) read before it was written") }
        return value
    }

    // MARK: - Reading

    private mutating func read(_ count: Int) throws -> UnsafeRawBufferPointer {
        guard count >= 0, count <= bytes.count - position else {
            throw WeightsError.truncated(file: file, detail: "data.pkl ends inside an opcode at byte \(position)")
        }
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position ..< position + count])
    }

    private mutating func readByte() throws -> UInt8 { try read(1)[0] }

    private mutating func readRaw<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        try read(MemoryLayout<T>.size).loadUnaligned(as: T.self)
    }

    private mutating func readInteger<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        T(littleEndian: try readRaw(T.self))
    }

    /// LONG1: a little-endian two's-complement integer of `length` bytes.
    private mutating func readLong(length: Int) throws -> Int {
        guard length <= 8 else { throw invalid("an integer of \(length) bytes") }
        let raw = try read(length)
        var value: UInt64 = 0
        for (index, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(index)) }
        if length > 0, length < 8, raw[length - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(length)) }
        return Int(truncatingIfNeeded: value)
    }

    private mutating func readString(length: Int) throws -> String {
        String(decoding: try read(length), as: UTF8.self)
    }

    private mutating func readLine() throws -> String {
        guard let newline = bytes[position...].firstIndex(of: 0x0A) else { throw invalid("GLOBAL without a newline") }
        let line = try readString(length: newline - position)
        position += 1
        return line
    }

    private func checkedLength(_ length: UInt64) throws -> Int {
        guard length <= UInt64(bytes.count) else { throw invalid("a string of \(length) bytes") }
        return Int(length)
    }

    private func invalid(_ detail: String) -> WeightsError {
        .invalidPickle(file: file, detail: detail)
    }
}
