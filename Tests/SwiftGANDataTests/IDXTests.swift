import Foundation
import XCTest

@testable import SwiftGANData

/// Helpers shared by the IDX and dataset tests.
enum IDXTestSupport {
    /// The folder of real datasets next to the package (`../shared/data`), found from this file's path.
    static func sharedDataFolder() -> URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // …/Tests/SwiftGANDataTests
            .deletingLastPathComponent()  // …/Tests
            .deletingLastPathComponent()  // the package root
            .deletingLastPathComponent()  // the folder holding the package (and shared/)
            .appendingPathComponent("shared/data")
    }

    /// Deterministic pseudo-random bytes for test payloads.
    static func testBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededRandomNumberGenerator(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next() >> 56) }
    }

    /// The raw (uncompressed) IDX encoding of `shape` and `payload`, built by hand so the tests do not
    /// depend on the writer.
    static func rawIDX(type: UInt8 = 0x08, shape: [UInt32], payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for size in shape {
            bytes += [UInt8(size >> 24), UInt8((size >> 16) & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)]
        }
        return bytes + payload
    }
}

final class IDXTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("idx-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String {
        folder.appendingPathComponent(name).path
    }

    private func store(_ bytes: [UInt8], as name: String) throws -> String {
        let file = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    private func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        try IDX.gzipCompress([bytes], path: "memory")
    }

    /// Runs `IDX.read` and returns the `DataError` it throws, failing the test if it does not throw one.
    private func readError(_ file: String, line: UInt = #line) -> DataError? {
        do {
            let array = try IDX.read(file)
            XCTFail("expected an error, read shape \(array.shape)", line: line)
            return nil
        } catch let error as DataError {
            return error
        } catch {
            XCTFail("expected a DataError, got \(error)", line: line)
            return nil
        }
    }

    private func assertMalformed(_ file: String, containing text: String, line: UInt = #line) {
        guard let error = readError(file, line: line) else { return }
        guard case .malformed(let errorPath, let reason) = error else {
            return XCTFail("expected .malformed, got \(error)", line: line)
        }
        XCTAssertEqual(errorPath, file, line: line)
        XCTAssertTrue(reason.contains(text), "reason '\(reason)' lacks '\(text)'", line: line)
    }

    // MARK: Round trips

    func testRoundTripCompressedAndRaw() throws {
        let shapes: [[Int]] = [[7], [3, 4, 5], [2, 3, 4, 5], [10, 28, 28], [0], [4, 0, 3], [1, 1, 1, 1, 1, 1, 1, 2]]
        for (index, shape) in shapes.enumerated() {
            let count = shape.reduce(1, *)
            let array = IDXArray(shape: shape, bytes: IDXTestSupport.testBytes(count, seed: UInt64(index)))
            for compressed in [true, false] {
                let file = path("a\(index)-\(compressed).idx")
                try IDX.write(array, to: file, compressed: compressed)
                let stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
                if compressed {
                    XCTAssertEqual(Array(stored.prefix(2)), [0x1F, 0x8B], "gzip magic for \(shape)")
                } else {
                    XCTAssertEqual(stored.count, 4 + 4 * shape.count + count)
                    XCTAssertEqual(Array(stored.prefix(4)), [0, 0, 8, UInt8(shape.count)])
                }
                let back = try IDX.read(file)
                XCTAssertEqual(back.shape, shape)
                XCTAssertEqual(back.bytes, array.bytes, "bytes for \(shape), compressed \(compressed)")
            }
        }
    }

    func testLargeDimensionSizesAreBigEndian() throws {
        let array = IDXArray(shape: [1, 300, 2], bytes: IDXTestSupport.testBytes(600, seed: 9))
        let file = path("big.idx")
        try IDX.write(array, to: file, compressed: false)
        let stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        XCTAssertEqual(Array(stored[8..<12]), [0, 0, 1, 44])  // 300 = 0x012C
        XCTAssertEqual(try IDX.read(file), array)
    }

    func testCompressedWriteIsDeterministicAndLeavesNoTemporaryFiles() throws {
        let array = IDXArray(shape: [20, 28, 28], bytes: IDXTestSupport.testBytes(20 * 28 * 28, seed: 3))
        try IDX.write(array, to: path("one.gz"))
        try IDX.write(array, to: path("two.gz"))
        let one = try Data(contentsOf: URL(fileURLWithPath: path("one.gz")))
        let two = try Data(contentsOf: URL(fileURLWithPath: path("two.gz")))
        XCTAssertEqual(one, two)
        // Overwriting an existing file works and only the two files remain.
        try IDX.write(IDXArray(shape: [2], bytes: [1, 2]), to: path("one.gz"))
        XCTAssertEqual(try IDX.read(path("one.gz")).bytes, [1, 2])
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(names, ["one.gz", "two.gz"])
    }

    func testOutputIsStandardGzip() throws {
        let gzipTool = "/bin/gzip"
        guard FileManager.default.isExecutableFile(atPath: gzipTool) else {
            throw XCTSkip("\(gzipTool) is not installed")
        }
        let array = IDXArray(shape: [3, 5], bytes: IDXTestSupport.testBytes(15, seed: 11))
        let file = path("std.gz")
        try IDX.write(array, to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: gzipTool)
        process.arguments = ["-dc", file]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertEqual([UInt8](output), IDXTestSupport.rawIDX(shape: [3, 5], payload: array.bytes))
    }

    func testReadsMultiMemberGzip() throws {
        let payload = IDXTestSupport.testBytes(40, seed: 5)
        let raw = IDXTestSupport.rawIDX(shape: [4, 10], payload: payload)
        let file = try store(try gzip(Array(raw[0..<13])) + gzip(Array(raw[13...])), as: "multi.gz")
        let array = try IDX.read(file)
        XCTAssertEqual(array.shape, [4, 10])
        XCTAssertEqual(array.bytes, payload)
    }

    func testWriteRejectsInconsistentShape() throws {
        let cases: [IDXArray] = [
            IDXArray(shape: [2, 3], bytes: [1, 2, 3]),
            IDXArray(shape: [], bytes: []),
            IDXArray(shape: Array(repeating: 1, count: 9), bytes: [0]),
            IDXArray(shape: [-1], bytes: []),
        ]
        for array in cases {
            let file = path("bad.idx")
            XCTAssertThrowsError(try IDX.write(array, to: file)) { error in
                guard case .writeFailed(let errorPath, _) = error as? DataError else {
                    return XCTFail("expected writeFailed for \(array.shape), got \(error)")
                }
                XCTAssertEqual(errorPath, file)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: file))
        }
    }

    // MARK: Malformed files

    func testMissingEmptyAndDirectory() throws {
        let missing = path("nope.gz")
        XCTAssertEqual(readError(missing), .fileNotFound(path: missing))
        assertMalformed(try store([], as: "empty"), containing: "empty")
        assertMalformed(try store([0, 0], as: "short"), containing: "too short for its IDX header")
        guard case .unreadable? = readError(folder.path) else { return XCTFail("a directory should be unreadable") }
    }

    func testBadMagic() throws {
        var raw = IDXTestSupport.rawIDX(shape: [2], payload: [1, 2])
        raw[0] = 0x01
        assertMalformed(try store(raw, as: "magic.raw"), containing: "should start with 00 00, found 01 00")
        assertMalformed(try store(try gzip(raw), as: "magic.gz"), containing: "after decompression")
        // A gzip file whose first magic byte is flipped is no longer recognised as gzip.
        var gz = try gzip(IDXTestSupport.rawIDX(shape: [2], payload: [1, 2]))
        gz[0] ^= 0x01
        assertMalformed(try store(gz, as: "flipped.gz"), containing: "found 1e 8b")
    }

    func testUnsupportedElementTypes() throws {
        for (type, name) in [(UInt8(0x0D), "float32"), (0x0C, "int32"), (0x09, "signed byte"), (0x42, "unknown")] {
            let raw = IDXTestSupport.rawIDX(type: type, shape: [1], payload: [0, 0, 0, 0])
            let file = try store(try gzip(raw), as: "t\(type).gz")
            guard case .unsupported(let errorPath, let reason)? = readError(file) else {
                XCTFail("type \(type) should be unsupported")
                continue
            }
            XCTAssertEqual(errorPath, file)
            XCTAssertTrue(reason.contains(String(format: "0x%02x", type)), reason)
            XCTAssertTrue(reason.contains(name), reason)
        }
    }

    func testBadDimensionCounts() throws {
        assertMalformed(try store([0, 0, 8, 0], as: "d0"), containing: "0 dimensions")
        assertMalformed(try store(IDXTestSupport.rawIDX(shape: Array(repeating: 1, count: 9), payload: [7]), as: "d9"),
                        containing: "9 dimensions")
        // Header cut off inside the sizes.
        assertMalformed(try store([0, 0, 8, 3, 0, 0, 0, 2, 0, 0], as: "sizes"), containing: "IDX header (16 bytes)")
    }

    func testAbsurdAndOverflowingSizes() throws {
        let overflow = IDXTestSupport.rawIDX(shape: [UInt32.max, UInt32.max, UInt32.max, UInt32.max], payload: [])
        assertMalformed(try store(overflow, as: "overflow"), containing: "more than")
        let absurd = IDXTestSupport.rawIDX(shape: [65536, 65536, 16], payload: [1, 2, 3])
        assertMalformed(try store(try gzip(absurd), as: "absurd.gz"), containing: "more than")
    }

    func testDataShorterThanHeader() throws {
        let raw = IDXTestSupport.rawIDX(shape: [2, 3], payload: [1, 2, 3, 4, 5])
        for (name, bytes) in [("short.raw", raw), ("short.gz", try gzip(raw))] {
            let file = try store(bytes, as: name)
            XCTAssertEqual(readError(file), .truncated(path: file, expectedBytes: 6, actualBytes: 5))
        }
    }

    func testHugeHeaderOverShortDataIsTruncatedWithoutAllocating() throws {
        let raw = IDXTestSupport.rawIDX(shape: [1 << 16, 1 << 16, 2], payload: [1, 2, 3, 4, 5])
        for (name, bytes) in [("huge.raw", raw), ("huge.gz", try gzip(raw))] {
            let file = try store(bytes, as: name)
            XCTAssertEqual(readError(file), .truncated(path: file, expectedBytes: 1 << 33, actualBytes: 5))
        }
    }

    func testDataLongerThanHeader() throws {
        let raw = IDXTestSupport.rawIDX(shape: [2, 3], payload: [1, 2, 3, 4, 5, 6, 7, 8])
        assertMalformed(try store(raw, as: "long.raw"), containing: "2 trailing bytes")
        assertMalformed(try store(try gzip(raw), as: "long.gz"), containing: "2 trailing bytes")
    }

    func testTruncatedGzipAtSeveralPoints() throws {
        // Random bytes do not compress, so a cut in the middle loses decompressed data.
        let payload = IDXTestSupport.testBytes(20_000, seed: 21)
        let full = try gzip(IDXTestSupport.rawIDX(shape: [20, 1000], payload: payload))
        XCTAssertEqual(try IDX.read(try store(full, as: "full.gz")).bytes, payload)

        // Inside the 10-byte gzip header: not even the IDX header comes out.
        for cut in [2, 5, 10] {
            assertMalformed(try store(Array(full.prefix(cut)), as: "cut\(cut).gz"),
                            containing: "gzip stream is truncated")
        }
        // In the middle of the compressed data: the element data is short.
        for cut in [full.count / 4, full.count / 2, full.count - 100] {
            let file = try store(Array(full.prefix(cut)), as: "cut\(cut).gz")
            guard case .truncated(let errorPath, let expected, let actual)? = readError(file) else {
                XCTFail("cut at \(cut) of \(full.count) should be .truncated")
                continue
            }
            XCTAssertEqual(errorPath, file)
            XCTAssertEqual(expected, 20_000)
            XCTAssertLessThan(actual, 20_000)
            XCTAssertGreaterThan(actual, 0)
        }
        // Inside the 8-byte trailer: all data is there but the checksum is not.
        for cut in [full.count - 1, full.count - 4, full.count - 8] {
            assertMalformed(try store(Array(full.prefix(cut)), as: "cut\(cut).gz"), containing: "gzip trailer")
        }
        // Every possible cut is reported as an error, never read as a valid array.
        for cut in stride(from: 1, to: full.count, by: 97) {
            let file = try store(Array(full.prefix(cut)), as: "any.gz")
            XCTAssertThrowsError(try IDX.read(file), "cut at \(cut)")
        }
    }

    func testCorruptGzip() throws {
        let payload = IDXTestSupport.testBytes(5000, seed: 8)
        let full = try gzip(IDXTestSupport.rawIDX(shape: [5000], payload: payload))
        // A changed CRC32 in the trailer.
        var badChecksum = full
        badChecksum[full.count - 6] ^= 0xFF
        assertMalformed(try store(badChecksum, as: "crc.gz"), containing: "corrupt gzip stream")
        // A changed byte in the deflate data: either invalid codes or a checksum mismatch.
        var badBody = full
        badBody[full.count / 2] ^= 0x5A
        assertMalformed(try store(badBody, as: "body.gz"), containing: "corrupt gzip stream")
        // An invalid block type right after the header.
        var badBlock = full
        badBlock[10] = 0x07  // final block, type 3 (reserved)
        assertMalformed(try store(badBlock, as: "block.gz"), containing: "corrupt gzip stream")
        // Junk after the end of the gzip stream.
        assertMalformed(try store(full + [1, 2, 3], as: "junk.gz"), containing: "3 bytes of unexpected data")
    }

    // MARK: Real data

    func testRealFashionMNISTTestSet() throws {
        let data = IDXTestSupport.sharedDataFolder().appendingPathComponent("fashion-mnist")
        let images = data.appendingPathComponent("t10k-images-idx3-ubyte.gz").path
        let labels = data.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path
        guard FileManager.default.fileExists(atPath: images), FileManager.default.fileExists(atPath: labels) else {
            throw XCTSkip("Fashion-MNIST test files not found under \(data.path)")
        }
        let imageArray = try IDX.read(images)
        XCTAssertEqual(imageArray.shape, [10000, 28, 28])
        XCTAssertEqual(imageArray.bytes.count, 10000 * 28 * 28)
        XCTAssertEqual(imageArray.bytes.max(), 255)
        XCTAssertEqual(imageArray.bytes.min(), 0)
        let labelArray = try IDX.read(labels)
        XCTAssertEqual(labelArray.shape, [10000])
        var perClass = [Int](repeating: 0, count: 256)
        for label in labelArray.bytes { perClass[Int(label)] += 1 }
        XCTAssertEqual(Array(perClass[0..<10]), Array(repeating: 1000, count: 10))
        XCTAssertEqual(perClass[10...].reduce(0, +), 0)
    }
}
