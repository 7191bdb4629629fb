/// The EXIF orientation of a JPEG file (tag 0x0112): cameras and phones store the pixels as the sensor saw them
/// and record in this tag how to turn them so the picture stands upright. Image viewers apply it; so does SwiftGAN,
/// or a folder of phone photos would train on sideways pictures.
///
/// Values (EXIF 2.3, section 4.6.4): 1 upright, 2 mirrored left-right, 3 turned 180 degrees, 4 mirrored top-bottom,
/// 5 transposed (mirrored across the main diagonal), 6 to be turned 90 degrees clockwise, 7 transversed (mirrored
/// across the other diagonal), 8 to be turned 90 degrees counterclockwise.
public enum EXIFOrientation {
    /// The orientation recorded in a JPEG file's EXIF block, or nil when the file has none or the block is damaged
    /// (the image is then used as stored). Reads only the markers before the image data; never traps on bad bytes.
    public static func read(jpeg bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return nil }
        var i = 2
        while i + 4 <= bytes.count {
            guard bytes[i] == 0xFF else { return nil }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }                     // fill byte
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }  // no length
            if marker == 0xDA || marker == 0xD9 { return nil }          // image data or end: no EXIF before it
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard length >= 2, i + 2 + length <= bytes.count else { return nil }
            let body = (i + 4)..<(i + 2 + length)
            if marker == 0xE1, body.count >= 6, Array(bytes[body.lowerBound..<(body.lowerBound + 6)]) == [0x45, 0x78, 0x69, 0x66, 0, 0] {
                return orientation(tiff: Array(bytes[(body.lowerBound + 6)..<body.upperBound]))
            }
            i += 2 + length
        }
        return nil
    }

    /// The orientation entry of the first image directory of a TIFF structure (the body of an EXIF block).
    static func orientation(tiff t: [UInt8]) -> Int? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true       // "II"
        case (0x4D, 0x4D): little = false      // "MM"
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= t.count else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let directory = u32(4), let entries = u16(directory) else { return nil }
        for k in 0..<entries {
            let entry = directory + 2 + 12 * k
            guard let tag = u16(entry), let type = u16(entry + 2) else { return nil }
            if tag == 0x0112 {
                guard type == 3, let value = u16(entry + 8), (1...8).contains(value) else { return nil }
                return value
            }
        }
        return nil
    }

    /// The pixels of a `width` x `height` image with `channels` interleaved samples per pixel, turned upright
    /// according to `orientation`; orientations 5 to 8 swap width and height.
    public static func apply<T>(_ orientation: Int, to samples: [T], width: Int, height: Int,
                                channels: Int) -> (samples: [T], width: Int, height: Int) {
        guard (2...8).contains(orientation), samples.count == width * height * channels else { return (samples, width, height) }
        let swaps = orientation >= 5
        let outWidth = swaps ? height : width, outHeight = swaps ? width : height
        var result = samples
        for y in 0..<outHeight {
            for x in 0..<outWidth {
                // The stored pixel that appears at (x, y) of the upright picture.
                let (sx, sy): (Int, Int)
                switch orientation {
                case 2: (sx, sy) = (width - 1 - x, y)
                case 3: (sx, sy) = (width - 1 - x, height - 1 - y)
                case 4: (sx, sy) = (x, height - 1 - y)
                case 5: (sx, sy) = (y, x)
                case 6: (sx, sy) = (y, height - 1 - x)
                case 7: (sx, sy) = (width - 1 - y, height - 1 - x)
                default: (sx, sy) = (width - 1 - y, x)   // 8
                }
                let from = (sy * width + sx) * channels, to = (y * outWidth + x) * channels
                for c in 0..<channels { result[to + c] = samples[from + c] }
            }
        }
        return (result, outWidth, outHeight)
    }
}
