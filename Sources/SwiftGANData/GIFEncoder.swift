import Foundation

/// Writes animated GIF89a files, for example one frame per training epoch.
///
/// Layout: a 256-entry global colour table, a NETSCAPE2.0 application extension that makes
/// viewers loop forever, and for every frame a graphic control extension (delay in 1/100 s,
/// disposal "leave in place", no transparency) followed by a full-size image compressed with
/// variable-width LZW (minimum code size 8, codes of 9 to 12 bits, a clear code at the start
/// and whenever the 4096-entry table fills).
///
/// Palettes:
/// - If every frame is gray (1 or 2 channels), the table is the 256 gray levels and the
///   gray values are stored exactly.
/// - Otherwise the table is a fixed 6x7x6 colour cube (252 colours: red and blue levels
///   0, 51, 102, 153, 204, 255; green levels round(k * 255 / 6) = 0, 43, 85, 128, 170, 213, 255;
///   entry `r * 42 + g * 6 + b`; the last 4 entries are black and unused). Each pixel maps to
///   the nearest colour of the cube (per channel, which is the Euclidean nearest for a grid),
///   or, with `dither: true`, is first offset by a 4x4 ordered (Bayer) dither of up to
///   half a level step, which trades a fine pattern for smoother gradients.
///   Gray frames mixed with colour frames are treated as RGB with R = G = B.
///
/// Alpha channels (2 or 4 channels) are ignored.
public enum GIFEncoder {
    /// Encodes `frames` and writes the GIF to `path` atomically (see `writeAtomically`).
    ///
    /// - Parameters:
    ///   - frames: at least one image; all the same width and height, at most 65535 each.
    ///   - delayCentiseconds: how long each frame is shown, in 1/100 s (0...65535).
    ///   - dither: use ordered dithering when mapping colour frames to the 6x7x6 palette.
    /// - Throws: `DataError.writeFailed` naming `path` for invalid frames or a failed write.
    public static func write(frames: [RasterImage], to path: String, delayCentiseconds: Int = 10,
                             dither: Bool = false) throws {
        let bytes = try encode(frames: frames, delayCentiseconds: delayCentiseconds, dither: dither,
                               path: path)
        try writeAtomically(bytes, to: path)
    }

    /// Encodes `frames` as GIF89a bytes in memory; see `write(frames:to:delayCentiseconds:dither:)`.
    ///
    /// - Throws: `DataError.writeFailed` with the path `<GIF in memory>` for invalid frames.
    public static func encode(frames: [RasterImage], delayCentiseconds: Int = 10,
                              dither: Bool = false) throws -> [UInt8] {
        try encode(frames: frames, delayCentiseconds: delayCentiseconds, dither: dither,
                   path: "<GIF in memory>")
    }

    /// The 6x7x6 colour cube used for colour frames, as 256 RGB triples (the last 4 black).
    public static let colorCubePalette: [UInt8] = {
        var table: [UInt8] = []
        table.reserveCapacity(768)
        for r in 0..<6 {
            for g in 0..<7 {
                for b in 0..<6 {
                    table.append(cubeLevel(r, of: 6))
                    table.append(cubeLevel(g, of: 7))
                    table.append(cubeLevel(b, of: 6))
                }
            }
        }
        table.append(contentsOf: [UInt8](repeating: 0, count: 768 - table.count))
        return table
    }()

    // MARK: - Implementation

    private static func cubeLevel(_ index: Int, of levels: Int) -> UInt8 {
        UInt8((Double(index) * 255.0 / Double(levels - 1)).rounded())
    }

    /// 4x4 Bayer matrix, values 0...15.
    private static let bayer: [Int] = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5]

    static func encode(frames: [RasterImage], delayCentiseconds: Int, dither: Bool,
                       path: String) throws -> [UInt8] {
        guard let first = frames.first else {
            throw DataError.writeFailed(path: path, reason: "a GIF needs at least one frame")
        }
        let width = first.width
        let height = first.height
        guard width <= 0xFFFF, height <= 0xFFFF else {
            throw DataError.writeFailed(path: path, reason: "GIF frames are limited to 65535x65535, "
                                        + "got \(width)x\(height)")
        }
        for (index, frame) in frames.enumerated() {
            guard frame.width == width, frame.height == height else {
                throw DataError.writeFailed(
                    path: path, reason: "frame \(index) is \(frame.width)x\(frame.height), "
                        + "frame 0 is \(width)x\(height); all frames must have the same size")
            }
            guard (1...4).contains(frame.channels),
                  frame.pixels.count == frame.width * frame.height * frame.channels else {
                throw DataError.writeFailed(path: path, reason: "frame \(index) is not a valid image")
            }
        }
        guard (0...0xFFFF).contains(delayCentiseconds) else {
            throw DataError.writeFailed(path: path, reason: "delay \(delayCentiseconds) cs is outside 0...65535")
        }
        let grayscale = frames.allSatisfy { $0.channels <= 2 }

        var out: [UInt8] = []
        out.reserveCapacity(1024 + frames.count * width * height)
        out.append(contentsOf: Array("GIF89a".utf8))
        // Logical screen descriptor: size, global table present (bit 7), 8-bit colour
        // resolution (bits 4-6 = 7), table size 2^(7+1) = 256 (bits 0-2 = 7).
        appendUInt16(&out, width)
        appendUInt16(&out, height)
        out.append(0xF7)
        out.append(0)  // background colour index
        out.append(0)  // pixel aspect ratio: none given
        if grayscale {
            for level in 0...255 {
                let value = UInt8(level)
                out.append(contentsOf: [value, value, value])
            }
        } else {
            out.append(contentsOf: colorCubePalette)
        }
        // NETSCAPE2.0 application extension: loop count 0 = forever.
        out.append(contentsOf: [0x21, 0xFF, 0x0B])
        out.append(contentsOf: Array("NETSCAPE2.0".utf8))
        out.append(contentsOf: [0x03, 0x01, 0x00, 0x00, 0x00])

        for frame in frames {
            // Graphic control extension: disposal method 1 (do not dispose), no transparency.
            out.append(contentsOf: [0x21, 0xF9, 0x04, 0x04])
            appendUInt16(&out, delayCentiseconds)
            out.append(contentsOf: [0x00, 0x00])
            // Image descriptor: whole screen, no local table, not interlaced.
            out.append(0x2C)
            appendUInt16(&out, 0)
            appendUInt16(&out, 0)
            appendUInt16(&out, width)
            appendUInt16(&out, height)
            out.append(0x00)
            let indices = grayscale ? grayIndices(frame) : colorIndices(frame, dither: dither)
            out.append(8)  // LZW minimum code size
            appendSubBlocks(&out, lzwCompress(indices))
        }
        out.append(0x3B)  // trailer
        return out
    }

    private static func appendUInt16(_ out: inout [UInt8], _ value: Int) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    /// Splits `data` into sub-blocks of at most 255 bytes followed by the block terminator.
    private static func appendSubBlocks(_ out: inout [UInt8], _ data: [UInt8]) {
        var start = 0
        while start < data.count {
            let end = min(start + 255, data.count)
            out.append(UInt8(end - start))
            out.append(contentsOf: data[start..<end])
            start = end
        }
        out.append(0)
    }

    private static func grayIndices(_ frame: RasterImage) -> [UInt8] {
        if frame.channels == 1 { return frame.pixels }
        var indices = [UInt8](repeating: 0, count: frame.width * frame.height)
        for i in 0..<indices.count { indices[i] = frame.pixels[i * frame.channels] }
        return indices
    }

    private static func colorIndices(_ frame: RasterImage, dither: Bool) -> [UInt8] {
        let channels = frame.channels
        var indices = [UInt8](repeating: 0, count: frame.width * frame.height)
        for y in 0..<frame.height {
            for x in 0..<frame.width {
                let p = (y * frame.width + x) * channels
                let r: UInt8
                let g: UInt8
                let b: UInt8
                if channels >= 3 {
                    r = frame.pixels[p]
                    g = frame.pixels[p + 1]
                    b = frame.pixels[p + 2]
                } else {
                    r = frame.pixels[p]
                    g = r
                    b = r
                }
                // Threshold in (-0.5, 0.5) level steps, or 0 without dithering.
                let offset = dither ? (Double(bayer[(y & 3) * 4 + (x & 3)]) + 0.5) / 16.0 - 0.5 : 0
                let ri = quantize(r, levels: 6, offset: offset)
                let gi = quantize(g, levels: 7, offset: offset)
                let bi = quantize(b, levels: 6, offset: offset)
                indices[y * frame.width + x] = UInt8(ri * 42 + gi * 6 + bi)
            }
        }
        return indices
    }

    /// The nearest of `levels` evenly spaced levels to `value` (after adding `offset` steps).
    private static func quantize(_ value: UInt8, levels: Int, offset: Double) -> Int {
        let position = Double(value) * Double(levels - 1) / 255.0 + offset
        let level = Int(position.rounded())
        return min(max(level, 0), levels - 1)
    }

    /// Variable-code-size LZW as GIF uses it, for 8-bit indices (minimum code size 8).
    ///
    /// Codes are packed least significant bit first. The stream starts with a clear code,
    /// the code width grows from 9 bits when the next free code reaches 2^width (up to 12),
    /// a clear code resets the table when all 4096 codes are used, and an end code closes it.
    static func lzwCompress(_ indices: [UInt8]) -> [UInt8] {
        let minimumCodeSize = 8
        let clearCode = 1 << minimumCodeSize
        let endCode = clearCode + 1
        let maxCode = 4096

        var output: [UInt8] = []
        output.reserveCapacity(indices.count + 16)
        var bitBuffer: UInt32 = 0
        var bitCount = 0
        var codeSize = minimumCodeSize + 1

        func emit(_ code: Int) {
            bitBuffer |= UInt32(code) << UInt32(bitCount)
            bitCount += codeSize
            while bitCount >= 8 {
                output.append(UInt8(truncatingIfNeeded: bitBuffer))
                bitBuffer >>= 8
                bitCount -= 8
            }
        }

        // table[prefix * 256 + byte] = code for the string prefix+byte, or -1.
        var table = [Int16](repeating: -1, count: maxCode * 256)
        var usedSlots: [Int] = []
        usedSlots.reserveCapacity(maxCode)
        var nextCode = endCode + 1

        emit(clearCode)
        guard var prefix = indices.first.map(Int.init) else {
            emit(endCode)
            if bitCount > 0 { output.append(UInt8(truncatingIfNeeded: bitBuffer)) }
            return output
        }
        for byte in indices.dropFirst() {
            let slot = prefix << 8 | Int(byte)
            let known = table[slot]
            if known >= 0 {
                prefix = Int(known)
                continue
            }
            emit(prefix)
            // The decoder adds this same entry after reading the next code; it widens its
            // codes as soon as its next free code reaches 2^codeSize, and so must we.
            table[slot] = Int16(nextCode)
            usedSlots.append(slot)
            if nextCode == 1 << codeSize && codeSize < 12 {
                codeSize += 1
            }
            nextCode += 1
            if nextCode == maxCode {
                emit(clearCode)
                for used in usedSlots { table[used] = -1 }
                usedSlots.removeAll(keepingCapacity: true)
                nextCode = endCode + 1
                codeSize = minimumCodeSize + 1
            }
            prefix = Int(byte)
        }
        emit(prefix)
        // The decoder adds an entry for this last code too, and may widen before the end code.
        if nextCode < maxCode && nextCode == 1 << codeSize && codeSize < 12 {
            codeSize += 1
        }
        emit(endCode)
        if bitCount > 0 { output.append(UInt8(truncatingIfNeeded: bitBuffer)) }
        return output
    }
}
