import Foundation
import XCTest
@testable import SwiftGANData

final class TensorBoardTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try FileFormatTestHelpers.makeScratchDirectory("tensorboard")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func bytes(hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return result
    }

    // MARK: CRC-32C

    func testCRC32CKnownAnswers() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        // RFC 3720 (iSCSI), appendix B.4.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        // Not the zlib CRC-32 (which gives 0xCBF43926 for the same input).
        XCTAssertNotEqual(CRC32C.checksum(Array("123456789".utf8)), 0xCBF4_3926)
    }

    func testMaskRotatesAndAddsTheConstant() {
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        // 0xE3069283 rotated right by 15 is 0x2507C60D; plus 0xA282EAD8 (mod 2^32) is 0xC78AB0E5.
        XCTAssertEqual(CRC32C.masked(0xE306_9283), 0xC78A_B0E5)
        XCTAssertEqual(CRC32C.masked(0x0000_8000), 0xA282_EAD9)
    }

    // MARK: Framing and protocol buffers

    /// Bytes made by Python's protobuf (`tensorboard.compat.proto.event_pb2`) and TensorBoard's `masked_crc32c`.
    func testRecordMatchesTensorBoardsOwnEncoding() {
        let event = TensorBoardEvent(wallTime: 1_700_000_000.25, step: 0, fileVersion: "brain.Event:2")
        let payload = bytes(hex: "0900001040fc54d9411a0d627261696e2e4576656e743a32")
        XCTAssertEqual(event.encoded(), payload)
        XCTAssertEqual(TFRecord.frame(payload), bytes(hex: "1800000000000000a37f4b22" + "0900001040fc54d9411a0d627261696e2e4576656e743a32" + "338d2fe9"))

        let scalar = TensorBoardEvent(wallTime: 1_700_000_001.5, step: 42,
                                      values: [TensorBoardValue(tag: "loss/generator", content: .scalar(1.5))])
        XCTAssertEqual(scalar.encoded(),
                       bytes(hex: "0900006040fc54d941102a2a170a150a0e6c6f73732f67656e657261746f72150000c03f"))

        let image = TensorBoardEvent(
            wallTime: 1_700_000_002, step: -3,
            values: [TensorBoardValue(tag: "samples", content: .image(height: 2, width: 3, colorspace: 1,
                                                                       encoded: [0x89, 0x50, 0x4E, 0x47]))])
        XCTAssertEqual(image.encoded(), bytes(hex: "0900008040fc54d94110fdffffffffffffffff012a190a170a0773616d706c6573"
                                                  + "220c080210031801220489504e47"))

        // A session (re)start at step 7: the bytes TensorBoard's own Event proto gives for
        // Event(wall_time=1700000003, step=7, session_log=SessionLog(status=START)).
        let start = TensorBoardEvent(wallTime: 1_700_000_003, step: 7, sessionStart: true)
        XCTAssertEqual(start.encoded(), bytes(hex: "090000c040fc54d94110073a020801"))
        let decoded = try? TensorBoardEvent(decoding: start.encoded(), path: "x")
        XCTAssertEqual(decoded, start)
        XCTAssertEqual((try? TensorBoardEvent(decoding: scalar.encoded(), path: "x"))?.sessionStart, false)
    }

    func testFramingLayout() throws {
        let data: [UInt8] = [1, 2, 3]
        let record = TFRecord.frame(data)
        XCTAssertEqual(record.count, 8 + 4 + 3 + 4)
        XCTAssertEqual(Array(record[0..<8]), [3, 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = CRC32C.maskedChecksum([3, 0, 0, 0, 0, 0, 0, 0] as [UInt8])
        XCTAssertEqual(Array(record[8..<12]), (0..<4).map { UInt8(truncatingIfNeeded: lengthCRC >> ($0 * 8)) })
        XCTAssertEqual(Array(record[12..<15]), data)
        let dataCRC = CRC32C.maskedChecksum(data)
        XCTAssertEqual(Array(record[15..<19]), (0..<4).map { UInt8(truncatingIfNeeded: dataCRC >> ($0 * 8)) })
        XCTAssertEqual(try TFRecord.records(in: record + TFRecord.frame([]) + record, path: "x"), [data, [], data])
    }

    func testEventDecodingSkipsUnknownFieldsAndRejectsGarbage() throws {
        var writer = ProtobufWriter()
        writer.varint(field: 2, 7)
        writer.varint(field: 99, 5)                         // unknown varint
        writer.bytes(field: 4, Array("graph".utf8))         // graph_def, not used here
        writer.float(field: 77, 2)                          // unknown fixed32
        let event = try TensorBoardEvent(decoding: writer.output, path: "e")
        XCTAssertEqual(event.step, 7)
        XCTAssertTrue(event.values.isEmpty)

        for garbage: [UInt8] in [[0x0A, 0x05, 0x01], [0x10, 0xFF], [0x0B], [0x09, 1, 2, 3]] {
            XCTAssertThrowsError(try TensorBoardEvent(decoding: garbage, path: "e.bin")) { error in
                guard case DataError.malformed(let path, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(path, "e.bin")
            }
        }
    }

    // MARK: Writer and reader

    func testWriterRoundTripThroughTheReader() throws {
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let writer = try TensorBoardWriter(directory: directory + "/board", wallTime: start)
        XCTAssertTrue((writer.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        try writer.addScalar(tag: "loss/discriminator", value: 0.6931, step: 1)
        try writer.addScalars([("loss/generator", 2.5), ("score/real", -0.25)], step: 50)
        let image = RasterImage(width: 3, height: 2, channels: 3, pixels: (0..<18).map { UInt8($0 * 14) })
        try writer.addImage(tag: "samples", image: image, step: 50)
        try writer.addScalar(tag: "big", value: .infinity, step: 1 << 40)
        try writer.flush()
        try writer.close()
        XCTAssertThrowsError(try writer.addScalar(tag: "late", value: 1, step: 2))

        XCTAssertEqual(try TensorBoardReader.eventFiles(in: directory + "/board"), [writer.path])
        let events = try TensorBoardReader.readEvents(writer.path)
        XCTAssertEqual(events.count, 5)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[0].wallTime, 1_700_000_000)
        XCTAssertTrue(events[0].values.isEmpty)
        XCTAssertEqual(events[1].step, 1)
        XCTAssertEqual(events[1].values, [TensorBoardValue(tag: "loss/discriminator", content: .scalar(0.6931))])
        XCTAssertGreaterThan(events[1].wallTime, 1_700_000_000, "wall time is now, not the file's start")
        XCTAssertEqual(events[2].step, 50)
        XCTAssertEqual(events[2].values, [TensorBoardValue(tag: "loss/generator", content: .scalar(2.5)),
                                          TensorBoardValue(tag: "score/real", content: .scalar(-0.25))])
        XCTAssertNil(events[2].fileVersion)
        guard case .image(let height, let width, let colorspace, let png) = events[3].values.first?.content else {
            return XCTFail("no image in \(events[3])")
        }
        XCTAssertEqual(events[3].values.first?.tag, "samples")
        XCTAssertEqual([height, width, colorspace], [2, 3, 3])
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        XCTAssertEqual(try ImageIO.decodeImage(png, path: "png"), image)
        XCTAssertEqual(events[4].step, 1 << 40)
        XCTAssertEqual(events[4].values.first?.content, .scalar(.infinity))

        // The file on disk is exactly the framed encodings, one after the other.
        let onDisk = try readFileBytes(writer.path)
        XCTAssertEqual(onDisk, events.flatMap { TFRecord.frame($0.encoded()) })
    }

    func testSecondWriterInTheSameSecondGetsItsOwnFile() throws {
        let time = Date(timeIntervalSince1970: 1_650_000_000)
        let first = try TensorBoardWriter(directory: directory, wallTime: time)
        let second = try TensorBoardWriter(directory: directory, wallTime: time)
        XCTAssertNotEqual(first.path, second.path)
        XCTAssertTrue(second.path.hasPrefix(first.path + "."))
        try first.addScalar(tag: "a", value: 1, step: 1)
        try second.addScalar(tag: "b", value: 2, step: 1)
        XCTAssertEqual(try TensorBoardReader.readEvents(first.path).last?.values.first?.tag, "a")
        XCTAssertEqual(try TensorBoardReader.readEvents(second.path).last?.values.first?.tag, "b")
        XCTAssertEqual(try TensorBoardReader.eventFiles(in: directory).count, 2)
    }

    func testCorruptionIsDetected() throws {
        let writer = try TensorBoardWriter(directory: directory)
        try writer.addScalar(tag: "loss", value: 1.25, step: 10)
        try writer.close()
        let good = try readFileBytes(writer.path)
        let records = try TFRecord.records(in: good, path: writer.path)
        XCTAssertEqual(records.count, 2)
        let secondStart = 16 + records[0].count

        func expectError(_ bytes: [UInt8], _ check: (DataError) -> Void) throws {
            let path = directory + "/damaged.tfevents"
            try writeAtomically(bytes, to: path)
            XCTAssertThrowsError(try TensorBoardReader.readEvents(path)) { error in
                guard let error = error as? DataError else { return XCTFail("\(error)") }
                XCTAssertTrue(error.description.hasPrefix(path + ":"), error.description)
                check(error)
            }
        }

        // One flipped bit inside the second record's data (the float value).
        var damaged = good
        damaged[secondStart + 12 + records[1].count - 1] ^= 0x01
        try expectError(damaged) { error in
            XCTAssertTrue(error.description.contains("record 1"), error.description)
            XCTAssertTrue(error.description.contains("data checksum"), error.description)
        }
        // A changed length byte.
        damaged = good
        damaged[secondStart] ^= 0x02
        try expectError(damaged) { error in
            XCTAssertTrue(error.description.contains("length checksum"), error.description)
        }
        // A damaged checksum itself.
        damaged = good
        damaged[good.count - 1] ^= 0x80
        try expectError(damaged) { error in
            XCTAssertTrue(error.description.contains("data checksum"), error.description)
        }
        // Cut off in the middle of the last record, and just after its header.
        try expectError(Array(good.dropLast(3))) { error in
            guard case .truncated = error else { return XCTFail("\(error)") }
        }
        try expectError(Array(good.prefix(secondStart + 5))) { error in
            guard case .truncated = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try TensorBoardReader.readEvents(directory + "/missing")) { error in
            XCTAssertEqual(error as? DataError, .fileNotFound(path: directory + "/missing"))
        }
    }

    func testWriterRefusesBadImagesAndUnwritableFolders() throws {
        let writer = try TensorBoardWriter(directory: directory)
        XCTAssertThrowsError(try writer.addImage(tag: "x", png: [1], width: 0, height: 2, channels: 1, step: 0))
        XCTAssertThrowsError(try writer.addImage(tag: "x", png: [1], width: 2, height: 2, channels: 5, step: 0))
        try writeAtomically([1, 2, 3], to: directory + "/file")
        XCTAssertThrowsError(try TensorBoardWriter(directory: directory + "/file/board")) { error in
            XCTAssertTrue("\(error)".contains(directory + "/file"), "\(error)")
        }
    }

    func testEncodePNGMatchesWritePNG() throws {
        let image = RasterImage(width: 5, height: 4, channels: 1, pixels: (0..<20).map { UInt8($0 * 12) })
        let png = try ImageIO.encodePNG(image)
        try ImageIO.writePNG(image, to: directory + "/a.png")
        XCTAssertEqual(png, try readFileBytes(directory + "/a.png"))
        XCTAssertEqual(try ImageIO.decodeImage(png, path: "a"), image)
    }
}
