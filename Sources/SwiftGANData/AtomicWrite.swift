import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `data` to `path` so that readers see either the old file or the complete new one.
///
/// The bytes go to a uniquely named temporary file in the destination's folder
/// (`.<name>.tmp-<pid>-<random>`), which is flushed to disk with `fsync` and then renamed
/// over `path`. A missing parent folder is created first. On any failure the temporary
/// file is removed and the destination is left as it was.
///
/// - Throws: `DataError.writeFailed` naming `path` and the system's reason.
public func writeAtomically(_ data: Data, to path: String) throws {
    try data.withUnsafeBytes { buffer in
        try writeAtomically(buffer, to: path)
    }
}

/// Writes `bytes` to `path` atomically; see `writeAtomically(_:to:)` for `Data`.
///
/// - Throws: `DataError.writeFailed` naming `path` and the system's reason.
public func writeAtomically(_ bytes: [UInt8], to path: String) throws {
    try bytes.withUnsafeBytes { buffer in
        try writeAtomically(buffer, to: path)
    }
}

/// The text for the current `errno` (or a given error number).
func systemErrorDescription(_ code: Int32 = errno) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text)
}

private func writeAtomically(_ buffer: UnsafeRawBufferPointer, to path: String) throws {
    guard !path.isEmpty else {
        throw DataError.writeFailed(path: path, reason: "empty path")
    }
    let url = URL(fileURLWithPath: path)
    let fileName = url.lastPathComponent
    let directory = url.deletingLastPathComponent().path

    // Create the parent folder if it is missing.
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
        if !isDirectory.boolValue {
            throw DataError.writeFailed(path: path, reason: "\(directory) is not a directory")
        }
    } else {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            // Another process may have created it in the meantime.
            if !(FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
                && isDirectory.boolValue) {
                throw DataError.writeFailed(
                    path: path, reason: "cannot create directory \(directory): \(error.localizedDescription)")
            }
        }
    }

    let tempPath = (directory as NSString).appendingPathComponent(
        ".\(fileName).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")

    let fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
    if fd < 0 {
        throw DataError.writeFailed(
            path: path, reason: "cannot create temporary file \(tempPath): \(systemErrorDescription())")
    }

    func fail(_ what: String, _ code: Int32, closing: Bool) -> DataError {
        if closing { _ = close(fd) }
        _ = unlink(tempPath)
        return DataError.writeFailed(path: path, reason: "\(what): \(systemErrorDescription(code))")
    }

    var offset = 0
    while offset < buffer.count {
        guard let base = buffer.baseAddress else { break }
        let written = write(fd, base + offset, buffer.count - offset)
        if written < 0 {
            let code = errno
            if code == EINTR { continue }
            throw fail("write", code, closing: true)
        }
        if written == 0 {
            throw fail("write made no progress", EIO, closing: true)
        }
        offset += written
    }
    if fsync(fd) != 0 {
        throw fail("fsync", errno, closing: true)
    }
    if close(fd) != 0 {
        throw fail("close", errno, closing: false)
    }
    if rename(tempPath, path) != 0 {
        throw fail("rename", errno, closing: false)
    }
    // Best effort: make the rename itself durable.
    let directoryFD = open(directory, O_RDONLY | O_CLOEXEC)
    if directoryFD >= 0 {
        _ = fsync(directoryFD)
        _ = close(directoryFD)
    }
}

/// Reads a whole file into memory, mapping failures to `DataError` cases that name `path`.
///
/// A missing file is `fileNotFound`; anything else (a folder, no permission, an I/O error)
/// is `unreadable` with the system's reason.
public func readFileBytes(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        let code = errno
        if code == ENOENT { throw DataError.fileNotFound(path: path) }
        throw DataError.unreadable(path: path, reason: systemErrorDescription(code))
    }
    defer { _ = close(fd) }
    var bytes: [UInt8] = []
    var info = stat()
    if fstat(fd, &info) == 0 {
        // Devices and pipes (/dev/zero) could be read forever.
        if (info.st_mode & S_IFMT) == S_IFDIR { throw DataError.unreadable(path: path, reason: "it is a folder, not a file") }
        if (info.st_mode & S_IFMT) != S_IFREG { throw DataError.unreadable(path: path, reason: "not a regular file") }
        if info.st_size > 0 { bytes.reserveCapacity(Int(info.st_size)) }
    }
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = chunk.withUnsafeMutableBytes { raw -> Int in
            guard let base = raw.baseAddress else { return 0 }
            return read(fd, base, raw.count)
        }
        if count < 0 {
            let code = errno
            if code == EINTR { continue }
            throw DataError.unreadable(path: path, reason: systemErrorDescription(code))
        }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[0..<count])
    }
    return bytes
}
