import Foundation
import XCTest
@testable import SwiftGANData

/// A strict GIF reader written for these tests: it checks the block structure and decodes LZW
/// independently of stb_image, failing on anything a lenient decoder might forgive (a missing
/// clear code, a missing end code, wrong code widths, bytes left over after the end code).
private struct StrictGIF {
    struct Frame {
        var delayCentiseconds: Int
        var disposal: Int
        var width: Int
        var height: Int
        var indices: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    var width = 0
    var height = 0
    var globalTable: [UInt8] = []
    var loopCount: Int?
    var frames: [Frame] = []

    init(_ bytes: [UInt8]) throws {
        var position = 0
        func byte() throws -> Int {
            guard position < bytes.count else { throw Failure("unexpected end of file at \(position)") }
            defer { position += 1 }
            return Int(bytes[position])
        }
        func uint16() throws -> Int { try byte() | (try byte() << 8) }
        func take(_ count: Int) throws -> [UInt8] {
            guard position + count <= bytes.count else { throw Failure("unexpected end of file") }
            defer { position += count }
            return Array(bytes[position..<position + count])
        }
        func subBlocks() throws -> [UInt8] {
            var data: [UInt8] = []
            while true {
                let size = try byte()
                if size == 0 { return data }
                data += try take(size)
            }
        }

        guard try take(6) == Array("GIF89a".utf8) else { throw Failure("not GIF89a") }
        width = try uint16()
        height = try uint16()
        let packed = try byte()
        _ = try byte()
        _ = try byte()
        if packed & 0x80 != 0 {
            globalTable = try take(3 << ((packed & 7) + 1))
        }
        var pendingDelay = -1
        var pendingDisposal = 0
        while true {
            let introducer = try byte()
            switch introducer {
            case 0x21:
                let label = try byte()
                let data = try subBlocks()
                if label == 0xF9 {
                    guard data.count == 4 else { throw Failure("graphic control extension size \(data.count)") }
                    pendingDisposal = Int(data[0] >> 2) & 7
                    pendingDelay = Int(data[1]) | Int(data[2]) << 8
                } else if label == 0xFF, data.count == 14, Array(data[0..<11]) == Array("NETSCAPE2.0".utf8) {
                    loopCount = Int(data[12]) | Int(data[13]) << 8
                }
            case 0x2C:
                _ = try uint16()
                _ = try uint16()
                let frameWidth = try uint16()
                let frameHeight = try uint16()
                let flags = try byte()
                if flags & 0x80 != 0 { _ = try take(3 << ((flags & 7) + 1)) }
                let minimumCodeSize = try byte()
                let indices = try StrictGIF.lzwDecode(try subBlocks(), minimumCodeSize: minimumCodeSize)
                guard indices.count == frameWidth * frameHeight else {
                    throw Failure("frame has \(indices.count) indices for \(frameWidth)x\(frameHeight)")
                }
                frames.append(Frame(delayCentiseconds: pendingDelay, disposal: pendingDisposal,
                                    width: frameWidth, height: frameHeight, indices: indices))
                pendingDelay = -1
            case 0x3B:
                guard position == bytes.count else { throw Failure("bytes after the trailer") }
                return
            default:
                throw Failure("unknown block 0x\(String(introducer, radix: 16)) at \(position - 1)")
            }
        }
    }

    static func lzwDecode(_ data: [UInt8], minimumCodeSize: Int) throws -> [UInt8] {
        let clear = 1 << minimumCodeSize
        let end = clear + 1
        var table: [[UInt8]] = []
        func reset() {
            table = (0..<clear).map { [UInt8($0)] }
            table.append([])
            table.append([])
        }
        reset()
        var codeSize = minimumCodeSize + 1
        var bitPosition = 0
        func readCode() throws -> Int {
            guard bitPosition + codeSize <= data.count * 8 else {
                throw Failure("LZW data ended without an end code")
            }
            var code = 0
            for i in 0..<codeSize {
                let bit = bitPosition + i
                code |= Int((data[bit >> 3] >> UInt8(bit & 7)) & 1) << i
            }
            bitPosition += codeSize
            return code
        }
        var output: [UInt8] = []
        var previous: [UInt8]? = nil
        guard try readCode() == clear else { throw Failure("LZW data does not start with a clear code") }
        while true {
            let code = try readCode()
            if code == clear {
                reset()
                codeSize = minimumCodeSize + 1
                previous = nil
                continue
            }
            if code == end {
                let usedBytes = (bitPosition + 7) / 8
                guard usedBytes == data.count else {
                    throw Failure("\(data.count - usedBytes) bytes after the end code")
                }
                if bitPosition % 8 != 0, data[usedBytes - 1] >> UInt8(bitPosition % 8) != 0 {
                    throw Failure("nonzero padding bits after the end code")
                }
                return output
            }
            let entry: [UInt8]
            if code < table.count, code != clear, code != end {
                entry = table[code]
            } else if code == table.count, let previous {
                entry = previous + [previous[0]]
            } else {
                throw Failure("invalid code \(code) with \(table.count) table entries")
            }
            if let previous, table.count < 4096 {
                table.append(previous + [entry[0]])
            }
            output += entry
            previous = entry
            if table.count == 1 << codeSize && codeSize < 12 {
                codeSize += 1
            }
        }
    }
}

final class GIFEncoderTests: XCTestCase {
    private func grayFrame(width: Int, height: Int, seed: UInt64) -> RasterImage {
        RasterImage(width: width, height: height, channels: 1,
                    pixels: FileFormatTestHelpers.bytes(count: width * height, seed: seed))
    }

    func testGrayFramesDecodeExactlyWithStb() throws {
        let frames = (0..<3).map { grayFrame(width: 37, height: 23, seed: UInt64(10 + $0)) }
        let bytes = try GIFEncoder.encode(frames: frames, delayCentiseconds: 7)
        let decoded = try ImageIO.decodeGIFFrames(bytes, path: "test.gif")
        XCTAssertEqual(decoded.frames.count, 3)
        XCTAssertEqual(decoded.delaysMs, [70, 70, 70])
        for (index, frame) in decoded.frames.prefix(frames.count).enumerated() {
            XCTAssertEqual(frame.width, 37)
            XCTAssertEqual(frame.height, 23)
            var expected: [UInt8] = []
            for gray in frames[index].pixels { expected += [gray, gray, gray, 255] }
            XCTAssertEqual(frame.pixels, expected, "frame \(index) differs")
        }
    }

    func testFileStructureAndStrictDecoding() throws {
        let frames = [grayFrame(width: 64, height: 50, seed: 1),
                      RasterImage(width: 64, height: 50, channels: 1, filledWith: 200),
                      // gray + alpha: the alpha byte must be ignored
                      RasterImage(width: 64, height: 50, channels: 2,
                                  pixels: (0..<(64 * 50)).flatMap { [UInt8($0 % 251), 0] })]
        let bytes = try GIFEncoder.encode(frames: frames, delayCentiseconds: 300)
        XCTAssertEqual(Array(bytes.prefix(6)), Array("GIF89a".utf8))
        XCTAssertEqual(Array(bytes[6..<13]), [64, 0, 50, 0, 0xF7, 0, 0])
        XCTAssertEqual(bytes.last, 0x3B)

        let gif = try StrictGIF(bytes)
        XCTAssertEqual(gif.width, 64)
        XCTAssertEqual(gif.height, 50)
        XCTAssertEqual(gif.loopCount, 0, "NETSCAPE2.0 loop count 0 = forever")
        XCTAssertEqual(gif.globalTable.count, 768)
        XCTAssertEqual(Array(gif.globalTable[(3 * 77)..<(3 * 78)]), [77, 77, 77])
        guard gif.frames.count == 3 else { return XCTFail("\(gif.frames.count) frames, expected 3") }
        XCTAssertEqual(gif.frames.map(\.delayCentiseconds), [300, 300, 300])
        XCTAssertEqual(gif.frames.map(\.disposal), [1, 1, 1])
        XCTAssertEqual(gif.frames[0].indices, frames[0].pixels)
        XCTAssertEqual(gif.frames[1].indices, [UInt8](repeating: 200, count: 64 * 50))
        XCTAssertEqual(gif.frames[2].indices, (0..<(64 * 50)).map { UInt8($0 % 251) })
    }

    func testLZWRoundTripAcrossCodeWidthAndTableResetBoundaries() throws {
        // Random data: about one code per byte, so these lengths put the last code and the
        // end code on each side of the 9->10 bit switch and of the first table reset.
        var lengths = Array(0...40) + Array(245...275) + Array(3820...3860)
        lengths += [10_000, 70_000]
        for length in lengths {
            let input = FileFormatTestHelpers.bytes(count: length, seed: UInt64(length))
            let compressed = GIFEncoder.lzwCompress(input)
            let output = try StrictGIF.lzwDecode(compressed, minimumCodeSize: 8)
            XCTAssertEqual(output, input, "random input of length \(length)")
        }
        // Long runs and low-entropy data build long strings.
        for length in [1, 2, 3, 1000, 33_000, 33_153, 200_000] {
            let input = [UInt8](repeating: 9, count: length)
            XCTAssertEqual(try StrictGIF.lzwDecode(GIFEncoder.lzwCompress(input), minimumCodeSize: 8), input)
        }
        let lowEntropy = FileFormatTestHelpers.bytes(count: 150_000, seed: 3).map { $0 & 3 }
        XCTAssertEqual(try StrictGIF.lzwDecode(GIFEncoder.lzwCompress(lowEntropy), minimumCodeSize: 8),
                       lowEntropy)
        // Runs compress: 200 000 equal bytes need far fewer than 200 000 codes.
        XCTAssertLessThan(GIFEncoder.lzwCompress([UInt8](repeating: 1, count: 200_000)).count, 2_000)
    }

    func testLargeRandomGrayFrameDecodesExactlyWithStb() throws {
        let frame = grayFrame(width: 301, height: 299, seed: 99)
        let decoded = try ImageIO.decodeGIFFrames(try GIFEncoder.encode(frames: [frame]), path: "big.gif")
        XCTAssertEqual(decoded.frames.count, 1)
        XCTAssertEqual(decoded.frames[0].pixels.enumerated().filter { $0.offset % 4 == 0 }.map(\.element),
                       frame.pixels)
    }

    func testColorCubePalette() {
        let palette = GIFEncoder.colorCubePalette
        XCTAssertEqual(palette.count, 768)
        XCTAssertEqual(Array(palette[0..<3]), [0, 0, 0])
        XCTAssertEqual(Array(palette[(251 * 3)..<(252 * 3)]), [255, 255, 255])
        // entry r*42 + g*6 + b
        func entry(_ r: Int, _ g: Int, _ b: Int) -> [UInt8] {
            let start: Int = (r * 42 + g * 6 + b) * 3
            return Array(palette[start..<(start + 3)])
        }
        XCTAssertEqual(entry(2, 3, 4), [102, 128, 204])
        XCTAssertEqual(entry(1, 1, 0), [51, 43, 0])
        XCTAssertEqual(entry(5, 6, 5), [255, 255, 255])
    }

    func testRGBFramesMapToNearestPaletteColour() throws {
        let width = 40, height = 30
        let random = RasterImage(width: width, height: height, channels: 3,
                                 pixels: FileFormatTestHelpers.bytes(count: width * height * 3, seed: 8))
        // Colours that are exactly in the palette must come back unchanged.
        let exactColours: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [102, 128, 204],
                                       [51, 43, 153], [255, 255, 255], [0, 0, 0], [204, 213, 51]]
        var exactPixels: [UInt8] = []
        for i in 0..<(width * height) { exactPixels += exactColours[i % exactColours.count] }
        let exact = RasterImage(width: width, height: height, channels: 3, pixels: exactPixels)
        // RGBA: alpha is ignored.
        let rgba = RasterImage(width: width, height: height, channels: 4,
                               pixels: (0..<(width * height)).flatMap { _ in [255, 0, 0, 0] as [UInt8] })

        let decoded = try ImageIO.decodeGIFFrames(
            try GIFEncoder.encode(frames: [exact, random, rgba], delayCentiseconds: 5), path: "rgb.gif")
        guard decoded.frames.count == 3 else { return XCTFail("\(decoded.frames.count) frames, expected 3") }

        func rgb(_ image: RasterImage) -> [UInt8] {
            image.pixels.enumerated().filter { $0.offset % 4 != 3 }.map(\.element)
        }
        XCTAssertEqual(rgb(decoded.frames[0]), exactPixels)
        XCTAssertEqual(rgb(decoded.frames[2]), [UInt8]((0..<(width * height)).flatMap { _ in [255, 0, 0] }))

        let got = rgb(decoded.frames[1])
        XCTAssertEqual(got.count, random.pixels.count)
        for i in 0..<got.count {
            let halfStep = (i % 3 == 1) ? 255.0 / 12 : 255.0 / 10  // green has 7 levels, red/blue 6
            let error = abs(Double(got[i]) - Double(random.pixels[i]))
            XCTAssertLessThanOrEqual(error, halfStep + 0.5, "byte \(i): \(random.pixels[i]) -> \(got[i])")
            if error > halfStep + 0.5 { break }
        }
    }

    func testOrderedDitherPreservesAverageColour() throws {
        // A flat colour between palette levels: plain mapping shifts it, dithering keeps the mean.
        let colour: [UInt8] = [30, 100, 140]
        let side = 32
        let flat = RasterImage(width: side, height: side, channels: 3,
                               pixels: (0..<(side * side)).flatMap { _ in colour })
        func meanColour(dither: Bool) throws -> [Double] {
            let frame = try ImageIO.decodeGIFFrames(try GIFEncoder.encode(frames: [flat], dither: dither),
                                                    path: "dither.gif").frames[0]
            return (0..<3).map { c in
                Double(stride(from: c, to: frame.pixels.count, by: 4).map { Int(frame.pixels[$0]) }
                    .reduce(0, +)) / Double(side * side)
            }
        }
        let plain = try meanColour(dither: false)
        let dithered = try meanColour(dither: true)
        XCTAssertEqual(plain, [51, 85, 153])
        for c in 0..<3 {
            XCTAssertEqual(dithered[c], Double(colour[c]), accuracy: 3, "channel \(c): \(dithered)")
        }
    }

    func testWriteToFileIsReadableAsImage() throws {
        let directory = try FileFormatTestHelpers.makeScratchDirectory("gif")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let frames = (0..<4).map { grayFrame(width: 16, height: 9, seed: UInt64($0)) }
        let path = "\(directory)/sub/anim.gif"
        try GIFEncoder.write(frames: frames, to: path, delayCentiseconds: 20)
        let first = try ImageIO.readImage(path)  // stb_image reads the first frame
        XCTAssertEqual(first.width, 16)
        XCTAssertEqual(first.height, 9)
        XCTAssertEqual(stride(from: 0, to: first.pixels.count, by: first.channels).map { first.pixels[$0] },
                       frames[0].pixels)
        XCTAssertEqual(try StrictGIF(try readFileBytes(path)).frames.count, 4)
    }

    func testInvalidInputsThrowWriteFailedNamingPath() {
        let a = RasterImage(width: 4, height: 4, channels: 1, filledWith: 0)
        let b = RasterImage(width: 5, height: 4, channels: 1, filledWith: 0)
        let path = "/tmp/never-written-\(getpid()).gif"
        let cases: [(String, () throws -> Void)] = [
            ("no frames", { try GIFEncoder.write(frames: [], to: path) }),
            ("size mismatch", { try GIFEncoder.write(frames: [a, b], to: path) }),
            ("negative delay", { try GIFEncoder.write(frames: [a], to: path, delayCentiseconds: -1) }),
            ("delay too long", { try GIFEncoder.write(frames: [a], to: path, delayCentiseconds: 70_000) }),
        ]
        for (label, action) in cases {
            XCTAssertThrowsError(try action(), label) { error in
                guard case .writeFailed(let errorPath, _)? = error as? DataError else {
                    return XCTFail("\(label): expected .writeFailed, got \(error)")
                }
                XCTAssertEqual(errorPath, path, label)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
