import Foundation
import XCTest
@testable import SwiftGANData

final class PackedDatasetTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = try FileFormatTestHelpers.makeScratchDirectory("packed")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    private func write(_ relative: String, _ bytes: [UInt8]) throws {
        let path = (root as NSString).appendingPathComponent(relative)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// A class-folder tree of small RGB images with distinct colours: `images/<class>/<n>.png`.
    private func makeImageFolder() throws -> String {
        for (c, name) in ["ärger", "bird", "cat"].enumerated() {
            for n in 0..<(c + 2) {
                let value = UInt8(40 * c + 10 * n)
                let image = RasterImage(width: 6 + n, height: 5, channels: 3,
                                        pixels: (0..<((6 + n) * 5)).flatMap { _ in [value, 255 - value, 7] })
                try write("images/\(name)/\(n).png", ImageFolderTestFiles.png(image))
            }
        }
        try write("images/.DS_Store", [9, 9, 9])
        return root + "/images"
    }

    private func packedFolder(size: Int = 4, channels: Int = 3) throws -> PackedDataset {
        let contents = try ImageFolder.load(try makeImageFolder(),
                                            conversion: ImageConversion(size: size, channels: channels))
        return try PackedDataset(contents)
    }

    private func littleEndian32(_ bytes: [UInt8], _ offset: Int) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
    }

    // MARK: Round trip and layout

    func testPackRoundTripKeepsPixelsLabelsClassesAndFiles() throws {
        let packed = try packedFolder()
        XCTAssertEqual(packed.count, 9)
        XCTAssertEqual(packed.classNames, ["bird", "cat", "ärger"])
        XCTAssertEqual(packed.labels, [0, 0, 0, 1, 1, 1, 1, 2, 2])
        XCTAssertEqual(packed.metadata.files.first, "bird/0.png")
        XCTAssertEqual(packed.metadata.conversion?.crop, "center")

        let path = root + "/images.sgpack"
        try packed.write(to: path)
        let back = try PackedDataset.read(path)
        XCTAssertEqual(back, packed)
        XCTAssertTrue(PackedDataset.isPacked(path))

        // The first image of class "bird" (value 40): R plane 40, G plane 215, B plane 7.
        XCTAssertEqual(Array(back.pixels[0..<16]), [UInt8](repeating: 40, count: 16))
        XCTAssertEqual(Array(back.pixels[16..<32]), [UInt8](repeating: 215, count: 16))
        XCTAssertEqual(Array(back.pixels[32..<48]), [UInt8](repeating: 7, count: 16))

        // The header is what the documentation says.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(Array(bytes[0..<8]), Array("SGANPACK".utf8))
        XCTAssertEqual([1, 9, 3, 4, 4, 1].enumerated().map { littleEndian32(bytes, 8 + 4 * $0.offset) },
                       [1, 9, 3, 4, 4, 1])
        let metadataLength = littleEndian32(bytes, 32)
        let pixelOffset = (64 + metadataLength + 63) / 64 * 64
        XCTAssertEqual(bytes.count, pixelOffset + 9 * 3 * 16 + 9 * 4)
        XCTAssertEqual(Array(bytes[pixelOffset..<(pixelOffset + 16)]), [UInt8](repeating: 40, count: 16))
        XCTAssertEqual(littleEndian32(bytes, bytes.count - 4), 2, "the last label")
        let json = try JSONSerialization.jsonObject(with: Data(bytes[64..<(64 + metadataLength)])) as? [String: Any]
        XCTAssertEqual(json?["classes"] as? [String], ["bird", "cat", "ärger"])
    }

    func testTrainingLoadsAPackedFileAndRefusesOtherSizesOrChannels() throws {
        let packed = try packedFolder(size: 4, channels: 3)
        let path = root + "/data.bin"     // recognised by its first bytes, not its name
        try packed.write(to: path)
        XCTAssertEqual(try DatasetLocator.locate(path), .packed(path))

        let dataset = try ImageDataset.load(path, targetSize: 4)
        XCTAssertEqual(dataset.count, 9)
        XCTAssertEqual(dataset.channels, 3)
        XCTAssertEqual(dataset.classNames, ["bird", "cat", "ärger"])
        XCTAssertEqual(dataset.labels, packed.labels)
        XCTAssertEqual(dataset.pixels[0], 40 / 127.5 - 1, accuracy: 1e-6)
        XCTAssertEqual(try ImageDataset.load(path).height, 4, "no size asked: the packed size")

        guard case .invalidDataset(let size)? = dataError({ _ = try ImageDataset.load(path, targetSize: 64) }) else {
            return XCTFail("expected invalidDataset")
        }
        XCTAssertTrue(size.contains(path) && size.contains("4x4") && size.contains("64x64")
                      && size.contains("--image-size 64"), size)
        guard case .invalidDataset(let channels)? = dataError({ _ = try ImageDataset.load(path, targetSize: 4, channels: 1) })
        else { return XCTFail("expected invalidDataset") }
        XCTAssertTrue(channels.contains("3-channel") && channels.contains("--channels 1"), channels)
    }

    func testAnImageFolderAndAnIDXFolderAreLocatedAsSuch() throws {
        let folder = try makeImageFolder()
        XCTAssertEqual(try DatasetLocator.locate(folder), .imageFolder(folder))
        let ds = try ImageDataset.load(folder, targetSize: 8, crop: .pad)
        XCTAssertEqual(ds.count, 9)
        XCTAssertEqual(ds.channels, 3)
    }

    func testWriteIsAtomicAndReplacesTheOldFile() throws {
        let first = try PackedDataset(count: 1, channels: 1, height: 1, width: 2, pixels: [1, 2], labels: nil,
                                      classNames: nil, metadata: .init(source: "a"))
        let second = try PackedDataset(count: 2, channels: 1, height: 1, width: 2, pixels: [3, 4, 5, 6], labels: [1, 0],
                                       classNames: ["x", "y"], metadata: .init(source: "b"))
        let path = root + "/out/set.sgpack"
        try first.write(to: path)
        try second.write(to: path)
        XCTAssertEqual(try PackedDataset.read(path), second)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/out"), ["set.sgpack"],
                       "no temporary file is left behind")
    }

    // MARK: Damage

    func testDamagedFilesAreRefusedWithTheirNameAndReason() throws {
        let packed = try PackedDataset(count: 2, channels: 1, height: 2, width: 2, pixels: [0, 1, 2, 3, 4, 5, 6, 7],
                                       labels: [0, 1], classNames: ["a", "b"], metadata: .init(source: "s"))
        let good = try packed.encoded()
        XCTAssertEqual(try PackedDataset.parse(good, path: "g"), packed)

        func error(_ bytes: [UInt8], _ name: String) throws -> DataError? {
            let path = root + "/" + name
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return dataError { _ = try PackedDataset.read(path) }
        }

        XCTAssertEqual(try error(Array(good.dropLast(3)), "cut"),
                       .truncated(path: root + "/cut", expectedBytes: good.count, actualBytes: good.count - 3))
        XCTAssertEqual(try error(Array(good.prefix(20)), "stub"),
                       .truncated(path: root + "/stub", expectedBytes: 64, actualBytes: 20))

        var flipped = good
        flipped[good.count - 10] ^= 0x01
        let checksum = try error(flipped, "flipped")
        XCTAssertTrue(checksum?.description.contains("checksum mismatch") == true
                      && checksum?.description.hasPrefix(root + "/flipped") == true, "\(String(describing: checksum))")

        var png = good
        png.replaceSubrange(0..<8, with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let notPacked = try error(png, "picture.sgpack")
        XCTAssertTrue(notPacked?.description.contains("not a SwiftGAN packed dataset") == true, "\(String(describing: notPacked))")

        var future = good
        future[8] = 2
        guard case .unsupported(_, let reason)? = try error(future, "future") else { return XCTFail("expected unsupported") }
        XCTAssertTrue(reason.contains("version 2"), reason)

        let extra = try error(good + [0], "extra")
        XCTAssertTrue(extra?.description.contains("1 unexpected bytes") == true, "\(String(describing: extra))")

        var fiveChannels = good
        fiveChannels[16] = 5
        let impossible = try error(fiveChannels, "five")
        XCTAssertTrue(impossible?.description.contains("impossible header") == true, "\(String(describing: impossible))")

        XCTAssertEqual(try error([], "empty")?.description.contains("not a SwiftGAN packed dataset"), true)
        XCTAssertEqual(dataError { _ = try PackedDataset.read(root + "/missing") }, .fileNotFound(path: root + "/missing"))
    }

    func testInconsistentPartsAreRefused() {
        XCTAssertThrowsError(try PackedDataset(count: 1, channels: 1, height: 2, width: 2, pixels: [1, 2, 3],
                                               labels: nil, classNames: nil, metadata: .init(source: "")))
        XCTAssertThrowsError(try PackedDataset(count: 1, channels: 1, height: 1, width: 1, pixels: [1],
                                               labels: [2], classNames: ["a", "b"], metadata: .init(source: "")))
        XCTAssertThrowsError(try PackedDataset(count: 0, channels: 1, height: 1, width: 1, pixels: [],
                                               labels: nil, classNames: nil, metadata: .init(source: "")))
    }
}
