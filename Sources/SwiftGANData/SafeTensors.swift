import Foundation

/// A named n-dimensional array of 32-bit floats: its shape and its values in row-major order.
public struct NamedArray: Equatable, Sendable {
    /// Size of each dimension, outermost first; `[]` is a scalar holding one value.
    public var shape: [Int]
    /// `shape.reduce(1, *)` values in row-major (C) order.
    public var values: [Float]

    /// Pairs a shape with its values; `write(to:)` checks that they agree.
    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

/// A file in the Hugging Face safetensors format, limited to F32 tensors.
///
/// Layout: an 8-byte little-endian unsigned header length `N`, then `N` bytes of UTF-8 JSON
/// (padded with spaces so that `N` is a multiple of 8), then the data buffer. The JSON maps
/// each tensor name to `{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}`, with
/// offsets in bytes relative to the start of the data buffer, and may hold string-to-string
/// metadata under `"__metadata__"`. Tensor data is little-endian and contiguous: the tensors,
/// ordered by offset, cover the buffer exactly with no gaps or overlaps.
public struct SafeTensorsFile: Equatable, Sendable {
    /// The tensors by name.
    public var tensors: [String: NamedArray]
    /// Free-form string metadata (the `__metadata__` entry); empty means none is written.
    public var metadata: [String: String]

    /// Headers longer than this are rejected, as the reference implementation does.
    static let maximumHeaderLength = 100_000_000

    /// Creates a file from tensors and metadata.
    public init(tensors: [String: NamedArray] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Reads and fully validates a safetensors file.
    ///
    /// - Throws: `DataError.fileNotFound` / `.unreadable` if the file cannot be read;
    ///   `.truncated` if the header or a tensor extends past the end of the file;
    ///   `.unsupported` for a dtype other than F32 (naming the dtype and tensor);
    ///   `.malformed` for anything else that breaks the format (bad JSON, a shape that does
    ///   not match its offsets, overlapping or non-contiguous data, non-string metadata).
    ///   Every error names `path`.
    public static func read(_ path: String) throws -> SafeTensorsFile {
        try decode(try readFileBytes(path), path: path)
    }

    /// Parses safetensors bytes already in memory; `path` is only used in error messages.
    ///
    /// - Throws: the same errors as `read(_:)`.
    public static func decode(_ bytes: [UInt8], path: String) throws -> SafeTensorsFile {
        guard bytes.count >= 8 else {
            throw DataError.malformed(path: path, reason: "file is \(bytes.count) bytes long; a safetensors "
                                      + "file starts with an 8-byte little-endian header length")
        }
        var headerLength64: UInt64 = 0
        for i in 0..<8 { headerLength64 |= UInt64(bytes[i]) << UInt64(8 * i) }
        let available = bytes.count - 8
        if headerLength64 > UInt64(available), bytes.count > 8, bytes[8] != UInt8(ascii: "{") {
            throw DataError.malformed(path: path, reason: "not a safetensors file (no JSON header after the 8-byte length)")
        }
        guard headerLength64 <= UInt64(available) else {
            let wanted = headerLength64 > UInt64(Int.max - 8) ? Int.max : Int(headerLength64) + 8
            throw DataError.truncated(path: path, expectedBytes: wanted, actualBytes: bytes.count)
        }
        let headerLength = Int(headerLength64)
        guard headerLength > 0 else {
            throw DataError.malformed(path: path, reason: "header length is 0; expected a JSON object")
        }
        guard headerLength <= maximumHeaderLength else {
            throw DataError.malformed(path: path, reason: "header length \(headerLength) exceeds the "
                                      + "\(maximumHeaderLength)-byte limit")
        }
        let headerBytes = bytes[8..<8 + headerLength]
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw DataError.malformed(path: path, reason: "header does not start with '{'")
        }

        let json: JSONValue
        do {
            json = try JSONDecoder().decode(JSONValue.self, from: Data(headerBytes))
        } catch {
            throw DataError.malformed(path: path, reason: "header is not valid JSON (\(describe(error)))")
        }
        guard case .object(let entries) = json else {
            throw DataError.malformed(path: path, reason: "header is not a JSON object")
        }

        var metadata: [String: String] = [:]
        if let rawMetadata = entries[metadataKey] {
            guard case .object(let pairs) = rawMetadata else {
                throw DataError.malformed(path: path, reason: "__metadata__ is not a JSON object")
            }
            for (key, value) in pairs {
                guard case .string(let text) = value else {
                    throw DataError.malformed(
                        path: path, reason: "__metadata__ value for '\(key)' is \(value.kindName), not a string")
                }
                metadata[key] = text
            }
        }

        struct Entry {
            let name: String
            let shape: [Int]
            let begin: Int
            let end: Int
        }
        var tensorEntries: [Entry] = []
        for name in entries.keys.sorted(by: utf8Less) where name != metadataKey {
            guard case .object(let info)? = entries[name] else {
                throw DataError.malformed(path: path, reason: "entry for tensor '\(name)' is not a JSON object")
            }
            guard case .string(let dtype)? = info["dtype"] else {
                throw DataError.malformed(path: path, reason: "tensor '\(name)' has no string \"dtype\"")
            }
            guard let shape = info["shape"]?.nonNegativeIntegers else {
                throw DataError.malformed(
                    path: path, reason: "tensor '\(name)': \"shape\" must be a list of non-negative integers")
            }
            guard let offsets = info["data_offsets"]?.nonNegativeIntegers, offsets.count == 2 else {
                throw DataError.malformed(
                    path: path, reason: "tensor '\(name)': \"data_offsets\" must be two non-negative integers")
            }
            guard dtype == "F32" else {
                throw DataError.unsupported(
                    path: path, reason: "tensor '\(name)' has dtype \(dtype); only F32 is supported")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin <= end else {
                throw DataError.malformed(
                    path: path, reason: "tensor '\(name)': data_offsets [\(begin), \(end)] run backwards")
            }
            let byteCount = checkedProduct(shape + [4])
            guard byteCount == end - begin else {
                throw DataError.malformed(
                    path: path, reason: "tensor '\(name)': shape \(shape) of F32 needs "
                        + "\(byteCount.map(String.init) ?? "too many") bytes but "
                        + "data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            tensorEntries.append(Entry(name: name, shape: shape, begin: begin, end: end))
        }

        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        if let furthest = tensorEntries.max(by: { $0.end < $1.end }), furthest.end > dataLength {
            let (wanted, overflow) = dataStart.addingReportingOverflow(furthest.end)
            throw DataError.truncated(path: path, expectedBytes: overflow ? Int.max : wanted,
                                      actualBytes: bytes.count)
        }
        let byOffset = tensorEntries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        var previousName: String? = nil
        for entry in byOffset {
            if entry.begin < covered {
                throw DataError.malformed(
                    path: path, reason: "data of tensor '\(entry.name)' (from byte \(entry.begin)) overlaps "
                        + "tensor '\(previousName ?? "?")' (up to byte \(covered))")
            }
            if entry.begin > covered {
                throw DataError.malformed(
                    path: path, reason: "bytes \(covered)..<\(entry.begin) of the data buffer belong to no "
                        + "tensor (gap before '\(entry.name)'; was a tensor's entry removed from the header?)")
            }
            covered = entry.end
            previousName = entry.name
        }
        if covered != dataLength {
            throw DataError.malformed(
                path: path, reason: "data buffer is \(dataLength) bytes but the tensors cover only \(covered)")
        }

        var tensors: [String: NamedArray] = [:]
        for entry in tensorEntries {
            let count = (entry.end - entry.begin) / 4
            var values = [Float](repeating: 0, count: count)
            let start = dataStart + entry.begin
            values.withUnsafeMutableBytes { destination in
                bytes.withUnsafeBytes { source in
                    destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<start + count * 4]))
                }
            }
            #if _endian(big)
            values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
            #endif
            tensors[entry.name] = NamedArray(shape: entry.shape, values: values)
        }
        return SafeTensorsFile(tensors: tensors, metadata: metadata)
    }

    /// Writes the file to `path` atomically (see `writeAtomically`).
    ///
    /// Tensors are stored in byte-wise sorted name order and the JSON keys are sorted, so
    /// the same contents always give the same bytes. An empty `metadata` is omitted.
    /// - Throws: `DataError.writeFailed` naming `path` if a tensor's shape does not match its
    ///   value count, a name is `__metadata__`, or the write fails.
    public func write(to path: String) throws {
        try writeAtomically(try encode(path: path), to: path)
    }

    /// The file's bytes, exactly as `write(to:)` stores them.
    ///
    /// - Throws: `DataError.writeFailed` (with the path `<safetensors in memory>`) for
    ///   inconsistent tensors.
    public func serialized() throws -> [UInt8] {
        try encode(path: "<safetensors in memory>")
    }

    // MARK: - Implementation

    private static let metadataKey = "__metadata__"

    func encode(path: String) throws -> [UInt8] {
        let names = tensors.keys.sorted(by: SafeTensorsFile.utf8Less)
        var header = "{"
        var first = true
        if !metadata.isEmpty {
            header += SafeTensorsFile.jsonString(SafeTensorsFile.metadataKey) + ":{"
            header += metadata.keys.sorted(by: SafeTensorsFile.utf8Less).map { key in
                SafeTensorsFile.jsonString(key) + ":" + SafeTensorsFile.jsonString(metadata[key] ?? "")
            }.joined(separator: ",")
            header += "}"
            first = false
        }
        var offset = 0
        for name in names {
            guard let tensor = tensors[name] else { continue }
            guard name != SafeTensorsFile.metadataKey else {
                throw DataError.writeFailed(path: path, reason: "a tensor cannot be named __metadata__")
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }), let count = SafeTensorsFile.checkedProduct(tensor.shape),
                  count == tensor.values.count else {
                throw DataError.writeFailed(
                    path: path, reason: "tensor '\(name)' has shape \(tensor.shape) but \(tensor.values.count) values")
            }
            let end = offset + count * 4
            if !first { header += "," }
            first = false
            header += SafeTensorsFile.jsonString(name) + ":{\"dtype\":\"F32\",\"shape\":["
                + tensor.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        let length = UInt64(headerBytes.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> UInt64(8 * i))) }
        out.append(contentsOf: headerBytes)
        for name in names {
            guard let tensor = tensors[name] else { continue }
            #if _endian(big)
            let values = tensor.values.map { Float(bitPattern: $0.bitPattern.littleEndian) }
            #else
            let values = tensor.values
            #endif
            values.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    /// Orders strings by their UTF-8 bytes, independent of Unicode collation.
    static func utf8Less(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// The product of `shape`, or nil on overflow or a negative dimension.
    static func checkedProduct(_ shape: [Int]) -> Int? {
        var product = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            product = next
        }
        return product
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    private static func describe(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return context.underlyingError.map { "\($0)" } ?? context.debugDescription
        }
        return "\(error)"
    }
}

/// A parsed JSON value, enough to validate a safetensors header.
private enum JSONValue: Decodable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The elements if this is an array of integers that are all >= 0.
    var nonNegativeIntegers: [Int]? {
        guard case .array(let items) = self else { return nil }
        var result: [Int] = []
        for item in items {
            guard case .integer(let value) = item, value >= 0 else { return nil }
            result.append(value)
        }
        return result
    }

    /// A short name for the kind of value, for error messages.
    var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
