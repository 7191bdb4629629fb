import Foundation

/// The element types ``VoxelIO/writeNPY(_:to:dtype:)`` can write.
public enum NPYWriteType: Sendable {
    /// `|u1`: one byte per voxel, 1 occupied and 0 empty (values are thresholded at 0.5).
    case uint8
    /// `<f4`: the grid's values as little-endian float32.
    case float32
}

extension VoxelIO {
    /// Reads a NumPy `.npy` file holding one grid `(N, N, N)` or several `(count, N, N, N)` (also `(count, 1, N, N, N)`,
    /// a batch with its one channel axis, as a model's output is saved).
    ///
    /// Format versions 1, 2 and 3 are read. `shape` may also be `(count, 1, N, N, N)` (one channel).
    /// Element types: `b1`, `u1`, `u2`, `u4`, `u8`, `i1`, `i2`, `i4`, `i8` (zero is empty and any
    /// other value occupied) and `f2`, `f4`, `f8` (values must lie in [0, 1] and are kept as
    /// occupancies), in either byte order; C and Fortran order are both read. The spatial axes are
    /// taken as x, y, z (the last axis is ``VoxelGrid``'s fastest).
    ///
    /// - Throws: `DataError.malformed` for a bad magic string, header or shape, float values
    ///   outside [0, 1] or NaN, or bytes after the data; `DataError.truncated` when the data is
    ///   shorter than the shape needs; `DataError.unsupported` for other element types
    ///   (complex, strings, objects, structured records), other ranks, or non-cubic grids.
    public static func readNPY(_ path: String) throws -> [VoxelGrid] {
        try decodeNPY(readVoxelFileBytes(path), path: path)
    }

    /// Decodes `.npy` bytes held in memory; `path` is only used in error messages.
    ///
    /// - Throws: see ``readNPY(_:)``.
    public static func decodeNPY(_ bytes: [UInt8], path: String) throws -> [VoxelGrid] {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw DataError.malformed(path: path, reason: "not a .npy file (no '\\x93NUMPY' magic string)")
        }
        let major = bytes[6]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else {
                throw DataError.truncated(path: path, expectedBytes: 12, actualBytes: bytes.count)
            }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw DataError.unsupported(path: path, reason: ".npy format version \(major).\(bytes[7])")
        }
        let dataStart = headerStart + headerLength
        guard dataStart <= bytes.count else {
            throw DataError.truncated(path: path, expectedBytes: dataStart, actualBytes: bytes.count)
        }
        let headerText = String(decoding: bytes[headerStart..<dataStart], as: UTF8.self)
        let header = try NPYHeader.parse(headerText, path: path)
        let type = try NPYElementType(descr: header.descr, path: path)

        var shape = header.shape
        if shape.count == 5, shape[1] == 1 { shape.remove(at: 1) }
        let count: Int
        let spatial: [Int]
        switch shape.count {
        case 3:
            count = 1
            spatial = shape
        case 4:
            count = shape[0]
            spatial = Array(shape[1...])
        default:
            throw DataError.unsupported(
                path: path, reason: "expected shape (N, N, N), (count, N, N, N) or (count, 1, N, N, N), found \(header.shape)")
        }
        let (_, size) = try checkGridShape(spatial, count: count, path: path)
        let volume = size * size * size
        let (elementCount, countOverflow) = count.multipliedReportingOverflow(by: volume)
        let (dataBytes, overflow) = elementCount.multipliedReportingOverflow(by: type.size)
        guard !countOverflow, !overflow else {
            throw DataError.malformed(path: path, reason: "shape \(header.shape) is too large")
        }
        let available = bytes.count - dataStart
        guard available >= dataBytes else {
            throw DataError.truncated(path: path, expectedBytes: dataBytes, actualBytes: available)
        }
        guard available == dataBytes else {
            throw DataError.malformed(
                path: path, reason: "\(available - dataBytes) bytes after the \(dataBytes) bytes of data")
        }

        // Decode in file order, then reorder Fortran arrays to C order.
        var flat = [Float](repeating: 0, count: elementCount)
        try bytes.withUnsafeBufferPointer { buffer in
            for index in 0..<elementCount {
                let value = type.read(buffer, at: dataStart + index * type.size)
                if type.isFloat {
                    guard value >= 0, value <= 1 else {
                        throw DataError.malformed(
                            path: path, reason: "element \(index) is \(value); float occupancies must lie in [0, 1]")
                    }
                    flat[index] = Float(value)
                } else {
                    flat[index] = value == 0 ? 0 : 1
                }
            }
        }
        let dims = [count, size, size, size]
        if header.fortranOrder {
            var reordered = [Float](repeating: 0, count: elementCount)
            // C index ((i0 * d1 + i1) * d2 + i2) * d3 + i3; Fortran index i0 + d0 * (i1 + d1 * (i2 + d2 * i3)).
            var cIndex = 0
            for i0 in 0..<dims[0] {
                for i1 in 0..<dims[1] {
                    for i2 in 0..<dims[2] {
                        for i3 in 0..<dims[3] {
                            reordered[cIndex] = flat[i0 + dims[0] * (i1 + dims[1] * (i2 + dims[2] * i3))]
                            cIndex += 1
                        }
                    }
                }
            }
            flat = reordered
        }
        return (0..<count).map { VoxelGrid(size: size, values: Array(flat[$0 * volume..<($0 + 1) * volume])) }
    }

    /// Writes one grid as a `.npy` file (version 1.0, C order, shape `(N, N, N)`), atomically.
    ///
    /// - Throws: `DataError.writeFailed` if the file cannot be written.
    public static func writeNPY(_ grid: VoxelGrid, to path: String, dtype: NPYWriteType = .uint8) throws {
        try writeAtomically(encodeNPY([grid], shape: [grid.size, grid.size, grid.size], dtype: dtype), to: path)
    }

    /// Writes grids as one `.npy` file of shape `(count, N, N, N)`, atomically.
    ///
    /// - Throws: `DataError.writeFailed` when `grids` is empty, their sizes differ, or the file cannot be written.
    public static func writeNPY(_ grids: [VoxelGrid], to path: String, dtype: NPYWriteType = .uint8) throws {
        guard let size = grids.first?.size else {
            throw DataError.writeFailed(path: path, reason: "no grids to write")
        }
        guard grids.allSatisfy({ $0.size == size }) else {
            throw DataError.writeFailed(path: path, reason: "grids of different sizes cannot share one file")
        }
        try writeAtomically(encodeNPY(grids, shape: [grids.count, size, size, size], dtype: dtype), to: path)
    }

    /// The bytes of a version 1.0 `.npy` file holding `grids` with the given shape.
    static func encodeNPY(_ grids: [VoxelGrid], shape: [Int], dtype: NPYWriteType) -> [UInt8] {
        let descr = dtype == .uint8 ? "|u1" : "<f4"
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
        // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out = ByteWriter()
        out.bytes += [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        out.append(uint16: UInt16(header.utf8.count))
        out.append(header)
        for grid in grids {
            switch dtype {
            case .uint8: out.bytes += grid.occupancyBytes
            case .float32: for value in grid.values { out.append(float: value) }
            }
        }
        return out.bytes
    }
}

/// The fields of a `.npy` header dictionary that matter here.
struct NPYHeader {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    /// Parses the Python dictionary literal of a `.npy` header (`{'descr': ..., 'fortran_order': ..., 'shape': (...)}`).
    static func parse(_ text: String, path: String) throws -> NPYHeader {
        var scanner = PythonLiteralScanner(text: Array(text.unicodeScalars), path: path)
        let dictionary = try scanner.parseDictionary()
        guard case .string(let descr)? = dictionary["descr"] else {
            if case .list? = dictionary["descr"] {
                throw DataError.unsupported(path: path, reason: "structured (record) arrays are not voxel grids")
            }
            throw DataError.malformed(path: path, reason: "the header has no 'descr' string")
        }
        guard case .bool(let fortranOrder)? = dictionary["fortran_order"] else {
            throw DataError.malformed(path: path, reason: "the header has no 'fortran_order' True/False")
        }
        guard case .tuple(let items)? = dictionary["shape"] else {
            throw DataError.malformed(path: path, reason: "the header has no 'shape' tuple")
        }
        var shape: [Int] = []
        for item in items {
            guard case .integer(let value) = item, value >= 0 else {
                throw DataError.malformed(path: path, reason: "'shape' must hold non-negative integers")
            }
            shape.append(value)
        }
        return NPYHeader(descr: descr, fortranOrder: fortranOrder, shape: shape)
    }
}

/// A value in a `.npy` header.
enum PythonLiteral: Equatable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    case dictionary([String: PythonLiteral])
    case none
}

/// A small recursive-descent reader for the Python literals that appear in `.npy` headers.
struct PythonLiteralScanner {
    let text: [Unicode.Scalar]
    let path: String
    var position = 0

    init(text: [Unicode.Scalar], path: String) {
        self.text = text
        self.path = path
    }

    private func error(_ what: String) -> DataError {
        .malformed(path: path, reason: "bad .npy header at character \(position): \(what)")
    }

    private mutating func skipSpace() {
        while position < text.count, text[position].properties.isWhitespace { position += 1 }
    }

    private mutating func expect(_ character: Unicode.Scalar) throws {
        skipSpace()
        guard position < text.count, text[position] == character else { throw error("expected '\(character)'") }
        position += 1
    }

    private mutating func peek() -> Unicode.Scalar? {
        skipSpace()
        return position < text.count ? text[position] : nil
    }

    mutating func parseDictionary() throws -> [String: PythonLiteral] {
        guard case .dictionary(let dictionary) = try parseValue(depth: 0) else {
            throw error("the header is not a dictionary")
        }
        return dictionary
    }

    mutating func parseValue(depth: Int) throws -> PythonLiteral {
        guard depth < 16 else { throw error("nested too deeply") }
        guard let character = peek() else { throw error("unexpected end") }
        switch character {
        case "{":
            position += 1
            var dictionary: [String: PythonLiteral] = [:]
            while peek() != "}" {
                guard case .string(let key) = try parseValue(depth: depth + 1) else {
                    throw error("dictionary keys must be strings")
                }
                try expect(":")
                dictionary[key] = try parseValue(depth: depth + 1)
                if peek() == "," { position += 1 } else { break }
            }
            try expect("}")
            return .dictionary(dictionary)
        case "(", "[":
            let close: Unicode.Scalar = character == "(" ? ")" : "]"
            position += 1
            var items: [PythonLiteral] = []
            while peek() != close {
                items.append(try parseValue(depth: depth + 1))
                if peek() == "," { position += 1 } else { break }
            }
            try expect(close)
            return character == "(" ? .tuple(items) : .list(items)
        case "'", "\"":
            position += 1
            var value = ""
            while position < text.count, text[position] != character {
                value.unicodeScalars.append(text[position])
                position += 1
            }
            guard position < text.count else { throw error("unterminated string") }
            position += 1
            return .string(value)
        default:
            var word = ""
            while position < text.count {
                let scalar = text[position]
                guard scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_"
                else { break }
                word.unicodeScalars.append(scalar)
                position += 1
            }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default:
                let digits = word.hasSuffix("L") ? String(word.dropLast()) : word  // Python 2 long literals
                guard let value = Int(digits) else { throw error("unexpected '\(word.isEmpty ? String(character) : word)'") }
                return .integer(value)
            }
        }
    }
}

/// A `.npy` element type this reader decodes.
struct NPYElementType {
    enum Kind { case bool, unsigned, signed, float }
    let kind: Kind
    let size: Int
    let bigEndian: Bool

    var isFloat: Bool { kind == .float }

    init(descr: String, path: String) throws {
        var characters = Array(descr)
        var bigEndian = false
        if let first = characters.first, "<>|=".contains(first) {
            bigEndian = first == ">"
            characters.removeFirst()
        }
        guard let kindCharacter = characters.first, let size = Int(String(characters.dropFirst())) else {
            throw DataError.malformed(path: path, reason: "bad dtype '\(descr)'")
        }
        let kind: Kind
        switch (kindCharacter, size) {
        case ("b", 1): kind = .bool
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8): kind = .unsigned
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8): kind = .signed
        case ("f", 2), ("f", 4), ("f", 8): kind = .float
        default:
            throw DataError.unsupported(
                path: path, reason: "dtype '\(descr)'; voxel grids must be bool, integer or float (b1, u1-u8, i1-i8, f2-f8)")
        }
        self.kind = kind
        self.size = size
        self.bigEndian = bigEndian && size > 1
    }

    /// The element at byte `offset`, as a Double (integers exactly up to 2^53; only zero-ness matters for them).
    func read(_ buffer: UnsafeBufferPointer<UInt8>, at offset: Int) -> Double {
        var bits: UInt64 = 0
        for byte in 0..<size {
            let shift = bigEndian ? (size - 1 - byte) * 8 : byte * 8
            bits |= UInt64(buffer[offset + byte]) << UInt64(shift)
        }
        switch kind {
        case .bool, .unsigned:
            return Double(bits)
        case .signed:
            let shift = UInt64(64 - size * 8)
            return Double(Int64(bitPattern: bits << shift) >> Int64(shift))
        case .float:
            switch size {
            case 2: return Double(halfToFloat(UInt16(truncatingIfNeeded: bits)))
            case 4: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
            default: return Double(bitPattern: bits)
            }
        }
    }
}

/// Converts IEEE 754 half-precision bits to Float.
func halfToFloat(_ bits: UInt16) -> Float {
    let sign: Float = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = Float(bits & 0x3FF)
    switch exponent {
    case 0: return sign * mantissa * Float(sign: .plus, exponent: -24, significand: 1)
    case 31: return mantissa == 0 ? sign * .infinity : .nan
    default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}
