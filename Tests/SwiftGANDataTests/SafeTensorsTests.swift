import Foundation
import XCTest
@testable import SwiftGANData

final class SafeTensorsTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try FileFormatTestHelpers.makeScratchDirectory("safetensors")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static let fixturePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tiny.safetensors").path

    /// Little-endian float bytes.
    private func floatBytes(_ values: [Float]) -> [UInt8] {
        values.flatMap { value -> [UInt8] in
            let bits = value.bitPattern
            return (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) }
        }
    }

    /// A file with the given header length field, header text and data bytes.
    private func writeRaw(_ name: String, header: String, data: [UInt8] = [],
                          lengthField: UInt64? = nil) throws -> String {
        let headerBytes = Array(header.utf8)
        let length = lengthField ?? UInt64(headerBytes.count)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
        bytes += headerBytes + data
        let path = "\(directory)/\(name).safetensors"
        try writeAtomically(bytes, to: path)
        return path
    }

    // MARK: Round trips and layout

    func testRoundTripWithMetadata() throws {
        let original = SafeTensorsFile(
            tensors: [
                "generator.0.weight": NamedArray(shape: [2, 3], values: [1, -2, 3.5, 0, -0.0, Float(bitPattern: 1)]),
                "discriminator.bias": NamedArray(shape: [4], values: [.infinity, -.infinity, .pi, 65504]),
                "step": NamedArray(shape: [], values: [3.5]),
                "empty": NamedArray(shape: [0, 5], values: []),
                "ünïcode \"name\"": NamedArray(shape: [1, 1, 1], values: [42]),
            ],
            metadata: ["epoch": "12", "note": "line 1\nline \"2\" \\ ü\u{1}", "": "empty key"])
        let path = "\(directory)/model.safetensors"
        try original.write(to: path)
        let back = try SafeTensorsFile.read(path)
        XCTAssertEqual(back, original)
        XCTAssertEqual(back.tensors["generator.0.weight"]?.values.map(\.bitPattern),
                       original.tensors["generator.0.weight"]?.values.map(\.bitPattern),
                       "-0.0 and subnormals must survive bit for bit")

        // The header length is a multiple of 8 and the header is space-padded JSON.
        let bytes = try readFileBytes(path)
        let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(bytes[8], UInt8(ascii: "{"))
        let header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{\"__metadata__\":{\"\":\"empty key\",\"epoch\":\"12\",\"note\":"), header)
        // Tensors are laid out in sorted name order.
        let order = ["discriminator.bias", "empty", "generator.0.weight", "step", "ünïcode \\\"name\\\""]
        let positions = order.compactMap { header.range(of: "\"\($0)\":")?.lowerBound }
        XCTAssertEqual(positions.count, order.count, header)
        XCTAssertEqual(positions, positions.sorted())
        XCTAssertTrue(header.contains("\"discriminator.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}"))
        XCTAssertTrue(header.contains("\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[16,16]}"))
        XCTAssertTrue(header.contains("\"step\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[40,44]}"))
        XCTAssertEqual(bytes.count, 8 + headerLength + 48)
    }

    func testExactBytesForOneTensor() throws {
        let file = SafeTensorsFile(tensors: ["a": NamedArray(shape: [2], values: [1.0, -2.0])])
        let json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"  // 54 bytes
        let expected: [UInt8] = [56, 0, 0, 0, 0, 0, 0, 0] + Array(json.utf8) + [0x20, 0x20]
            + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]
        XCTAssertEqual(try file.serialized(), expected)
        let path = "\(directory)/one.safetensors"
        try file.write(to: path)
        XCTAssertEqual(try readFileBytes(path), expected)
    }

    func testWritingIsReproducible() throws {
        var a = SafeTensorsFile(metadata: ["z": "1", "a": "2"])
        var b = SafeTensorsFile(metadata: ["a": "2", "z": "1"])
        for name in ["x", "b", "m", "a10", "a9"] {
            a.tensors[name] = NamedArray(shape: [1], values: [Float(name.count)])
        }
        for name in ["a9", "a10", "m", "b", "x"] {
            b.tensors[name] = NamedArray(shape: [1], values: [Float(name.count)])
        }
        XCTAssertEqual(try a.serialized(), try b.serialized())
        XCTAssertEqual(try a.serialized(), try a.serialized())
    }

    func testEmptyFileRoundTrips() throws {
        let path = "\(directory)/empty.safetensors"
        try SafeTensorsFile().write(to: path)
        XCTAssertEqual(try readFileBytes(path), [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        XCTAssertEqual(try SafeTensorsFile.read(path), SafeTensorsFile())
    }

    func testReadsFixtureWrittenByPythonPackage() throws {
        // Written by scripts/fixtures/make_safetensors_fixture.py (safetensors.numpy.save_file).
        let file = try SafeTensorsFile.read(Self.fixturePath)
        XCTAssertEqual(file.metadata, ["format": "np", "epoch": "3"])
        XCTAssertEqual(Set(file.tensors.keys), ["generator.weight", "generator.bias", "step"])
        XCTAssertEqual(file.tensors["generator.weight"],
                       NamedArray(shape: [2, 3], values: [-0.5, -0.25, 0, 0.25, 0.5, 0.75]))
        XCTAssertEqual(file.tensors["generator.bias"], NamedArray(shape: [3], values: [1.5, -2, 3.25]))
        XCTAssertEqual(file.tensors["step"], NamedArray(shape: [], values: [7]))
    }

    // MARK: Write errors

    func testWriteRejectsInconsistentTensors() {
        let path = "\(directory)/bad.safetensors"
        let bad: [(String, SafeTensorsFile)] = [
            ("count mismatch", SafeTensorsFile(tensors: ["w": NamedArray(shape: [2, 2], values: [1, 2, 3])])),
            ("negative dim", SafeTensorsFile(tensors: ["w": NamedArray(shape: [-1], values: [])])),
            ("reserved name", SafeTensorsFile(tensors: ["__metadata__": NamedArray(shape: [1], values: [1])])),
        ]
        for (label, file) in bad {
            XCTAssertThrowsError(try file.write(to: path), label) { error in
                guard case .writeFailed(let errorPath, _)? = error as? DataError else {
                    return XCTFail("\(label): expected .writeFailed, got \(error)")
                }
                XCTAssertEqual(errorPath, path)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    // MARK: Malformed files

    /// Asserts that reading `path` fails with an error naming it whose description contains `fragment`.
    private func assertReadFails(_ path: String, _ fragment: String, kind: String,
                                 file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile.read(path), file: file, line: line) { error in
            guard let dataError = error as? DataError else {
                return XCTFail("not a DataError: \(error)", file: file, line: line)
            }
            let description = dataError.description
            XCTAssertTrue(description.hasPrefix(path + ": " + kind), description, file: file, line: line)
            XCTAssertTrue(description.contains(fragment), "\(description) lacks \(fragment)", file: file, line: line)
        }
    }

    func testMissingFile() {
        let path = "\(directory)/missing.safetensors"
        XCTAssertThrowsError(try SafeTensorsFile.read(path)) { error in
            XCTAssertEqual(error as? DataError, .fileNotFound(path: path))
        }
    }

    func testShorterThanEightBytes() throws {
        let path = "\(directory)/short.safetensors"
        try writeAtomically([1, 2, 3], to: path)
        assertReadFails(path, "3 bytes", kind: "malformed")
    }

    func testHeaderLengthLargerThanFile() throws {
        let path = try writeRaw("long", header: "{}      ", lengthField: 1000)
        XCTAssertThrowsError(try SafeTensorsFile.read(path)) { error in
            XCTAssertEqual(error as? DataError, .truncated(path: path, expectedBytes: 1008, actualBytes: 16))
        }
        let huge = try writeRaw("huge", header: "{}      ", lengthField: UInt64.max)
        assertReadFails(huge, "found 16", kind: "truncated")
        let zero = try writeRaw("zero", header: "", lengthField: 0)
        assertReadFails(zero, "header length is 0", kind: "malformed")
    }

    func testInvalidJSON() throws {
        assertReadFails(try writeRaw("json", header: "{\"a\": {\"dtype\": \"F32\",   "), "not valid JSON",
                        kind: "malformed")
        assertReadFails(try writeRaw("array", header: "[1, 2, 3]"), "'{'", kind: "malformed")
        assertReadFails(try writeRaw("escape", header: "{\"\\uZZZZ\": 1}"),
                        "not valid JSON", kind: "malformed")
        assertReadFails(try writeRaw("notobject", header: "{\"a\": 5}"), "tensor 'a' is not a JSON object",
                        kind: "malformed")
    }

    func testUnsupportedDtypeNamesDtypeAndTensor() throws {
        let path = try writeRaw("f16", header: "{\"half\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
                                data: [0, 60, 0, 60])
        assertReadFails(path, "tensor 'half' has dtype F16", kind: "unsupported")
    }

    func testBadShapesAndOffsets() throws {
        let eight = floatBytes([1, 2])
        assertReadFails(try writeRaw("mismatch", header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                                     data: eight), "tensor 'w': shape [3]", kind: "malformed")
        assertReadFails(try writeRaw("negative", header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}",
                                     data: eight), "non-negative integers", kind: "malformed")
        assertReadFails(try writeRaw("fraction", header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}",
                                     data: eight), "non-negative integers", kind: "malformed")
        assertReadFails(try writeRaw("backwards", header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}",
                                     data: eight), "run backwards", kind: "malformed")
        assertReadFails(try writeRaw("threeoffsets", header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}",
                                     data: eight), "data_offsets", kind: "malformed")
        assertReadFails(try writeRaw("nodtype", header: "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}",
                                     data: eight), "dtype", kind: "malformed")
        assertReadFails(try writeRaw("overflow", header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}",
                                     data: eight), "too many", kind: "malformed")
    }

    func testOffsetsOutOfBounds() throws {
        let header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}"
        let path = try writeRaw("oob", header: header, data: floatBytes([1, 2]))
        let headerCount = header.utf8.count
        XCTAssertThrowsError(try SafeTensorsFile.read(path)) { error in
            XCTAssertEqual(error as? DataError,
                           .truncated(path: path, expectedBytes: 8 + headerCount + 16, actualBytes: 8 + headerCount + 8))
        }
    }

    func testOverlappingGapsAndUncoveredBytes() throws {
        let overlap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}"
        assertReadFails(try writeRaw("overlap", header: overlap, data: floatBytes([1, 2, 3])),
                        "overlaps tensor 'a'", kind: "malformed")
        let gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}"
        assertReadFails(try writeRaw("gap", header: gap, data: floatBytes([1, 2, 3, 4, 5])),
                        "bytes 8..<12", kind: "malformed")
        let trailing = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
        assertReadFails(try writeRaw("trailing", header: trailing, data: floatBytes([1, 2, 3])),
                        "cover only 8", kind: "malformed")
        // Two tensors at the same place.
        let same = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"
        assertReadFails(try writeRaw("same", header: same, data: floatBytes([1, 2])), "overlaps",
                        kind: "malformed")
    }

    func testMetadataValuesMustBeStrings() throws {
        assertReadFails(try writeRaw("meta", header: "{\"__metadata__\":{\"epoch\":3}}"),
                        "value for 'epoch' is a number, not a string", kind: "malformed")
        assertReadFails(try writeRaw("meta2", header: "{\"__metadata__\":[\"x\"]}"),
                        "__metadata__ is not a JSON object", kind: "malformed")
        // Well-formed metadata with trailing spaces and no tensors is fine.
        let ok = try writeRaw("meta3", header: "{\"__metadata__\":{\"k\":\"v\"}}    ")
        XCTAssertEqual(try SafeTensorsFile.read(ok), SafeTensorsFile(metadata: ["k": "v"]))
    }

    func testEveryTruncationOfAValidFileFailsCleanly() throws {
        let bytes = try SafeTensorsFile(tensors: ["w": NamedArray(shape: [3], values: [1, 2, 3])],
                                        metadata: ["m": "n"]).serialized()
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try SafeTensorsFile.decode(Array(bytes.prefix(length)), path: "cut"),
                                 "prefix of \(length) bytes") { error in
                XCTAssertTrue("\(error)".hasPrefix("cut: "), "\(error)")
            }
        }
        XCTAssertNoThrow(try SafeTensorsFile.decode(bytes, path: "whole"))
    }
}
