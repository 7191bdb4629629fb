import Foundation

/// A problem with a file or folder the user gave, reported as one readable line.
///
/// Every case names the file it is about, so the command-line tool can print
/// `error: <description>` and exit without a stack trace.
public enum DataError: Error, CustomStringConvertible, Equatable {
    /// The path does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be opened or read (permissions, I/O error).
    case unreadable(path: String, reason: String)
    /// The file's contents do not follow its format; `reason` says what was expected and what was found.
    case malformed(path: String, reason: String)
    /// The file ends before the data its header promises.
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// The file is well formed but holds something this program does not support.
    case unsupported(path: String, reason: String)
    /// A file could not be written.
    case writeFailed(path: String, reason: String)
    /// A dataset request that cannot be met (empty dataset, unknown dataset name, and so on).
    case invalidDataset(String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file or directory"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .malformed(let path, let reason):
            return "\(path): malformed: \(reason)"
        case .truncated(let path, let expected, let actual):
            return "\(path): truncated: expected at least \(expected) bytes, found \(actual)"
        case .unsupported(let path, let reason):
            return "\(path): unsupported: \(reason)"
        case .writeFailed(let path, let reason):
            return "\(path): cannot write: \(reason)"
        case .invalidDataset(let message):
            return message
        }
    }
}
