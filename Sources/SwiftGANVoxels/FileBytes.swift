import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a whole file with SwiftGANData's reader (missing file: `fileNotFound`; a folder, a device or an I/O error:
/// `unreadable`), so voxel files get the same checks as every other file.
func readVoxelFileBytes(_ path: String) throws -> [UInt8] {
    try readFileBytes(path)
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
