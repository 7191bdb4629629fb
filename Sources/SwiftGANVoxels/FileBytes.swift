import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file, mapping failures to `DataError` cases that name `path`.
///
/// A missing file is `fileNotFound`; a folder, a permission problem or an I/O error is `unreadable`.
func readVoxelFileBytes(_ path: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw DataError.unreadable(path: path, reason: "is a directory")
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        let code = errno
        if code == ENOENT { throw DataError.fileNotFound(path: path) }
        throw DataError.unreadable(path: path, reason: errorText(code))
    }
    defer { _ = close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = chunk.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return read(fd, base, raw.count)
        }
        if count < 0 {
            let code = errno
            if code == EINTR { continue }
            throw DataError.unreadable(path: path, reason: errorText(code))
        }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return bytes
}

/// The system's text for an error number.
private func errorText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text)
}

/// Little-endian byte output used by the binary writers.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func append(_ text: String) { bytes.append(contentsOf: Array(text.utf8)) }
    mutating func append(uint8 value: UInt8) { bytes.append(value) }
    mutating func append(uint16 value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value))
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
    }
    mutating func append(uint32 value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
    mutating func append(int32 value: Int32) { append(uint32: UInt32(bitPattern: value)) }
    mutating func append(float value: Float) { append(uint32: value.bitPattern) }
}
