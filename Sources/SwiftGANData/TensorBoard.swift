import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// TensorBoard event files, written and read without TensorFlow.
//
// An event file is a sequence of TFRecords:
//
//     uint64 length (little-endian)
//     uint32 masked CRC32C of the 8 length bytes
//     length bytes of data: one serialized `tensorflow.Event` protocol buffer
//     uint32 masked CRC32C of the data
//
// where masked(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (modulo 2^32). The first record holds an
// `Event` whose `file_version` is "brain.Event:2"; later ones hold a `Summary` with scalar or image values.
// The protocol buffer fields used here are
//
//     Event          wall_time double = 1, step int64 = 2, file_version string = 3, summary Summary = 5,
//                    session_log SessionLog = 7
//     SessionLog     status enum = 1 (START = 1)
//     Summary        value repeated Summary.Value = 1
//     Summary.Value  tag string = 1, simple_value float = 2, image Summary.Image = 4
//     Summary.Image  height int32 = 1, width int32 = 2, colorspace int32 = 3, encoded_image_string bytes = 4

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of TFRecord framing.
public enum CRC32C {
    /// The byte-at-a-time lookup table of the reflected polynomial.
    private static let table: [UInt32] = (0..<256).map { index -> UInt32 in
        var crc = UInt32(index)
        for _ in 0..<8 {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
        }
        return crc
    }

    /// The CRC-32C of `bytes` (initial value and final xor 0xFFFFFFFF), so `checksum("123456789") == 0xE3069283`.
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
        return ~crc
    }

    /// The checksum as TFRecord stores it: `((crc >> 15) | (crc << 17)) &+ 0xa282ead8`.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// The masked CRC-32C of `bytes` (see `masked(_:)`).
    public static func maskedChecksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        masked(checksum(bytes))
    }
}

/// TFRecord framing: length, masked CRC of the length, data, masked CRC of the data.
public enum TFRecord {
    /// One record: 8-byte little-endian length, its masked CRC-32C, the data, and the data's masked CRC-32C.
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var record: [UInt8] = []
        record.reserveCapacity(data.count + 16)
        let length = littleEndianBytes(UInt64(data.count))
        record += length
        record += littleEndianBytes(CRC32C.maskedChecksum(length))
        record += data
        record += littleEndianBytes(CRC32C.maskedChecksum(data))
        return record
    }

    /// Splits a whole file into its records' data, checking both checksums of every record.
    ///
    /// `path` is only used in error messages.
    /// - Throws: `DataError.truncated` if the file ends inside a record, `DataError.malformed` naming the record's
    ///   index and byte offset if a checksum does not match.
    public static func records(in bytes: [UInt8], path: String) throws -> [[UInt8]] {
        var records: [[UInt8]] = []
        var offset = 0
        while offset < bytes.count {
            let index = records.count
            guard bytes.count - offset >= 12 else {
                throw DataError.truncated(path: path, expectedBytes: offset + 12, actualBytes: bytes.count)
            }
            let lengthBytes = bytes[offset..<offset + 8]
            let length = readLittleEndian(bytes, at: offset, count: 8)
            let lengthCRC = UInt32(readLittleEndian(bytes, at: offset + 8, count: 4))
            guard CRC32C.maskedChecksum(lengthBytes) == lengthCRC else {
                throw DataError.malformed(
                    path: path, reason: "record \(index) at byte \(offset): length checksum mismatch")
            }
            let available = UInt64(bytes.count - offset - 12)
            guard length <= available, available - length >= 4 else {
                let expected = length > UInt64(Int.max / 2) ? Int.max : offset + 16 + Int(length)
                throw DataError.truncated(path: path, expectedBytes: expected, actualBytes: bytes.count)
            }
            let start = offset + 12
            let end = start + Int(length)
            let data = Array(bytes[start..<end])
            let dataCRC = UInt32(readLittleEndian(bytes, at: end, count: 4))
            guard CRC32C.maskedChecksum(data) == dataCRC else {
                throw DataError.malformed(
                    path: path, reason: "record \(index) at byte \(offset): data checksum mismatch")
            }
            records.append(data)
            offset = end + 4
        }
        return records
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }

    private static func readLittleEndian(_ bytes: [UInt8], at offset: Int, count: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(bytes[offset + i]) << (i * 8) }
        return value
    }
}

/// One value of a TensorBoard summary: a scalar or an encoded image.
public struct TensorBoardValue: Equatable, Sendable {
    /// What the value holds.
    public enum Content: Equatable, Sendable {
        /// A `simple_value` scalar.
        case scalar(Float)
        /// An image: its size, colorspace (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA) and encoded bytes (PNG here).
        case image(height: Int, width: Int, colorspace: Int, encoded: [UInt8])
    }

    /// The series name, such as `loss/generator`.
    public var tag: String
    /// The scalar or image.
    public var content: Content

    /// A value with a tag and content.
    public init(tag: String, content: Content) {
        self.tag = tag
        self.content = content
    }
}

/// One `Event` record of an event file, as far as this writer uses its fields.
public struct TensorBoardEvent: Equatable, Sendable {
    /// Seconds since 1970 when the event was written.
    public var wallTime: Double
    /// The training step.
    public var step: Int64
    /// `brain.Event:2` in a file's first event, nil otherwise.
    public var fileVersion: String?
    /// The summary's values (empty for the version event).
    public var values: [TensorBoardValue]
    /// A `SessionLog` with status START: the run (re)starts at `step`, so TensorBoard drops the events of earlier
    /// files at this step and later (steps a stopped run had logged and the resumed run logs again).
    public var sessionStart: Bool

    /// An event with the given fields.
    public init(wallTime: Double, step: Int64, fileVersion: String? = nil, values: [TensorBoardValue] = [],
                sessionStart: Bool = false) {
        self.wallTime = wallTime
        self.step = step
        self.fileVersion = fileVersion
        self.values = values
        self.sessionStart = sessionStart
    }

    /// The serialized `tensorflow.Event` protocol buffer.
    public func encoded() -> [UInt8] {
        var event = ProtobufWriter()
        // Like any proto3 encoder, fields holding their default value (zero) are left out.
        if wallTime.bitPattern != 0 { event.double(field: 1, wallTime) }
        if step != 0 { event.varint(field: 2, UInt64(bitPattern: step)) }
        if let fileVersion { event.bytes(field: 3, Array(fileVersion.utf8)) }
        if !values.isEmpty {
            var summary = ProtobufWriter()
            for value in values {
                var entry = ProtobufWriter()
                entry.bytes(field: 1, Array(value.tag.utf8))
                switch value.content {
                case .scalar(let number):
                    entry.float(field: 2, number)
                case .image(let height, let width, let colorspace, let encoded):
                    var image = ProtobufWriter()
                    image.varint(field: 1, UInt64(bitPattern: Int64(height)))
                    image.varint(field: 2, UInt64(bitPattern: Int64(width)))
                    image.varint(field: 3, UInt64(bitPattern: Int64(colorspace)))
                    image.bytes(field: 4, encoded)
                    entry.bytes(field: 4, image.output)
                }
                summary.bytes(field: 1, entry.output)
            }
            event.bytes(field: 5, summary.output)
        }
        if sessionStart {
            var log = ProtobufWriter()
            log.varint(field: 1, 1)   // SessionLog.status = START
            event.bytes(field: 7, log.output)
        }
        return event.output
    }

    /// Decodes a serialized `Event`, keeping the fields listed above and skipping all others.
    ///
    /// `path` is only used in error messages.
    /// - Throws: `DataError.malformed` naming `path` if the bytes are not a valid protocol buffer.
    public init(decoding bytes: [UInt8], path: String) throws {
        self.init(wallTime: 0, step: 0)
        var reader = ProtobufReader(bytes: bytes[...], path: path)
        while let (field, item) = try reader.next() {
            switch (field, item) {
            case (1, .fixed64(let bits)): wallTime = Double(bitPattern: bits)
            case (2, .varint(let value)): step = Int64(bitPattern: value)
            case (3, .bytes(let text)): fileVersion = String(decoding: text, as: UTF8.self)
            case (5, .bytes(let summary)): values += try Self.decodeSummary(summary, path: path)
            case (7, .bytes(let log)):
                var logReader = ProtobufReader(bytes: log, path: path)
                while let (logField, logItem) = try logReader.next() {
                    if logField == 1, case .varint(let status) = logItem { sessionStart = status == 1 }
                }
            default: break
            }
        }
    }

    private static func decodeSummary(_ bytes: ArraySlice<UInt8>, path: String) throws -> [TensorBoardValue] {
        var values: [TensorBoardValue] = []
        var summary = ProtobufReader(bytes: bytes, path: path)
        while let (field, item) = try summary.next() {
            guard field == 1, case .bytes(let valueBytes) = item else { continue }
            var tag = ""
            var content: TensorBoardValue.Content?
            var entry = ProtobufReader(bytes: valueBytes, path: path)
            while let (valueField, valueItem) = try entry.next() {
                switch (valueField, valueItem) {
                case (1, .bytes(let text)): tag = String(decoding: text, as: UTF8.self)
                case (2, .fixed32(let bits)): content = .scalar(Float(bitPattern: bits))
                case (4, .bytes(let imageBytes)):
                    var height = 0, width = 0, colorspace = 0
                    var encoded: [UInt8] = []
                    var image = ProtobufReader(bytes: imageBytes, path: path)
                    while let (imageField, imageItem) = try image.next() {
                        switch (imageField, imageItem) {
                        case (1, .varint(let v)): height = Int(Int32(truncatingIfNeeded: v))
                        case (2, .varint(let v)): width = Int(Int32(truncatingIfNeeded: v))
                        case (3, .varint(let v)): colorspace = Int(Int32(truncatingIfNeeded: v))
                        case (4, .bytes(let data)): encoded = Array(data)
                        default: break
                        }
                    }
                    content = .image(height: height, width: width, colorspace: colorspace, encoded: encoded)
                default: break
                }
            }
            if let content { values.append(TensorBoardValue(tag: tag, content: content)) }
        }
        return values
    }
}

/// Writes a TensorBoard event file, `events.out.tfevents.<seconds>.<host>`, in a folder.
///
/// Every `add...` call appends one framed record to the file straight away (so a crash loses nothing already
/// added); `flush()` additionally asks the system to put it on disk. Point `tensorboard --logdir` at the folder,
/// or at a folder above it, to see the scalars and images.
public final class TensorBoardWriter {
    /// The event file being written.
    public let path: String
    private var descriptor: Int32

    /// The `file_version` of the first event, which marks the file as a TensorBoard event file.
    public static let fileVersion = "brain.Event:2"

    /// Creates `directory` if needed and starts a new event file in it with the version event.
    ///
    /// The file name is `events.out.tfevents.<wallTime in whole seconds, 10 digits>.<host name>`, with `.1`,
    /// `.2`, ... appended if that name is taken, so an existing file is never overwritten.
    /// - Throws: `DataError.writeFailed` naming the folder or file if it cannot be created or written.
    public init(directory: String, wallTime: Date = Date()) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            var isDirectory: ObjCBool = false
            if !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue) {
                throw DataError.writeFailed(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
            }
        }
        let seconds = Int64(max(0, wallTime.timeIntervalSince1970))
        let base = (directory as NSString).appendingPathComponent(
            String(format: "events.out.tfevents.%010lld.", seconds) + Self.hostName())
        var candidate = base
        var attempt = 0
        var fd: Int32 = -1
        while true {
            fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd >= 0 { break }
            let code = errno
            guard code == EEXIST, attempt < 10_000 else {
                throw DataError.writeFailed(path: candidate, reason: systemErrorDescription(code))
            }
            attempt += 1
            candidate = base + ".\(attempt)"
        }
        path = candidate
        descriptor = fd
        try append(TensorBoardEvent(wallTime: wallTime.timeIntervalSince1970, step: 0, fileVersion: Self.fileVersion))
    }

    deinit {
        if descriptor >= 0 { _ = closeDescriptor(descriptor) }
    }

    /// Marks that training (re)starts at `step`: TensorBoard then discards what earlier event files hold for this
    /// step and later, so steps logged by a run that stopped without a checkpoint are not shown twice.
    public func addSessionStart(step: Int, wallTime: Date = Date()) throws {
        try append(TensorBoardEvent(wallTime: wallTime.timeIntervalSince1970, step: Int64(step), sessionStart: true))
    }

    /// Appends a scalar, such as a loss, for `step`.
    /// - Throws: `DataError.writeFailed` naming the event file.
    public func addScalar(tag: String, value: Float, step: Int, wallTime: Date = Date()) throws {
        try append(TensorBoardEvent(wallTime: wallTime.timeIntervalSince1970, step: Int64(step),
                                    values: [TensorBoardValue(tag: tag, content: .scalar(value))]))
    }

    /// Appends several scalars of one step in a single event.
    /// - Throws: `DataError.writeFailed` naming the event file.
    public func addScalars(_ values: [(tag: String, value: Float)], step: Int, wallTime: Date = Date()) throws {
        guard !values.isEmpty else { return }
        try append(TensorBoardEvent(wallTime: wallTime.timeIntervalSince1970, step: Int64(step),
                                    values: values.map { TensorBoardValue(tag: $0.tag, content: .scalar($0.value)) }))
    }

    /// Appends an image already encoded as PNG, with its size and channel count (1 gray, 2 gray + alpha,
    /// 3 RGB, 4 RGBA, stored as the colorspace).
    /// - Throws: `DataError.writeFailed` naming the event file, also for a non-positive size or a channel count
    ///   outside 1...4.
    public func addImage(tag: String, png: [UInt8], width: Int, height: Int, channels: Int, step: Int,
                         wallTime: Date = Date()) throws {
        guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max),
              (1...4).contains(channels) else {
            throw DataError.writeFailed(path: path, reason: "image '\(tag)' has invalid size \(width)x\(height)x\(channels)")
        }
        let image = TensorBoardValue.Content.image(height: height, width: width, colorspace: channels, encoded: png)
        try append(TensorBoardEvent(wallTime: wallTime.timeIntervalSince1970, step: Int64(step),
                                    values: [TensorBoardValue(tag: tag, content: image)]))
    }

    /// Encodes `image` as PNG and appends it (see `addImage(tag:png:width:height:channels:step:wallTime:)`).
    /// - Throws: `DataError.writeFailed` naming the event file.
    public func addImage(tag: String, image: RasterImage, step: Int, wallTime: Date = Date()) throws {
        let png: [UInt8]
        do {
            png = try ImageIO.encodePNG(image)
        } catch {
            throw DataError.writeFailed(path: path, reason: "cannot encode image '\(tag)' as PNG")
        }
        try addImage(tag: tag, png: png, width: image.width, height: image.height, channels: image.channels,
                     step: step, wallTime: wallTime)
    }

    /// Makes everything written so far durable (`fsync`).
    /// - Throws: `DataError.writeFailed` naming the event file.
    public func flush() throws {
        guard descriptor >= 0 else { return }
        if fsync(descriptor) != 0 {
            throw DataError.writeFailed(path: path, reason: "fsync: \(systemErrorDescription())")
        }
    }

    /// Flushes and closes the file; later `add...` calls throw.
    /// - Throws: `DataError.writeFailed` naming the event file if the final flush or close fails.
    public func close() throws {
        guard descriptor >= 0 else { return }
        let fd = descriptor
        descriptor = -1
        let synced = fsync(fd) == 0
        let syncError = errno
        if closeDescriptor(fd) != 0 {
            throw DataError.writeFailed(path: path, reason: "close: \(systemErrorDescription())")
        }
        if !synced {
            throw DataError.writeFailed(path: path, reason: "fsync: \(systemErrorDescription(syncError))")
        }
    }

    private func append(_ event: TensorBoardEvent) throws {
        guard descriptor >= 0 else {
            throw DataError.writeFailed(path: path, reason: "the event file is already closed")
        }
        let record = TFRecord.frame(event.encoded())
        try record.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                guard let base = raw.baseAddress else { return }
                let written = write(descriptor, base + offset, raw.count - offset)
                if written < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    throw DataError.writeFailed(path: path, reason: systemErrorDescription(code))
                }
                if written == 0 {
                    throw DataError.writeFailed(path: path, reason: "write made no progress")
                }
                offset += written
            }
        }
    }

    /// The machine's name, reduced to characters that are safe in a file name.
    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let name: String
        if gethostname(&buffer, buffer.count - 1) == 0 {
            name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } else {
            name = ""
        }
        let safe = String(name.unicodeScalars.map { scalar -> Character in
            let c = Character(scalar)
            return c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".") ? c : "_"
        })
        return safe.isEmpty ? "localhost" : safe
    }
}

/// The system's `close`, out of reach of `TensorBoardWriter.close()`'s name.
private func closeDescriptor(_ fd: Int32) -> Int32 {
    close(fd)
}

/// Reads TensorBoard event files written by `TensorBoardWriter` (or by TensorFlow, for the fields it knows).
public enum TensorBoardReader {
    /// Every event of the file at `path`, in order, after checking both checksums of every record.
    /// - Throws: `DataError` naming `path`: `fileNotFound`, `unreadable`, `truncated` (the file ends inside a
    ///   record), or `malformed` (a checksum mismatch or an undecodable event, with the record's index).
    public static func readEvents(_ path: String) throws -> [TensorBoardEvent] {
        let bytes = try readFileBytes(path)
        return try TFRecord.records(in: bytes, path: path).enumerated().map { index, data in
            do {
                return try TensorBoardEvent(decoding: data, path: path)
            } catch DataError.malformed(let path, let reason) {
                throw DataError.malformed(path: path, reason: "record \(index): \(reason)")
            }
        }
    }

    /// The event files (names containing `tfevents`) in `directory`, sorted by name.
    /// - Throws: `DataError.fileNotFound` or `.unreadable` naming `directory`.
    public static func eventFiles(in directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw DataError.fileNotFound(path: directory)
        }
        guard isDirectory.boolValue else { throw DataError.unreadable(path: directory, reason: "not a directory") }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw DataError.unreadable(path: directory, reason: error.localizedDescription)
        }
        return names.filter { $0.contains("tfevents") && !$0.hasPrefix(".") }.sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }
}

// MARK: - Protocol buffer wire format

/// Appends protocol buffer fields (wire types 0, 1, 2 and 5) to a byte array.
struct ProtobufWriter {
    private(set) var output: [UInt8] = []

    mutating func rawVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            output.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        output.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) {
        rawVarint(UInt64(field) << 3 | wireType)
    }

    mutating func varint(field: Int, _ value: UInt64) {
        key(field, 0)
        rawVarint(value)
    }

    mutating func double(field: Int, _ value: Double) {
        key(field, 1)
        let bits = value.bitPattern
        for i in 0..<8 { output.append(UInt8(truncatingIfNeeded: bits >> (i * 8))) }
    }

    mutating func bytes(field: Int, _ data: [UInt8]) {
        key(field, 2)
        rawVarint(UInt64(data.count))
        output += data
    }

    mutating func float(field: Int, _ value: Float) {
        key(field, 5)
        let bits = value.bitPattern
        for i in 0..<4 { output.append(UInt8(truncatingIfNeeded: bits >> (i * 8))) }
    }
}

/// Reads protocol buffer fields one at a time, checking every length against the bytes that are there.
struct ProtobufReader {
    enum Item {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    let bytes: ArraySlice<UInt8>
    let path: String
    private var offset: Int

    init(bytes: ArraySlice<UInt8>, path: String) {
        self.bytes = bytes
        self.path = path
        offset = bytes.startIndex
    }

    private func failure(_ reason: String) -> DataError {
        .malformed(path: path, reason: "protocol buffer: \(reason) at byte \(offset - bytes.startIndex)")
    }

    private mutating func rawVarint() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.endIndex else { throw failure("varint runs past the end") }
            guard shift < 64 else { throw failure("varint longer than 10 bytes") }
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    private mutating func fixed(_ count: Int) throws -> UInt64 {
        guard bytes.endIndex - offset >= count else { throw failure("fixed-size field runs past the end") }
        var value: UInt64 = 0
        for i in 0..<count { value |= UInt64(bytes[offset + i]) << (i * 8) }
        offset += count
        return value
    }

    /// The next field number and value, or nil at the end.
    mutating func next() throws -> (Int, Item)? {
        guard offset < bytes.endIndex else { return nil }
        let key = try rawVarint()
        let field = key >> 3
        guard field > 0, field <= UInt64(Int32.max) else { throw failure("invalid field number \(field)") }
        switch key & 7 {
        case 0: return (Int(field), .varint(try rawVarint()))
        case 1: return (Int(field), .fixed64(try fixed(8)))
        case 2:
            let length = try rawVarint()
            guard length <= UInt64(bytes.endIndex - offset) else {
                throw failure("field \(field) length \(length) runs past the end")
            }
            let start = offset
            offset += Int(length)
            return (Int(field), .bytes(bytes[start..<offset]))
        case 5: return (Int(field), .fixed32(UInt32(try fixed(4))))
        default: throw failure("unsupported wire type \(key & 7) for field \(field)")
        }
    }
}
