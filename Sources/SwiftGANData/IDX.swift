import CZlib
import Foundation

/// An n-dimensional array of unsigned bytes read from or written to an IDX file.
///
/// `shape` lists the sizes slowest-varying first (for MNIST images `(count, rows, cols)`),
/// and `bytes` holds the elements in row-major (C) order, so `bytes.count` is the product of `shape`.
public struct IDXArray: Equatable, Sendable {
    /// The size of each dimension, slowest-varying first.
    public let shape: [Int]
    /// The elements in row-major order.
    public let bytes: [UInt8]

    /// Wraps `bytes` with the given `shape`. ``IDX/write(_:to:compressed:)`` checks that they agree.
    public init(shape: [Int], bytes: [UInt8]) {
        self.shape = shape
        self.bytes = bytes
    }
}

/// Reading and writing the IDX format used by MNIST, Fashion-MNIST and similar datasets.
///
/// The (decompressed) file is: two zero bytes, an element-type byte (only `0x08`, unsigned
/// byte, is supported), a byte giving the number of dimensions `n`, `n` big-endian `UInt32`
/// sizes, then the elements in row-major order. Files may be gzip-compressed; compression is
/// detected from the gzip magic bytes `1f 8b`, not from the file name.
public enum IDX {
    /// The largest number of dimensions accepted.
    public static let maxDimensions = 8
    /// The largest number of elements (bytes of data) accepted in one file: 16 GiB.
    public static let maxElementCount = 1 << 34

    /// Reads an IDX file, gzip-compressed or raw.
    ///
    /// - Throws: ``DataError/fileNotFound(path:)`` or ``DataError/unreadable(path:reason:)`` when the
    ///   file cannot be read; ``DataError/unsupported(path:reason:)`` for element types other than
    ///   unsigned byte; ``DataError/truncated(path:expectedBytes:actualBytes:)`` when the data is
    ///   shorter than the header promises; ``DataError/malformed(path:reason:)`` for a bad magic
    ///   number, bad dimension count, absurd sizes, trailing bytes, or a corrupt or cut-off gzip stream.
    public static func read(_ path: String) throws -> IDXArray {
        let data = try readFileBytes(path)
        return try data.withUnsafeBytes { raw -> IDXArray in
            if raw.count >= 2, raw[0] == 0x1F, raw[1] == 0x8B {
                let source = try GzipSource(input: raw, path: path)
                return try parse(source: source, path: path)
            }
            return try parse(source: RawSource(input: raw), path: path)
        }
    }

    /// Writes `array` as an IDX file of unsigned bytes, gzip-compressed by default.
    ///
    /// The file is written to a temporary file in the same folder and then renamed over `path`
    /// (see `writeAtomically(_:to:)`), so readers never see a half-written file. Compressed output
    /// is a single-member gzip stream with no file name and modification time 0, so equal arrays
    /// give equal files.
    ///
    /// - Throws: ``DataError/writeFailed(path:reason:)`` when the shape does not describe the bytes
    ///   (0 or more than 8 dimensions, a size above `UInt32.max`, or a product different from
    ///   `bytes.count`) or the file cannot be written.
    public static func write(_ array: IDXArray, to path: String, compressed: Bool = true) throws {
        let header = try encodeHeader(array, path: path)
        let output: [UInt8]
        if compressed {
            output = try gzipCompress([header, array.bytes], path: path)
        } else {
            output = header + array.bytes
        }
        try writeAtomically(output, to: path)
    }

    // MARK: - Header

    private static func elementTypeName(_ code: UInt8) -> String {
        switch code {
        case 0x08: return "unsigned byte"
        case 0x09: return "signed byte"
        case 0x0B: return "int16"
        case 0x0C: return "int32"
        case 0x0D: return "float32"
        case 0x0E: return "float64"
        default: return "unknown type"
        }
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
    }

    private static func encodeHeader(_ array: IDXArray, path: String) throws -> [UInt8] {
        let shape = array.shape
        guard (1...maxDimensions).contains(shape.count) else {
            throw DataError.writeFailed(
                path: path,
                reason: "an IDX array needs 1 to \(maxDimensions) dimensions, shape \(shape) has \(shape.count)")
        }
        var product = 1
        for size in shape {
            guard size >= 0, size <= Int(UInt32.max) else {
                throw DataError.writeFailed(
                    path: path, reason: "size \(size) in shape \(shape) does not fit an IDX header")
            }
            let (next, overflow) = product.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw DataError.writeFailed(path: path, reason: "shape \(shape) holds too many elements")
            }
            product = next
        }
        guard product == array.bytes.count else {
            throw DataError.writeFailed(
                path: path,
                reason: "shape \(shape) holds \(product) elements but the array has \(array.bytes.count) bytes")
        }
        var header: [UInt8] = [0, 0, 0x08, UInt8(shape.count)]
        header.reserveCapacity(4 + 4 * shape.count)
        for size in shape {
            let value = UInt32(truncatingIfNeeded: size)
            header.append(UInt8(truncatingIfNeeded: value >> 24))
            header.append(UInt8(truncatingIfNeeded: value >> 16))
            header.append(UInt8(truncatingIfNeeded: value >> 8))
            header.append(UInt8(truncatingIfNeeded: value))
        }
        return header
    }

    private static func parse<Source: IDXByteSource>(source: Source, path: String) throws -> IDXArray {
        var source = source
        var prefix = [UInt8](repeating: 0, count: 4)
        let gotPrefix = try prefix.withUnsafeMutableBytes { try source.fill($0) }
        guard gotPrefix == 4 else {
            throw DataError.malformed(path: path, reason: source.shortHeaderReason(got: gotPrefix, needed: 4))
        }
        guard prefix[0] == 0, prefix[1] == 0 else {
            throw DataError.malformed(
                path: path,
                reason: "not an IDX file: it should start with 00 00, found \(hex(prefix[0..<2]))"
                    + (source.isCompressed ? " after decompression" : ""))
        }
        guard prefix[2] == 0x08 else {
            throw DataError.unsupported(
                path: path,
                reason: "IDX element type 0x\(hex([prefix[2]])) (\(elementTypeName(prefix[2]))) is not supported; "
                    + "only 0x08 (unsigned byte) is")
        }
        let ndims = Int(prefix[3])
        guard ndims >= 1, ndims <= maxDimensions else {
            throw DataError.malformed(
                path: path, reason: "IDX header gives \(ndims) dimensions; expected 1 to \(maxDimensions)")
        }
        var sizeBytes = [UInt8](repeating: 0, count: 4 * ndims)
        let gotSizes = try sizeBytes.withUnsafeMutableBytes { try source.fill($0) }
        guard gotSizes == sizeBytes.count else {
            throw DataError.malformed(
                path: path, reason: source.shortHeaderReason(got: 4 + gotSizes, needed: 4 + 4 * ndims))
        }
        var shape: [Int] = []
        shape.reserveCapacity(ndims)
        var count = 1
        var overflowed = false
        for d in 0..<ndims {
            let b = sizeBytes[(4 * d)..<(4 * d + 4)].map { UInt32($0) }
            let size = Int((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3])
            shape.append(size)
            let (next, overflow) = count.multipliedReportingOverflow(by: size)
            if overflow { overflowed = true } else { count = next }
        }
        guard !overflowed, count <= maxElementCount else {
            throw DataError.malformed(
                path: path,
                reason: "IDX header gives shape \(shape), "
                    + "more than the \(maxElementCount) elements this reader accepts")
        }
        // Do not allocate what the file cannot possibly hold (a cut-off file, or a hostile header).
        if count > source.maximumRemainingBytes {
            let actual = try source.countRemaining(limit: Int.max)
            throw DataError.truncated(path: path, expectedBytes: count, actualBytes: actual)
        }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try bytes.withUnsafeMutableBytes { try source.fill($0) }
        guard got == count else {
            throw DataError.truncated(path: path, expectedBytes: count, actualBytes: got)
        }
        let extra = try source.countRemaining(limit: GzipSource.trailingCountLimit)
        if extra > 0 {
            let amount = extra >= GzipSource.trailingCountLimit ? "at least \(extra)" : "\(extra)"
            throw DataError.malformed(
                path: path,
                reason: "\(amount) trailing bytes after the \(count) bytes of data "
                    + "the header promises for shape \(shape)")
        }
        if let reason = source.incompleteStreamReason() {
            throw DataError.malformed(path: path, reason: reason)
        }
        return IDXArray(shape: shape, bytes: bytes)
    }

    // MARK: - Writing

    /// Gzip-compresses the concatenation of `parts` (no file name, modification time 0).
    static func gzipCompress(_ parts: [[UInt8]], path: String) throws -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer { stream.deallocate() }
        let initStatus = deflateInit2_(stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY,
                                       zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw DataError.writeFailed(path: path, reason: "zlib deflateInit2 failed with code \(initStatus)")
        }
        defer { deflateEnd(stream) }

        let chunkSize = 1 << 18
        var output: [UInt8] = []
        output.reserveCapacity(parts.reduce(0) { $0 + $1.count } / 2 + 1024)
        var chunk = [UInt8](repeating: 0, count: chunkSize)

        for (partIndex, part) in parts.enumerated() {
            let isLastPart = partIndex == parts.count - 1
            try part.withUnsafeBytes { input in
                var offset = 0
                repeat {
                    let piece = min(input.count - offset, Int(UInt32.max))
                    let isLast = isLastPart && offset + piece == input.count
                    if let base = input.baseAddress {
                        stream.pointee.next_in = UnsafeMutablePointer(
                            mutating: base.advanced(by: offset).assumingMemoryBound(to: Bytef.self))
                    }
                    stream.pointee.avail_in = UInt32(piece)
                    let flush = isLast ? Z_FINISH : Z_NO_FLUSH
                    var status: Int32 = Z_OK
                    repeat {
                        status = chunk.withUnsafeMutableBytes { out -> Int32 in
                            stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                            stream.pointee.avail_out = UInt32(out.count)
                            return deflate(stream, flush)
                        }
                        let produced = chunkSize - Int(stream.pointee.avail_out)
                        output.append(contentsOf: chunk[0..<produced])
                        if status == Z_STREAM_ERROR {
                            throw DataError.writeFailed(path: path, reason: "zlib deflate failed (stream error)")
                        }
                    } while stream.pointee.avail_out == 0 || (isLast && status != Z_STREAM_END)
                    offset += piece
                } while offset < input.count
            }
        }
        return output
    }
}

// MARK: - Byte sources

/// Where `IDX.parse` gets its decompressed bytes from.
private protocol IDXByteSource {
    /// True when the bytes come from a gzip stream.
    var isCompressed: Bool { get }
    /// Fills as much of `buffer` as possible; returns the number of bytes written (less only at the end).
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// An upper bound on the number of bytes still to come.
    var maximumRemainingBytes: Int { get }
    /// Counts (and consumes) the bytes that are left, stopping once `limit` is reached.
    mutating func countRemaining(limit: Int) throws -> Int
    /// Explains why the header could not be read in full.
    func shortHeaderReason(got: Int, needed: Int) -> String
    /// A reason when the data was complete but its container was not; nil when all is well.
    func incompleteStreamReason() -> String?
}

private struct RawSource: IDXByteSource {
    let input: UnsafeRawBufferPointer
    var offset = 0

    init(input: UnsafeRawBufferPointer) {
        self.input = input
    }

    var isCompressed: Bool { false }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, input.count - offset)
        if n > 0, let destination = buffer.baseAddress, let source = input.baseAddress {
            destination.copyMemory(from: source.advanced(by: offset), byteCount: n)
        }
        offset += max(n, 0)
        return max(n, 0)
    }

    var maximumRemainingBytes: Int { input.count - offset }

    mutating func countRemaining(limit: Int) throws -> Int {
        let n = input.count - offset
        offset = input.count
        return n
    }

    func shortHeaderReason(got: Int, needed: Int) -> String {
        if input.count == 0 { return "the file is empty" }
        return "the file is \(input.count) bytes long, too short for its IDX header (\(needed) bytes)"
    }

    func incompleteStreamReason() -> String? { nil }
}

/// Streams the decompressed bytes of a (possibly multi-member) gzip file through zlib's inflate.
private final class GzipSource: IDXByteSource {
    /// `countRemaining` stops counting trailing bytes here, to bound the work a gzip bomb can cause.
    static let trailingCountLimit = 64 << 20

    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeRawBufferPointer
    private let path: String
    private var inputOffset = 0
    private var streamEnded = false
    private var inputExhausted = false
    private var produced = 0

    init(input: UnsafeRawBufferPointer, path: String) throws {
        self.input = input
        self.path = path
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 32: largest window, and detect the gzip (or zlib) header automatically.
        let status = inflateInit2_(stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw DataError.unreadable(path: path, reason: "zlib inflateInit2 failed with code \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
    }

    var isCompressed: Bool { true }

    private var unconsumedInput: Int { input.count - inputOffset + Int(stream.pointee.avail_in) }

    private func feedInput() {
        guard stream.pointee.avail_in == 0, inputOffset < input.count, let base = input.baseAddress else { return }
        let piece = min(input.count - inputOffset, Int(UInt32.max))
        stream.pointee.next_in = UnsafeMutablePointer(
            mutating: base.advanced(by: inputOffset).assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(piece)
        inputOffset += piece
    }

    private func zlibMessage() -> String {
        if let message = stream.pointee.msg { return String(cString: message) }
        return "no detail from zlib"
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var written = 0
        while written < buffer.count {
            if streamEnded {
                // Another gzip member may follow (as `gzip -dc` allows); anything else is an error.
                let left = unconsumedInput
                if left == 0 { return written }
                feedInput()
                let next = stream.pointee.next_in
                if stream.pointee.avail_in >= 2, let next, next[0] == 0x1F, next[1] == 0x8B {
                    inflateReset(stream)
                    streamEnded = false
                } else {
                    throw DataError.malformed(
                        path: path, reason: "\(left) bytes of unexpected data after the end of the gzip stream")
                }
            }
            feedInput()
            let room = min(buffer.count - written, Int(UInt32.max))
            stream.pointee.next_out = base.advanced(by: written).assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(room)
            let status = inflate(stream, Z_NO_FLUSH)
            let made = room - Int(stream.pointee.avail_out)
            written += made
            produced += made
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                streamEnded = true
            case Z_BUF_ERROR:
                if unconsumedInput == 0 {
                    inputExhausted = true
                    return written
                }
                throw DataError.malformed(path: path, reason: "corrupt gzip stream: inflate could not make progress")
            case Z_DATA_ERROR, Z_NEED_DICT:
                throw DataError.malformed(path: path, reason: "corrupt gzip stream: \(zlibMessage())")
            case Z_MEM_ERROR:
                throw DataError.unreadable(path: path, reason: "out of memory while decompressing")
            default:
                throw DataError.malformed(path: path, reason: "gzip stream error \(status): \(zlibMessage())")
            }
        }
        return written
    }

    /// Deflate cannot expand data by more than about 1032 to 1; allow some slack.
    var maximumRemainingBytes: Int {
        let (bound, overflow) = unconsumedInput.multipliedReportingOverflow(by: 1100)
        return overflow ? Int.max : bound + (1 << 16)
    }

    func countRemaining(limit: Int) throws -> Int {
        var scratch = [UInt8](repeating: 0, count: 1 << 16)
        var total = 0
        while total < limit {
            let n = try scratch.withUnsafeMutableBytes { try fill($0) }
            if n == 0 { break }
            total += n
        }
        return total
    }

    func shortHeaderReason(got: Int, needed: Int) -> String {
        if inputExhausted {
            return "gzip stream is truncated: the compressed data (\(input.count) bytes) ends after \(got) "
                + "decompressed bytes, inside the IDX header (\(needed) bytes)"
        }
        return "the decompressed data is \(got) bytes long, too short for its IDX header (\(needed) bytes)"
    }

    func incompleteStreamReason() -> String? {
        guard inputExhausted || !streamEnded else { return nil }
        return "gzip stream is truncated: all \(produced) bytes of data are present, "
            + "but the compressed file (\(input.count) bytes) ends before the gzip trailer (checksum and length)"
    }
}
