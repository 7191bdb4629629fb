import Foundation
import XCTest
@testable import SwiftGANData

/// Helpers shared by the image, GIF and safetensors tests (namespaced to avoid clashes).
enum FileFormatTestHelpers {
    /// A fresh empty folder under the system temporary directory, removed by the caller.
    static func makeScratchDirectory(_ label: String) throws -> String {
        let path = (NSTemporaryDirectory() as NSString)
            .appendingPathComponent("swiftgan-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Deterministic pseudo-random bytes (SplitMix64), so failures reproduce.
    static func bytes(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return UInt8(truncatingIfNeeded: z ^ (z >> 31))
        }
    }
}

final class ImageIOTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try FileFormatTestHelpers.makeScratchDirectory("imageio")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: PNG

    func testPNGRoundTripKeepsEveryChannelLayout() throws {
        for channels in 1...4 {
            let width = 13, height = 7
            let image = RasterImage(width: width, height: height, channels: channels,
                                    pixels: FileFormatTestHelpers.bytes(count: width * height * channels,
                                                               seed: UInt64(channels)))
            let path = "\(directory)/image\(channels).png"
            try ImageIO.writePNG(image, to: path)
            let back = try ImageIO.readImage(path)
            XCTAssertEqual(back.width, width)
            XCTAssertEqual(back.height, height)
            XCTAssertEqual(back.channels, channels)
            XCTAssertEqual(back.pixels, image.pixels, "pixels differ for \(channels) channels")
        }
    }

    func testPNGFileStartsWithSignatureAndIHDR() throws {
        let image = RasterImage(width: 300, height: 2, channels: 3, filledWith: 9)
        let path = "\(directory)/sig.png"
        try ImageIO.writePNG(image, to: path)
        let bytes = try readFileBytes(path)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(Array(bytes[12..<16]), Array("IHDR".utf8))
        // IHDR width and height, big-endian.
        XCTAssertEqual(Array(bytes[16..<24]), [0, 0, 0x01, 0x2C, 0, 0, 0, 2])
        XCTAssertEqual(Array(bytes.suffix(8).prefix(4)), Array("IEND".utf8))
    }

    func testWritePNGCreatesMissingParentFolders() throws {
        let path = "\(directory)/a/b/c/out.png"
        try ImageIO.writePNG(RasterImage(width: 1, height: 1, channels: 1, pixels: [42]), to: path)
        XCTAssertEqual(try ImageIO.readImage(path).pixels, [42])
    }

    func testReadMissingFileIsFileNotFound() {
        let path = "\(directory)/nope.png"
        XCTAssertThrowsError(try ImageIO.readImage(path)) { error in
            XCTAssertEqual(error as? DataError, .fileNotFound(path: path))
        }
    }

    func testReadGarbageNamesFileAndReason() throws {
        let path = "\(directory)/garbage.png"
        try writeAtomically(Array("this is not an image at all".utf8), to: path)
        XCTAssertThrowsError(try ImageIO.readImage(path)) { error in
            guard case .unsupported(let errorPath, let reason)? = error as? DataError else {
                return XCTFail("expected .unsupported, got \(error)")
            }
            XCTAssertEqual(errorPath, path)
            XCTAssertTrue(reason.contains("unknown image type"), reason)
            XCTAssertTrue("\(error)".hasPrefix(path))
        }
    }

    func testReadTruncatedPNGIsMalformedOrUnsupported() throws {
        let image = RasterImage(width: 32, height: 32, channels: 3,
                                pixels: FileFormatTestHelpers.bytes(count: 32 * 32 * 3, seed: 5))
        let full = try ImageIO.encodePNG(image, path: "mem")
        let path = "\(directory)/cut.png"
        try writeAtomically(Array(full.prefix(full.count / 2)), to: path)
        XCTAssertThrowsError(try ImageIO.readImage(path)) { error in
            guard let dataError = error as? DataError else { return XCTFail("\(error)") }
            switch dataError {
            case .malformed(let p, _), .unsupported(let p, _): XCTAssertEqual(p, path)
            default: XCTFail("unexpected \(dataError)")
            }
        }
    }

    func testReadDirectoryIsUnreadable() {
        XCTAssertThrowsError(try ImageIO.readImage(directory)) { error in
            guard case .unreadable(let path, _)? = error as? DataError else {
                return XCTFail("expected .unreadable, got \(error)")
            }
            XCTAssertEqual(path, directory)
        }
    }

    func testRasterImagePixelAccessor() {
        let image = RasterImage(width: 2, height: 2, channels: 3, pixels: Array(0..<12))
        XCTAssertEqual(Array(image.pixel(x: 1, y: 1)), [9, 10, 11])
        XCTAssertEqual(Array(image.pixel(x: 0, y: 1)), [6, 7, 8])
    }

    // MARK: Atomic writes

    func testWriteAtomicallyReplacesContentsAndLeavesNoTemporaryFiles() throws {
        let path = "\(directory)/file.bin"
        try writeAtomically(Data([1, 2, 3]), to: path)
        XCTAssertEqual(try readFileBytes(path), [1, 2, 3])
        try writeAtomically([9, 8], to: path)
        XCTAssertEqual(try readFileBytes(path), [9, 8])
        try writeAtomically([UInt8](), to: path)
        XCTAssertEqual(try readFileBytes(path), [])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["file.bin"])
    }

    func testWriteAtomicallyFailureNamesPathAndCleansUp() throws {
        // The parent "folder" is a regular file.
        let blocker = "\(directory)/blocker"
        try writeAtomically([0], to: blocker)
        let path = "\(blocker)/child.bin"
        XCTAssertThrowsError(try writeAtomically([1], to: path)) { error in
            guard case .writeFailed(let errorPath, let reason)? = error as? DataError else {
                return XCTFail("expected .writeFailed, got \(error)")
            }
            XCTAssertEqual(errorPath, path)
            XCTAssertFalse(reason.isEmpty)
        }
        // Renaming over a directory fails after the temporary file was written: it must be removed.
        let folder = "\(directory)/folder"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try writeAtomically([1], to: "\(folder)/inside")
        XCTAssertThrowsError(try writeAtomically([1, 2, 3], to: folder)) { error in
            guard case .writeFailed(let errorPath, let reason)? = error as? DataError else {
                return XCTFail("expected .writeFailed, got \(error)")
            }
            XCTAssertEqual(errorPath, folder)
            XCTAssertTrue(reason.hasPrefix("rename"), reason)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory).sorted(),
                       ["blocker", "folder"])
    }
}

final class ImageGridTests: XCTestCase {
    func testPixelValueMapping() {
        XCTAssertEqual(ImageGrid.pixelValue(-1), 0)
        XCTAssertEqual(ImageGrid.pixelValue(1), 255)
        XCTAssertEqual(ImageGrid.pixelValue(0), 128)  // 127.5 rounds away from zero
        XCTAssertEqual(ImageGrid.pixelValue(-0.5), 64)  // 63.75
        XCTAssertEqual(ImageGrid.pixelValue(0.5), 191)  // 191.25
        XCTAssertEqual(ImageGrid.pixelValue(-3), 0)
        XCTAssertEqual(ImageGrid.pixelValue(7), 255)
        XCTAssertEqual(ImageGrid.pixelValue(.nan), 0)
        XCTAssertEqual(ImageGrid.pixelValue(.infinity), 255)
        XCTAssertEqual(ImageGrid.pixelValue(-.infinity), 0)
        XCTAssertEqual(ImageGrid.pixelValue(.greatestFiniteMagnitude), 255)
    }

    func testTileGrayLayoutWithPaddingAndEmptyCell() {
        // Three 2x2 gray images in two columns with 1 pixel of padding: 7x7 output.
        let images: [Float] = [-1, -1, -1, -1,   // image 0: black
                               1, 1, 1, 1,       // image 1: white
                               0, 0, 0, .nan]    // image 2: mid gray with one NaN
        let grid = ImageGrid.tile(images: images, count: 3, channels: 1, height: 2, width: 2,
                                  columns: 2, padding: 1, background: 77)
        XCTAssertEqual(grid.width, 7)
        XCTAssertEqual(grid.height, 7)
        XCTAssertEqual(grid.channels, 1)
        let b: UInt8 = 77
        let expected: [UInt8] = [
            b, b, b, b, b, b, b,
            b, 0, 0, b, 255, 255, b,
            b, 0, 0, b, 255, 255, b,
            b, b, b, b, b, b, b,
            b, 128, 128, b, b, b, b,
            b, 128, 0, b, b, b, b,
            b, b, b, b, b, b, b,
        ]
        XCTAssertEqual(grid.pixels, expected)
    }

    func testTileRGBConvertsPlanarToInterleaved() {
        // One 1x2 RGB image: R plane [1, -1], G plane [-1, 1], B plane [0, 0].
        let grid = ImageGrid.tile(images: [1, -1, -1, 1, 0, 0], count: 1, channels: 3,
                                  height: 1, width: 2, columns: 4, padding: 0)
        XCTAssertEqual(grid.width, 2)  // columns is capped at count
        XCTAssertEqual(grid.height, 1)
        XCTAssertEqual(grid.pixels, [255, 0, 128, 0, 255, 128])
    }

    func testImageAndStrip() {
        let single = ImageGrid.image(from: [-1, 1, 0.5, -0.5], channels: 1, height: 2, width: 2)
        XCTAssertEqual(single, RasterImage(width: 2, height: 2, channels: 1, pixels: [0, 255, 191, 64]))

        let strip = ImageGrid.strip(images: [Float](repeating: -1, count: 4 * 3 * 3), count: 4,
                                    channels: 1, height: 3, width: 3)
        XCTAssertEqual(strip.width, 4 * (3 + 2) + 2)
        XCTAssertEqual(strip.height, 3 + 2 * 2)
        XCTAssertEqual(strip.pixels.filter { $0 == 0 }.count, 4 * 9)
        XCTAssertEqual(Array(strip.pixel(x: 2, y: 2)), [0])
        XCTAssertEqual(Array(strip.pixel(x: 5, y: 2)), [255])
    }

    func testGridSavesAsPNG() throws {
        let directory = try FileFormatTestHelpers.makeScratchDirectory("grid")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let values: [Float] = (0..<360).map { (index: Int) -> Float in Float(index % 17) / 8 - 1 }
        let grid = ImageGrid.tile(images: values, count: 6, channels: 3, height: 4, width: 5, columns: 4)
        try ImageIO.writePNG(grid, to: "\(directory)/grid.png")
        XCTAssertEqual(try ImageIO.readImage("\(directory)/grid.png"), grid)
    }
}
