import XCTest
import SwiftGANData

/// The `DataError` that `body` throws, or nil after recording a failure (no error, or another kind of error).
func dataError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> DataError? {
    do {
        try body()
        XCTFail("expected an error", file: file, line: line)
    } catch let error as DataError {
        return error
    } catch {
        XCTFail("expected a DataError, got \(error)", file: file, line: line)
    }
    return nil
}
