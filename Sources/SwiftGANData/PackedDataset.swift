import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Images decoded, converted and resized once, kept in one file that loads with a single mapping.
///
/// The file (all integers little-endian):
/// ```
/// offset  size  field
///  0       8    magic "SGANPACK"
///  8       4    format version, 1
/// 12       4    image count N (at least 1)
/// 16       4    channels C (1...4)
/// 20       4    height H
/// 24       4    width W
/// 28       4    flags: bit 0 set when labels follow the pixels
/// 32       4    metadata length M
/// 36       4    CRC-32 (zlib's) of every byte after the 64-byte header
/// 40      24    zero
/// 64       M    metadata, UTF-8 JSON: {"classes": [names] or null, "files": [paths relative to the source
///               folder], "source": folder, "conversion": {"size", "channels", "crop", "background", "maxPixels"}}
/// 64+M          zero bytes up to the next multiple of 64 (P)
/// P      N·C·H·W  pixels, one byte each (0 black, 255 white): image by image, each as C planes of H rows of W
/// ...    4·N    labels, signed 32-bit, when flag bit 0 is set; each in 0..<classes.count when classes are named
/// ```
/// Nothing follows. Files are written atomically (a temporary file renamed into place).
public struct PackedDataset: Equatable, Sendable {
    /// The eight bytes every packed dataset starts with.
    public static let magic: [UInt8] = Array("SGANPACK".utf8)
    /// The format version this code writes and reads.
    public static let formatVersion = 1
    /// The conventional file extension.
    public static let fileExtension = "sgpack"

    /// The number of images.
    public let count: Int
    /// Channels per image (1 gray, 3 RGB).
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// `count × channels × height × width` bytes (image, channel plane, row, column).
    public let pixels: [UInt8]
    /// One class index per image, or nil.
    public let labels: [Int]?
    /// The class names that labels index, or nil.
    public let classNames: [String]?
    /// Metadata: where the images came from and how they were converted.
    public let metadata: Metadata

    /// Where the images came from and how they were converted.
    public struct Metadata: Codable, Equatable, Sendable {
        /// The folder the images were read from.
        public var source: String
        /// Each image's path relative to `source`, in order (empty when unknown).
        public var files: [String]
        /// The conversion used.
        public var conversion: ConversionRecord?
        /// The class names (duplicated in ``PackedDataset/classNames``).
        public var classes: [String]?

        /// Creates metadata.
        public init(source: String, files: [String] = [], conversion: ConversionRecord? = nil, classes: [String]? = nil) {
            self.source = source
            self.files = files
            self.conversion = conversion
            self.classes = classes
        }
    }

    /// An ``ImageConversion`` as stored in the metadata.
    public struct ConversionRecord: Codable, Equatable, Sendable {
        /// Side of the square images.
        public var size: Int
        /// Channels.
        public var channels: Int
        /// ``CropPolicy`` raw value.
        public var crop: String
        /// `#rrggbb`.
        public var background: String
        /// The pixel limit used.
        public var maxPixels: Int

        /// Records a conversion.
        public init(_ conversion: ImageConversion) {
            size = conversion.size
            channels = conversion.channels
            crop = conversion.crop.rawValue
            background = conversion.background.description
            maxPixels = conversion.maxPixels
        }
    }

    /// Wraps images already in memory, checking that the parts agree.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` for an empty set, bad dimensions, a pixel count that is not
    ///   `count × channels × height × width`, a label count that differs from `count`, or a label outside the
    ///   class list.
    public init(count: Int, channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int]?,
                classNames: [String]?, metadata: Metadata) throws {
        if let problem = Self.problem(count: count, channels: channels, height: height, width: width,
                                      pixelBytes: pixels.count, labels: labels, classNames: classNames) {
            throw DataError.invalidDataset(problem)
        }
        self.count = count
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
        self.classNames = classNames
        var metadata = metadata
        metadata.classes = classNames
        self.metadata = metadata
    }

    /// Packs a loaded image folder (see ``ImageFolder/load(_:conversion:maxPixels:threads:progress:)``).
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` when the folder was loaded without a conversion or gave no images.
    public init(_ contents: ImageFolderContents) throws {
        guard let conversion = contents.conversion else {
            throw DataError.invalidDataset("\(contents.scan.root): the images were checked but not converted, "
                                           + "so there is nothing to pack")
        }
        try contents.requireImages()
        try self.init(count: contents.files.count, channels: conversion.channels, height: conversion.size,
                      width: conversion.size, pixels: contents.pixels, labels: contents.labels,
                      classNames: contents.scan.classNames,
                      metadata: Metadata(source: contents.scan.root, files: contents.files.map(contents.scan.relativePath),
                                         conversion: ConversionRecord(conversion)))
    }

    private static func problem(count: Int, channels: Int, height: Int, width: Int, pixelBytes: Int, labels: [Int]?,
                                classNames: [String]?) -> String? {
        guard count > 0 else { return "a packed dataset needs at least one image" }
        guard (1...4).contains(channels) else { return "channels must be 1...4, got \(channels)" }
        guard (1...65536).contains(height), (1...65536).contains(width) else {
            return "image size must be 1...65536 on each side, got \(width)x\(height)"
        }
        let (perImage, o1) = (channels * height).multipliedReportingOverflow(by: width)
        let (total, o2) = perImage.multipliedReportingOverflow(by: count)
        guard !o1, !o2, count <= Int(UInt32.max) else { return "\(count) images of \(width)x\(height) are too many" }
        guard pixelBytes == total else {
            return "\(pixelBytes) pixel bytes are not \(count) images of \(channels)x\(height)x\(width)"
        }
        if let labels {
            guard labels.count == count else { return "\(count) images but \(labels.count) labels" }
            if let bad = labels.first(where: { $0 < 0 || $0 > Int(Int32.max) }) { return "label \(bad) is out of range" }
            if let classNames, let bad = labels.first(where: { $0 >= classNames.count }) {
                return "label \(bad) is outside the \(classNames.count) named classes"
            }
        }
        return nil
    }

    // MARK: Writing

    /// The file's bytes (see the type's description for the layout).
    ///
    /// - Throws: ``DataError/writeFailed(path:reason:)`` when the metadata cannot be encoded.
    public func encoded(path: String = "(packed dataset)") throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json: Data
        do {
            json = try encoder.encode(metadata)
        } catch {
            throw DataError.writeFailed(path: path, reason: "cannot encode the metadata: \(error)")
        }
        guard json.count <= Int(UInt32.max) else {
            throw DataError.writeFailed(path: path, reason: "the metadata is too large")
        }
        let pixelOffset = Self.align64(64 + json.count)
        var bytes = [UInt8](repeating: 0, count: pixelOffset)
        bytes.reserveCapacity(pixelOffset + pixels.count + (labels?.count ?? 0) * 4)
        bytes.replaceSubrange(0..<8, with: Self.magic)
        Self.put32(&bytes, 8, Self.formatVersion)
        Self.put32(&bytes, 12, count)
        Self.put32(&bytes, 16, channels)
        Self.put32(&bytes, 20, height)
        Self.put32(&bytes, 24, width)
        Self.put32(&bytes, 28, labels == nil ? 0 : 1)
        Self.put32(&bytes, 32, json.count)
        bytes.replaceSubrange(64..<(64 + json.count), with: json)
        bytes += pixels
        if let labels {
            for label in labels {
                let value = UInt32(truncatingIfNeeded: label)
                bytes += [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)]
            }
        }
        let checksum = bytes.withUnsafeBufferPointer { Self.crc32(UnsafeBufferPointer(rebasing: $0[64...])) }
        Self.put32(&bytes, 36, Int(checksum))
        return bytes
    }

    /// Writes the dataset to `path` atomically.
    ///
    /// - Throws: ``DataError/writeFailed(path:reason:)`` naming `path`.
    public func write(to path: String) throws {
        try writeAtomically(try encoded(path: path), to: path)
    }

    // MARK: Reading

    /// True when the file at `path` starts with the packed-dataset magic (false when it cannot be read).
    public static func isPacked(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        var head = [UInt8](repeating: 0, count: 8)
        let got = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 8, 0) }
        return got == 8 && head == magic
    }

    /// Reads and validates a packed dataset: the file is mapped into memory and checked in one pass.
    ///
    /// - Throws: ``DataError`` naming `path`: `.fileNotFound`, `.unreadable`; `.malformed` when it is not a
    ///   packed dataset, its header or metadata is inconsistent, its checksum does not match (damaged) or bytes
    ///   follow the labels; `.truncated` when it is shorter than its header says; `.unsupported` for another
    ///   format version.
    public static func read(_ path: String) throws -> PackedDataset {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { throw DataError.fileNotFound(path: path) }
            throw DataError.unreadable(path: path, reason: systemErrorDescription(code))
        }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw DataError.unreadable(path: path, reason: systemErrorDescription())
        }
        guard ImageFolder.isRegularFile(info.st_mode) else {
            throw DataError.unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size >= 64 else {
            return try parse(try readFileBytes(path), path: path)
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapping != MAP_FAILED else {
            throw DataError.unreadable(path: path, reason: "cannot map the file: \(systemErrorDescription())")
        }
        defer { _ = munmap(mapping, size) }
        return try parse(UnsafeRawBufferPointer(start: mapping, count: size), path: path)
    }

    /// Parses packed-dataset bytes already in memory; `path` is only used in messages.
    ///
    /// - Throws: as ``read(_:)``.
    public static func parse(_ bytes: [UInt8], path: String) throws -> PackedDataset {
        try bytes.withUnsafeBytes { try parse($0, path: path) }
    }

    static func parse(_ raw: UnsafeRawBufferPointer, path: String) throws -> PackedDataset {
        let bytes = raw.bindMemory(to: UInt8.self)
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw DataError.malformed(path: path, reason: "not a SwiftGAN packed dataset (it starts with \(head), "
                                          + "not \"SGANPACK\"); make one with 'swiftgan data pack'")
        }
        guard bytes.count >= 64 else {
            throw DataError.truncated(path: path, expectedBytes: 64, actualBytes: bytes.count)
        }
        let version = get32(bytes, 8)
        guard version == formatVersion else {
            throw DataError.unsupported(path: path, reason: "packed dataset format version \(version); this SwiftGAN "
                                            + "reads version \(formatVersion); pack the images again")
        }
        let count = get32(bytes, 12), channels = get32(bytes, 16)
        let height = get32(bytes, 20), width = get32(bytes, 24)
        let flags = get32(bytes, 28), metadataLength = get32(bytes, 32)
        guard flags & ~1 == 0 else {
            throw DataError.malformed(path: path, reason: "unknown header flags \(flags)")
        }
        let hasLabels = flags & 1 != 0
        guard count > 0, (1...4).contains(channels), (1...65536).contains(height), (1...65536).contains(width) else {
            throw DataError.malformed(path: path, reason: "impossible header: \(count) images of "
                                          + "\(channels)x\(height)x\(width)")
        }
        let pixelOffset = align64(64 + metadataLength)
        let (perImage, o1) = (channels * height).multipliedReportingOverflow(by: width)
        let (pixelBytes, o2) = perImage.multipliedReportingOverflow(by: count)
        let (withLabels, o3) = pixelBytes.addingReportingOverflow(pixelOffset + (hasLabels ? 4 * count : 0))
        guard !o1, !o2, !o3 else {
            throw DataError.malformed(path: path, reason: "impossible header: \(count) images of "
                                          + "\(channels)x\(height)x\(width)")
        }
        let expected = withLabels
        guard bytes.count >= expected else {
            throw DataError.truncated(path: path, expectedBytes: expected, actualBytes: bytes.count)
        }
        guard bytes.count == expected else {
            throw DataError.malformed(path: path, reason: "\(bytes.count - expected) unexpected bytes after the data "
                                          + "(\(expected) bytes expected)")
        }
        let stored = UInt32(get32(bytes, 36))
        let computed = crc32(UnsafeBufferPointer(rebasing: bytes[64...]))
        guard stored == computed else {
            throw DataError.malformed(path: path, reason: String(format: "checksum mismatch (stored %08x, computed "
                                                                + "%08x): the file is damaged; pack the images again",
                                                                stored, computed))
        }
        let metadata: Metadata
        do {
            metadata = try JSONDecoder().decode(Metadata.self, from: Data(bytes[64..<(64 + metadataLength)]))
        } catch {
            throw DataError.malformed(path: path, reason: "the metadata is not valid JSON of the expected form")
        }
        let pixels = Array(bytes[pixelOffset..<(pixelOffset + pixelBytes)])
        var labels: [Int]?
        if hasLabels {
            let start = pixelOffset + pixelBytes
            labels = (0..<count).map { Int(Int32(bitPattern: UInt32(get32(bytes, start + 4 * $0)))) }
        }
        do {
            return try PackedDataset(count: count, channels: channels, height: height, width: width, pixels: pixels,
                                     labels: labels, classNames: metadata.classes, metadata: metadata)
        } catch let DataError.invalidDataset(reason) {
            throw DataError.malformed(path: path, reason: reason)
        }
    }

    // MARK: Helpers

    static func align64(_ value: Int) -> Int { (value + 63) / 64 * 64 }

    private static func put32(_ bytes: inout [UInt8], _ offset: Int, _ value: Int) {
        let v = UInt32(truncatingIfNeeded: value)
        bytes[offset] = UInt8(v & 0xFF)
        bytes[offset + 1] = UInt8((v >> 8) & 0xFF)
        bytes[offset + 2] = UInt8((v >> 16) & 0xFF)
        bytes[offset + 3] = UInt8(v >> 24)
    }

    private static func get32(_ bytes: UnsafeBufferPointer<UInt8>, _ offset: Int) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
    }

    /// zlib's CRC-32, in chunks that fit its 32-bit length.
    static func crc32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc: uLong = CZlib.crc32(0, nil, 0)
        var offset = 0
        while offset < bytes.count, let base = bytes.baseAddress {
            let chunk = min(bytes.count - offset, 1 << 30)
            crc = CZlib.crc32(crc, base + offset, uInt(chunk))
            offset += chunk
        }
        return UInt32(truncatingIfNeeded: crc)
    }
}
