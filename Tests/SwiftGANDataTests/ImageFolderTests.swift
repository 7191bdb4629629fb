import CStb
import Foundation
import XCTest
@testable import SwiftGANData

/// Small image files built byte by byte (PNG with stored deflate blocks, PGM) or with stb_image_write, so
/// the tests can make exactly the damaged and unusual inputs they need.
enum ImageFolderTestFiles {
    private static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    /// A zlib stream of stored (uncompressed) deflate blocks.
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let length = min(65535, data.count - offset)
            let final: UInt8 = offset + length == data.count ? 1 : 0
            out += [final, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += data[offset..<(offset + length)]
            offset += length
        } while offset < data.count
        var a: UInt32 = 1, b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return out + bigEndian(b << 16 | a)
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return bigEndian(UInt32(data.count)) + body + bigEndian(crc32(body))
    }

    /// A PNG with the given colour type and bit depth; `rows` are the packed samples of each row (filter
    /// byte 0 is added).
    static func png(width: Int, height: Int, colourType: UInt8, bitDepth: UInt8, rows: [[UInt8]],
                    palette: [UInt8]? = nil, transparency: [UInt8]? = nil) -> [UInt8] {
        var ihdr = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        ihdr += [bitDepth, colourType, 0, 0, 0]
        var file: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr)
        if let palette { file += chunk("PLTE", palette) }
        if let transparency { file += chunk("tRNS", transparency) }
        file += chunk("IDAT", zlibStored(rows.flatMap { [0] + $0 }))
        return file + chunk("IEND", [])
    }

    /// A 16-bit grayscale PNG.
    static func png16(width: Int, values: [[UInt16]]) -> [UInt8] {
        png(width: width, height: values.count, colourType: 0, bitDepth: 16,
            rows: values.map { row in row.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } })
    }

    /// An 8-bit PNG through stb_image_write (via ImageIO).
    static func png(_ image: RasterImage) throws -> [UInt8] {
        try ImageIO.encodePNG(image, path: "test.png")
    }

    static func jpeg(_ image: RasterImage, quality: Int32 = 95) -> [UInt8] {
        let sink = Sink()
        let status = image.pixels.withUnsafeBytes { raw in
            stbi_write_jpg_to_func({ ImageFolderTestFiles.collect($0, $1, $2) }, Unmanaged.passUnretained(sink).toOpaque(), Int32(image.width),
                                   Int32(image.height), Int32(image.channels), raw.baseAddress, quality)
        }
        precondition(status != 0, "stb_image_write failed")
        return sink.bytes
    }

    static func bmp(_ image: RasterImage) -> [UInt8] {
        let sink = Sink()
        let status = image.pixels.withUnsafeBytes { raw in
            stbi_write_bmp_to_func({ ImageFolderTestFiles.collect($0, $1, $2) }, Unmanaged.passUnretained(sink).toOpaque(), Int32(image.width),
                                   Int32(image.height), Int32(image.channels), raw.baseAddress)
        }
        precondition(status != 0, "stb_image_write failed")
        return sink.bytes
    }

    fileprivate final class Sink {
        var bytes: [UInt8] = []
    }

    /// The stb_image_write callback: appends to the `Sink` passed as context.
    fileprivate static func collect(_ context: UnsafeMutableRawPointer?, _ data: UnsafeMutableRawPointer?, _ size: Int32) {
        guard let context, let data, size > 0 else { return }
        Unmanaged<Sink>.fromOpaque(context).takeUnretainedValue().bytes
            .append(contentsOf: UnsafeRawBufferPointer(start: data, count: Int(size)))
    }

    static func gray(_ width: Int, _ height: Int, _ values: [UInt8]) -> RasterImage {
        RasterImage(width: width, height: height, channels: 1, pixels: values)
    }
}

final class ImageFolderTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = try FileFormatTestHelpers.makeScratchDirectory("imagefolder")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    @discardableResult
    private func write(_ relative: String, _ bytes: [UInt8], in folder: String? = nil) throws -> String {
        let path = ((folder ?? root) as NSString).appendingPathComponent(relative)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func grayPNG(_ value: UInt8, size: Int = 4) throws -> [UInt8] {
        try ImageFolderTestFiles.png(RasterImage(width: size, height: size, channels: 1, filledWith: value))
    }

    /// Decodes bytes and converts them, as the folder loader does.
    private func convert(_ bytes: [UInt8], _ conversion: ImageConversion, name: String = "x.png") throws -> [UInt8] {
        ImageFolder.convert(try ImageFolder.decode(bytes, path: name, maxPixels: conversion.maxPixels), with: conversion)
    }

    private func decode(_ bytes: [UInt8], name: String = "x.png") throws -> DecodedImage {
        try ImageFolder.decode(bytes, path: name, maxPixels: ImageConversion.defaultMaxPixels)
    }

    // MARK: Scanning

    func testFlatFolderSkipsHiddenAndNonImageFilesAndReadsUnicodeNames() throws {
        try write("b.png", grayPNG(10))
        try write("日本語の写真.PNG", grayPNG(20))
        try write("sub/çà ü.png", grayPNG(30))
        try write(".DS_Store", [0, 0, 0, 1, 0x42, 0x75, 0x64, 0x31])
        try write(".ipynb_checkpoints/b-checkpoint.png", grayPNG(40))
        try write("__MACOSX/._b.png", [0, 5, 22, 7])
        try write("._b.png", [0, 5, 22, 7])
        try write("notes.txt", Array("hello".utf8))
        try write("Thumbs.db", [1, 2, 3])

        let scan = try ImageFolder.scan(root)
        XCTAssertEqual(scan.files.map(scan.relativePath), ["b.png", "sub/çà ü.png", "日本語の写真.PNG"])
        XCTAssertNil(scan.labels, "a folder with images of its own is flat")
        XCTAssertNil(scan.classNames)
        XCTAssertEqual(scan.skippedHidden, [".DS_Store", "._b.png", ".ipynb_checkpoints", "Thumbs.db", "__MACOSX"])
        XCTAssertEqual(scan.skippedNonImage, ["notes.txt"])
        XCTAssertTrue(scan.problems.isEmpty)

        let contents = try ImageFolder.load(root, conversion: ImageConversion(size: 4, channels: 1))
        XCTAssertTrue(contents.failures.isEmpty, "\(contents.failures)")
        XCTAssertEqual(contents.pixels.count, 3 * 16)
        XCTAssertEqual([contents.pixels[0], contents.pixels[16], contents.pixels[32]], [10, 30, 20])
    }

    func testClassSubfoldersBecomeSortedLabelsAndNestedImagesKeepTheirClass() throws {
        try write("dogs/x.png", grayPNG(3))
        try write("cats/b.png", grayPNG(2))
        try write("cats/a.png", grayPNG(1))
        try write("Ωmega/deeper/still/y.png", grayPNG(4))
        try write("empty/readme.md", Array("no images here".utf8))
        try write(".hidden/z.png", grayPNG(5))

        let scan = try ImageFolder.scan(root)
        XCTAssertEqual(scan.classNames, ["cats", "dogs", "Ωmega"])
        XCTAssertEqual(scan.labels, [0, 0, 1, 2])
        XCTAssertEqual(scan.files.map(scan.relativePath), ["cats/a.png", "cats/b.png", "dogs/x.png",
                                                            "Ωmega/deeper/still/y.png"])
        XCTAssertEqual(scan.skippedNonImage, ["empty/readme.md"])
        XCTAssertEqual(scan.skippedHidden, [".hidden"])

        let dataset = try ImageDataset.load(root, targetSize: 4)
        XCTAssertEqual(dataset.labels, [0, 0, 1, 2])
        XCTAssertEqual(dataset.classNames, ["cats", "dogs", "Ωmega"])
        XCTAssertEqual(dataset.classCount, 3)
        XCTAssertEqual(dataset.channels, 1, "all gray: automatic channels give 1")
        XCTAssertEqual(dataset.pixels[0], 1 / 127.5 - 1, accuracy: 1e-6)
    }

    func testFileNameThatIsNotUTF8IsReportedNotCrashedOn() throws {
        try write("good.png", grayPNG(9))
        var name = Array(root.utf8) + Array("/bad-".utf8) + [0xFF, 0xFE] + Array(".png".utf8) + [0]
        let fd = name.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                open($0, O_WRONLY | O_CREAT, 0o644)
            }
        }
        guard fd >= 0 else { throw XCTSkip("this file system does not accept non-UTF-8 names") }
        _ = close(fd)
        let contents = try ImageFolder.load(root, conversion: ImageConversion(size: 2, channels: 1))
        XCTAssertEqual(contents.files.count, 1)
        XCTAssertEqual(contents.failures.count, 1)
        XCTAssertTrue(contents.failures[0].description.contains("not valid UTF-8"), contents.failures[0].description)
    }

    // MARK: Bad files

    func testUnreadableFilesAreListedByNameWhileTheOthersLoad() throws {
        let good = try ImageFolderTestFiles.png(RasterImage(width: 16, height: 16, channels: 3, filledWith: 90))
        try write("a-good.png", good)
        let cut = try write("b-truncated.png", Array(good.prefix(good.count / 2)))
        let empty = try write("c-empty.png", [])
        let fake = try write("d-fake.jpg", Array("<html>not a picture</html>".utf8))
        let noEnd = try write("e-no-iend.png", Array(good.dropLast(12)))

        let contents = try ImageFolder.load(root, conversion: ImageConversion(size: 8, channels: 3))
        XCTAssertEqual(contents.files.map { ($0 as NSString).lastPathComponent }, ["a-good.png"])
        XCTAssertEqual(contents.failures.map(\.path), [cut, empty, fake, noEnd])
        let reasons = contents.failures.map(\.description)
        XCTAssertTrue(reasons[0].hasPrefix(cut) && reasons[0].contains("truncated"), reasons[0])
        XCTAssertTrue(reasons[1].contains("empty file"), reasons[1])
        XCTAssertTrue(reasons[2].contains("not an image format"), reasons[2])
        XCTAssertTrue(reasons[3].contains("IEND"), reasons[3])

        guard case .invalidDataset(let message)? = dataError({ try contents.requireAllReadable() }) else {
            return XCTFail("expected invalidDataset")
        }
        XCTAssertTrue(message.hasPrefix("4 of 5 image files in \(root) cannot be read"), message)
        XCTAssertTrue(message.contains("b-truncated.png") && message.contains("d-fake.jpg"), message)
        XCTAssertFalse(message.contains("\n"))

        // Training refuses the folder up front, or skips the files with a warning when asked to.
        guard case .invalidDataset(let refused)? = dataError({ _ = try ImageDataset.load(root, targetSize: 8) }) else {
            return XCTFail("expected invalidDataset")
        }
        XCTAssertTrue(refused.contains("--skip-unreadable") && refused.contains("b-truncated.png"), refused)
        var warnings: [String] = []
        let dataset = try ImageDataset.load(root, targetSize: 8, skipUnreadable: true) { warnings.append($0) }
        XCTAssertEqual(dataset.count, 1)
        XCTAssertTrue(warnings.contains { $0.contains("4 of 5") && $0.contains("c-empty.png") }, "\(warnings)")
    }

    func testTruncatedJPEGAndBMPAreCaughtAlthoughStbWouldFillThemIn() throws {
        var pixels: [UInt8] = []
        for y in 0..<32 { for x in 0..<32 { pixels += [UInt8(x * 8), UInt8(y * 8), 128] } }
        let image = RasterImage(width: 32, height: 32, channels: 3, pixels: pixels)
        let jpeg = ImageFolderTestFiles.jpeg(image)
        let decoded = try decode(jpeg, name: "whole.jpg")
        XCTAssertEqual(decoded.info.modeDescription, "JPEG RGB 8-bit")
        let cut = Array(jpeg.prefix(jpeg.count * 2 / 3))
        let jpegError = dataError { _ = try decode(cut, name: "cut.jpg") }
        XCTAssertTrue(jpegError?.description.contains("cut.jpg: malformed: truncated") == true, "\(String(describing: jpegError))")
        // Bytes after the end-of-image marker are allowed.
        XCTAssertNoThrow(try decode(jpeg + [0, 1, 2, 3], name: "trailing.jpg"))

        let bmp = ImageFolderTestFiles.bmp(image)
        XCTAssertEqual(try decode(bmp, name: "whole.bmp").info.format, "BMP")
        let bmpError = dataError { _ = try decode(Array(bmp.dropLast(100)), name: "cut.bmp") }
        XCTAssertEqual(bmpError, .truncated(path: "cut.bmp", expectedBytes: bmp.count, actualBytes: bmp.count - 100))
    }

    func testGIFUsesItsFirstFrame() throws {
        let first = RasterImage(width: 4, height: 4, channels: 1, filledWith: 255)
        let second = RasterImage(width: 4, height: 4, channels: 1, filledWith: 0)
        let gif = try GIFEncoder.encode(frames: [first, second])
        let converted = try convert(gif, ImageConversion(size: 4, channels: 1), name: "anim.gif")
        XCTAssertEqual(Set(converted), [255])
        XCTAssertEqual(try decode(gif, name: "anim.gif").info.colourMode, "palette")
        let error = dataError { _ = try decode(Array(gif.prefix(30)), name: "cut.gif") }
        XCTAssertTrue(error?.description.contains("truncated") == true, "\(String(describing: error))")
    }

    func testPixelLimitRefusesDecompressionBombsFromTheHeaderAlone() throws {
        // The header claims 60000 x 60000 pixels; the data is a few bytes. The limit is checked before decoding.
        let bomb = ImageFolderTestFiles.png(width: 60000, height: 60000, colourType: 0, bitDepth: 8, rows: [[0]])
        let error = dataError { _ = try ImageFolder.decode(bomb, path: "bomb.png", maxPixels: 1_000_000) }
        guard case .unsupported(let path, let reason)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(path, "bomb.png")
        XCTAssertTrue(reason.contains("60000x60000") && reason.contains("3600.0 megapixels")
                      && reason.contains("--max-pixels"), reason)

        // A JPEG whose frame header is patched to claim 30000 x 30000: refused from stb_image's header read.
        var jpeg = ImageFolderTestFiles.jpeg(RasterImage(width: 8, height: 8, channels: 3, filledWith: 50))
        guard let sof = (0..<(jpeg.count - 1)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) else {
            return XCTFail("no SOF0 marker")
        }
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0x75, 0x30, 0x75, 0x30])
        let jpegError = dataError { _ = try ImageFolder.decode(jpeg, path: "bomb.jpg", maxPixels: 1_000_000) }
        XCTAssertTrue(jpegError?.description.contains("30000x30000 = 900.0 megapixels, over the limit of 1.0 megapixels")
                      == true, "\(String(describing: jpegError))")

        let normal = try grayPNG(7, size: 20)
        XCTAssertThrowsError(try ImageFolder.decode(normal, path: "n.png", maxPixels: 399))
        XCTAssertNoThrow(try ImageFolder.decode(normal, path: "n.png", maxPixels: 400))
    }

    // MARK: Colour policy

    func testGrayAmongRGBFollowsTheChannelPolicy() throws {
        let gray = try ImageFolderTestFiles.png(RasterImage(width: 2, height: 2, channels: 1, filledWith: 100))
        var rgb: [UInt8] = []
        for _ in 0..<4 { rgb += [10, 200, 30] }
        let colour = try ImageFolderTestFiles.png(RasterImage(width: 2, height: 2, channels: 3, pixels: rgb))

        XCTAssertEqual(try convert(gray, ImageConversion(size: 2, channels: 3)), [UInt8](repeating: 100, count: 12))
        XCTAssertEqual(try convert(colour, ImageConversion(size: 2, channels: 3)),
                       [UInt8](repeating: 10, count: 4) + [UInt8](repeating: 200, count: 4) + [UInt8](repeating: 30, count: 4))
        // Luma: 0.299 * 10 + 0.587 * 200 + 0.114 * 30 = 123.81.
        XCTAssertEqual(try convert(colour, ImageConversion(size: 2, channels: 1)), [UInt8](repeating: 124, count: 4))

        try write("g.png", gray)
        try write("c.png", colour)
        let mixed = try ImageFolder.load(root, conversion: ImageConversion(size: 2, channels: 3)).grayscaleIfNoColour()
        XCTAssertEqual(mixed.conversion?.channels, 3, "one colour image keeps three channels")
        XCTAssertEqual(try ImageDataset.load(root, targetSize: 2).channels, 3)
        XCTAssertEqual(try ImageDataset.load(root, targetSize: 2, channels: 1).channels, 1)

        try FileManager.default.removeItem(atPath: root + "/c.png")
        let allGray = try ImageFolder.load(root, conversion: ImageConversion(size: 2, channels: 3)).grayscaleIfNoColour()
        XCTAssertEqual(allGray.conversion?.channels, 1)
        XCTAssertEqual(allGray.pixels, try ImageFolder.load(root, conversion: ImageConversion(size: 2, channels: 1)).pixels)
    }

    func testColourHiddenUnderTransparentPixelsNeverLeaks() throws {
        // Left half: pure red at alpha 0; right half: opaque blue; one half-transparent green pixel.
        var rgba: [UInt8] = []
        for y in 0..<4 {
            for x in 0..<4 {
                if x < 2 { rgba += [255, 0, 0, 0] } else if x == 3 && y == 3 { rgba += [0, 255, 0, 102] } else { rgba += [0, 0, 255, 255] }
            }
        }
        let png = try ImageFolderTestFiles.png(RasterImage(width: 4, height: 4, channels: 4, pixels: rgba))
        XCTAssertEqual(try decode(png).info.colourMode, "RGBA")

        let black = try convert(png, ImageConversion(size: 4, channels: 3))
        for y in 0..<4 {
            XCTAssertEqual([black[y * 4], black[16 + y * 4], black[32 + y * 4]], [0, 0, 0], "transparent red shows at row \(y)")
            XCTAssertEqual([black[y * 4 + 2], black[16 + y * 4 + 2], black[32 + y * 4 + 2]], [0, 0, 255])
        }
        // 0.4 of green over black.
        XCTAssertEqual([black[15], black[31], black[47]], [0, 102, 0])

        let white = try convert(png, ImageConversion(size: 4, channels: 3, background: .white))
        XCTAssertEqual([white[0], white[16], white[32]], [255, 255, 255])
        XCTAssertEqual([white[15], white[31], white[47]], [153, 255, 153])

        // Shrinking averages composited colours: no red from the hidden pixels in any output pixel.
        let small = try convert(png, ImageConversion(size: 2, channels: 3))
        XCTAssertEqual(Array(small[0..<4]), [0, 0, 0, 0], "red plane must stay empty")
        XCTAssertEqual(small[8], 0, "the transparent block is black")

        // Gray + alpha works the same way.
        let grayAlpha = try ImageFolderTestFiles.png(RasterImage(width: 2, height: 1, channels: 2, pixels: [200, 0, 200, 255]))
        XCTAssertEqual(try convert(grayAlpha, ImageConversion(size: 2, channels: 1, crop: .stretch)).prefix(2), [0, 200])
    }

    func testPalettePNGWithTransparencyIsExpanded() throws {
        let palette: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255]
        let png = ImageFolderTestFiles.png(width: 2, height: 2, colourType: 3, bitDepth: 8, rows: [[0, 1], [2, 1]],
                                           palette: palette, transparency: [255, 0])
        let decoded = try decode(png, name: "palette.png")
        XCTAssertEqual(decoded.info.colourMode, "palette+alpha")
        XCTAssertTrue(decoded.info.palette)
        let rgb = try convert(png, ImageConversion(size: 2, channels: 3, background: .white))
        // Planes R, G, B of pixels (red, transparent, blue, transparent) over white.
        XCTAssertEqual(rgb, [255, 255, 0, 255, 0, 255, 0, 255, 0, 255, 255, 255])

        let opaque = ImageFolderTestFiles.png(width: 2, height: 1, colourType: 3, bitDepth: 8, rows: [[1, 2]], palette: palette)
        XCTAssertEqual(try decode(opaque).info.modeDescription, "PNG palette 8-bit")
    }

    func testSixteenBitImagesAreScaledByTheirDepthNotClipped() throws {
        let png = ImageFolderTestFiles.png16(width: 5, values: [[0, 16384, 32768, 49152, 65535]])
        let decoded = try decode(png, name: "deep.png")
        XCTAssertEqual(decoded.info.bitDepth, 16)
        XCTAssertEqual(decoded.maxValue, 65535)
        // round(v / 65535 * 255); a byte-shift would give 192 for 49152, clipping would give 255 for all but 0.
        let converted = try convert(png, ImageConversion(size: 5, channels: 1, crop: .stretch))
        XCTAssertEqual(Array(converted.prefix(5)), [0, 64, 128, 191, 255])

        // A 4-bit grayscale PNG is scaled too (15 -> 255).
        let low = ImageFolderTestFiles.png(width: 2, height: 1, colourType: 0, bitDepth: 4, rows: [[0xF7]])
        XCTAssertEqual(try convert(low, ImageConversion(size: 2, channels: 1, crop: .stretch)).prefix(2), [255, 119])
        XCTAssertEqual(try decode(low).info.bitDepth, 4)
    }

    func testPGMUsesItsMaximumValue() throws {
        let eight = Array("P5\n# comment\n2 1\n15\n".utf8) + [15, 7]
        XCTAssertEqual(try convert(eight, ImageConversion(size: 2, channels: 1, crop: .stretch), name: "a.pgm").prefix(2),
                       [255, 119])
        let ten = Array("P5 2 1 1023\n".utf8) + [0x03, 0xFF, 0x02, 0x00]
        let decoded = try decode(ten, name: "b.pgm")
        XCTAssertEqual(decoded.info.bitDepth, 10)
        XCTAssertEqual(try convert(ten, ImageConversion(size: 2, channels: 1, crop: .stretch), name: "b.pgm").prefix(2),
                       [255, 128])
        let cut = dataError { _ = try decode(Array(ten.dropLast()), name: "c.pgm") }
        XCTAssertEqual(cut, .truncated(path: "c.pgm", expectedBytes: ten.count, actualBytes: ten.count - 1))
    }

    // MARK: Size policy

    func testOddSizedImageUnderEachCropPolicy() throws {
        // 6 x 2, columns 0, 0, 100, 200, 255, 255.
        let row: [UInt8] = [0, 0, 100, 200, 255, 255]
        let png = try ImageFolderTestFiles.png(ImageFolderTestFiles.gray(6, 2, row + row))

        XCTAssertEqual(try convert(png, ImageConversion(size: 2, channels: 1, crop: .center)), [100, 200, 100, 200])

        let padded = try convert(png, ImageConversion(size: 6, channels: 1, crop: .pad, background: .white))
        XCTAssertEqual(Array(padded[0..<12]), [UInt8](repeating: 255, count: 12), "top border")
        XCTAssertEqual(Array(padded[12..<18]), row)
        XCTAssertEqual(Array(padded[18..<24]), row)
        XCTAssertEqual(Array(padded[24..<36]), [UInt8](repeating: 255, count: 12), "bottom border")

        // Stretch to 2 x 2: each output pixel averages 3 columns: (0 + 0 + 100) / 3, (200 + 255 + 255) / 3.
        XCTAssertEqual(try convert(png, ImageConversion(size: 2, channels: 1, crop: .stretch)), [33, 237, 33, 237])

        // A 37 x 23 image of one value stays that value everywhere, in each policy and size.
        let odd = try ImageFolderTestFiles.png(RasterImage(width: 37, height: 23, channels: 3, filledWith: 77))
        for crop in CropPolicy.allCases {
            for size in [8, 16, 64] {
                let out = try convert(odd, ImageConversion(size: size, channels: 3, crop: crop, background: .white))
                XCTAssertEqual(out.count, 3 * size * size)
                let expected: Set<UInt8> = crop == .pad ? [77, 255] : [77]
                XCTAssertEqual(Set(out), expected, "\(crop) to \(size)")
            }
        }
    }

    func testDownscaleAveragesAreasAndUpscaleIsBilinear() throws {
        // A one-pixel checkerboard: area averaging gives flat gray; point sampling would give 0 or 255.
        var checker: [UInt8] = []
        for y in 0..<8 { for x in 0..<8 { checker.append((x + y) % 2 == 0 ? 0 : 255) } }
        let png = try ImageFolderTestFiles.png(ImageFolderTestFiles.gray(8, 8, checker))
        XCTAssertEqual(Set(try convert(png, ImageConversion(size: 4, channels: 1))), [128])
        XCTAssertEqual(Set(try convert(png, ImageConversion(size: 3, channels: 1))).count, 3,
                       "8 -> 3 covers partial pixels; values vary but stay near gray")
        XCTAssertTrue(try convert(png, ImageConversion(size: 3, channels: 1)).allSatisfy { (100...156).contains($0) })

        // 2 -> 4 bilinear with half-pixel centres: 0, 64, 191, 255.
        let ramp = try ImageFolderTestFiles.png(ImageFolderTestFiles.gray(2, 1, [0, 255]))
        XCTAssertEqual(Array(try convert(ramp, ImageConversion(size: 4, channels: 1, crop: .stretch)).prefix(4)),
                       [0, 64, 191, 255])
    }

    // MARK: Folders as datasets

    func testEmptyFolderAndJunkOnlyFolderGiveClearErrors() throws {
        let empty = root + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let contents = try ImageFolder.load(empty, conversion: ImageConversion(size: 8, channels: 1))
        XCTAssertTrue(contents.files.isEmpty)
        guard case .invalidDataset(let message)? = dataError({ try contents.requireImages() }) else {
            return XCTFail("expected invalidDataset")
        }
        XCTAssertTrue(message.contains(empty) && message.contains("the folder is empty"), message)
        guard case .invalidDataset(let located)? = dataError({ _ = try ImageDataset.load(empty, targetSize: 32) }) else {
            return XCTFail("expected invalidDataset")
        }
        XCTAssertTrue(located.contains("holds no images") && located.contains("*train*images*idx3*"), located)

        let junk = root + "/junk"
        try write("junk/.DS_Store", [1, 2, 3])
        try write("junk/readme.txt", [65])
        guard case .invalidDataset(let junkMessage)? = dataError({ _ = try ImageDataset.load(junk, targetSize: 32) }) else {
            return XCTFail("expected invalidDataset")
        }
        XCTAssertTrue(junkMessage.contains("1 non-image files (such as readme.txt)")
                      && junkMessage.contains("1 hidden entries (such as .DS_Store)"), junkMessage)

        try write("one.png", grayPNG(1))
        guard case .invalidDataset(let single)? = dataError({ _ = try ImageDataset.load(root + "/one.png", targetSize: 4) })
        else { return XCTFail("expected invalidDataset") }
        XCTAssertTrue(single.contains("single image"), single)
        XCTAssertThrowsError(try ImageDataset.load(root, targetSize: nil))
        XCTAssertThrowsError(try ImageDataset.load(root, targetSize: 4, channels: 2))
    }

    func testDatasetSmallerThanTheBatchIsRefused() throws {
        try write("a.png", grayPNG(1))
        try write("b.png", grayPNG(2))
        try write("c.png", grayPNG(3))
        let dataset = try ImageDataset.load(root, targetSize: 4)
        XCTAssertEqual(dataset.count, 3)
        XCTAssertNoThrow(try dataset.validateBatchSize(2))
        XCTAssertEqual(try dataset.batches(size: 2, seed: 1, epoch: 0).map(\.count), [2],
                       "the leftover single image is dropped, so batch norm never sees a batch of one")
        guard case .invalidDataset(let message)? = dataError({ try dataset.validateBatchSize(64) }) else {
            return XCTFail("expected invalidDataset")
        }
        XCTAssertTrue(message.contains("64") && message.contains("3 images"), message)
    }

    func testParallelDecodingMatchesOneThread() throws {
        for i in 0..<23 {
            var pixels: [UInt8] = []
            for p in 0..<(11 + i) * 7 * 3 { pixels.append(UInt8((p * 31 + i * 7) % 256)) }
            try write("img\(i).png", ImageFolderTestFiles.png(RasterImage(width: 11 + i, height: 7, channels: 3, pixels: pixels)))
        }
        let conversion = ImageConversion(size: 8, channels: 3, crop: .pad)
        let one = try ImageFolder.load(root, conversion: conversion, threads: 1)
        let many = try ImageFolder.load(root, conversion: conversion, threads: 4)
        XCTAssertEqual(one.files, many.files)
        XCTAssertEqual(one.pixels, many.pixels)
        XCTAssertEqual(one.files.count, 23)
    }

    func testIDXStillLoadsAndCanBeCopiedIntoThreeChannels() throws {
        let path = root + "/train-images-idx3-ubyte"
        try IDX.write(IDXArray(shape: [2, 2, 2], bytes: [0, 255, 255, 0, 10, 20, 30, 40]), to: path, compressed: false)
        let gray = try ImageDataset.load(path)
        XCTAssertEqual(gray.channels, 1)
        let rgb = try ImageDataset.load(path, channels: 3)
        XCTAssertEqual(rgb.channels, 3)
        XCTAssertEqual(Array(rgb.pixels[0..<12]), Array(gray.pixels[0..<4]) + Array(gray.pixels[0..<4]) + Array(gray.pixels[0..<4]))
        XCTAssertEqual(try DatasetLocator.locate(root), .idx(images: path, labels: nil))
    }
}

final class EXIFOrientationTests: XCTestCase {
    /// A JPEG with an EXIF block (APP1) holding only the orientation tag, inserted after the start-of-image marker.
    static func withOrientation(_ jpeg: [UInt8], _ value: UInt16, littleEndian: Bool) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)] }
        func u32(_ v: UInt32) -> [UInt8] { littleEndian ? u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) : u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) }
        // TIFF header, one directory with two entries (a width tag first, then the orientation), no next directory.
        var tiff: [UInt8] = (littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]) + u16(42) + u32(8)
        tiff += u16(2)
        tiff += u16(0x0100) + u16(4) + u32(1) + u32(640)
        tiff += u16(0x0112) + u16(3) + u32(1) + u16(value) + u16(0)
        tiff += u32(0)
        let body: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
        let length = body.count + 2
        return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + body + Array(jpeg.dropFirst(2))
    }

    /// Each orientation against a hand-worked 3x2 example (pixels numbered row by row as stored).
    func testEveryOrientationTurnsAStoredImageUpright() {
        let stored = [1, 2, 3,
                      4, 5, 6]
        let expected: [Int: (w: Int, h: Int, pixels: [Int])] = [
            1: (3, 2, [1, 2, 3, 4, 5, 6]),
            2: (3, 2, [3, 2, 1, 6, 5, 4]),
            3: (3, 2, [6, 5, 4, 3, 2, 1]),
            4: (3, 2, [4, 5, 6, 1, 2, 3]),
            5: (2, 3, [1, 4, 2, 5, 3, 6]),
            6: (2, 3, [4, 1, 5, 2, 6, 3]),
            7: (2, 3, [6, 3, 5, 2, 4, 1]),
            8: (2, 3, [3, 6, 2, 5, 1, 4]),
        ]
        for (orientation, want) in expected {
            let got = EXIFOrientation.apply(orientation, to: stored, width: 3, height: 2, channels: 1)
            XCTAssertEqual(got.width, want.w, "\(orientation)")
            XCTAssertEqual(got.height, want.h, "\(orientation)")
            XCTAssertEqual(got.samples, want.pixels, "\(orientation)")
        }
        // Channels move together.
        let rgb = EXIFOrientation.apply(6, to: [1, 1, 1, 2, 2, 2], width: 2, height: 1, channels: 3)
        XCTAssertEqual(rgb.samples, [1, 1, 1, 2, 2, 2])
        XCTAssertEqual(rgb.width, 1)
    }

    /// A photo stored sideways with orientation 6 (left half dark) decodes upright (top half dark), in both byte
    /// orders, in a folder and through ImageIO; damaged or missing EXIF leaves the picture as stored.
    func testJPEGOrientationIsAppliedWhenDecoding() throws {
        var pixels: [UInt8] = []
        for _ in 0..<8 { for x in 0..<16 { pixels.append(x < 8 ? 10 : 240) } }
        let jpeg = ImageFolderTestFiles.jpeg(RasterImage(width: 16, height: 8, channels: 1, pixels: pixels), quality: 100)
        XCTAssertNil(EXIFOrientation.read(jpeg: jpeg))
        let stored = try ImageIO.decodeImage(jpeg, path: "j")
        for little in [true, false] {
            let turned = EXIFOrientationTests.withOrientation(jpeg, 6, littleEndian: little)
            XCTAssertEqual(EXIFOrientation.read(jpeg: turned), 6)
            let image = try ImageIO.decodeImage(turned, path: "turned.jpg")
            XCTAssertEqual([image.width, image.height], [8, 16])
            // stb_image_write stores gray as three-component JPEG.
            XCTAssertEqual(image.channels, stored.channels)
            XCTAssertLessThan(image.pixels[(2 * 8 + 4) * image.channels], 60, "top half dark")
            XCTAssertGreaterThan(image.pixels[(13 * 8 + 4) * image.channels], 200, "bottom half light")
            let decoded = try ImageFolder.decode(turned, path: "turned.jpg", maxPixels: 1 << 20)
            XCTAssertEqual([decoded.info.width, decoded.info.height], [8, 16])
        }
        // Damaged blocks: a wrong TIFF magic, an out-of-range value, a directory offset past the end.
        var bad = EXIFOrientationTests.withOrientation(jpeg, 6, littleEndian: true)
        bad[14] = 43   // the magic number 42 after the byte order mark
        XCTAssertNil(EXIFOrientation.read(jpeg: bad))
        XCTAssertNil(EXIFOrientation.read(jpeg: EXIFOrientationTests.withOrientation(jpeg, 9, littleEndian: true)))
        var far = EXIFOrientationTests.withOrientation(jpeg, 6, littleEndian: true)
        far[16] = 0xFF   // the first directory's offset
        XCTAssertNil(EXIFOrientation.read(jpeg: far))
        XCTAssertEqual(try ImageIO.decodeImage(bad, path: "bad.jpg").width, 16)
        // Cut off inside the block: no trap, just no orientation.
        for n in 0..<40 { _ = EXIFOrientation.read(jpeg: Array(EXIFOrientationTests.withOrientation(jpeg, 6, littleEndian: false).prefix(n))) }
    }
}
