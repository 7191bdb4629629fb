import CStb
import Foundation

/// An 8-bit raster image: `height` rows of `width` pixels, each pixel `channels` bytes.
///
/// Channels are interleaved and rows run top to bottom, so the byte for channel `c` of the
/// pixel at column `x`, row `y` is `pixels[(y * width + x) * channels + c]`.
/// The channel layouts are 1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA.
public struct RasterImage: Equatable, Sendable {
    /// Pixels per row.
    public let width: Int
    /// Number of rows.
    public let height: Int
    /// Bytes per pixel: 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
    public let channels: Int
    /// `width * height * channels` bytes, interleaved, row-major, top row first.
    public let pixels: [UInt8]

    /// Wraps pixel bytes in an image.
    ///
    /// - Precondition: `width` and `height` are positive, `channels` is 1...4 and
    ///   `pixels.count == width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "RasterImage: size must be positive, got \(width)x\(height)")
        precondition((1...4).contains(channels), "RasterImage: channels must be 1...4, got \(channels)")
        precondition(pixels.count == width * height * channels,
                     "RasterImage: expected \(width * height * channels) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image with every byte set to `value`.
    public init(width: Int, height: Int, channels: Int, filledWith value: UInt8) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: value, count: max(0, width * height * channels)))
    }

    /// The `channels` bytes of the pixel at column `x`, row `y` (0-based, from the top left).
    public func pixel(x: Int, y: Int) -> ArraySlice<UInt8> {
        let start = (y * width + x) * channels
        return pixels[start..<start + channels]
    }
}

/// Reading and writing image files through stb_image and stb_image_write.
public enum ImageIO {
    /// Encodes `image` as PNG and writes it to `path` atomically (see `writeAtomically`).
    ///
    /// All four channel layouts are kept as they are (gray, gray + alpha, RGB, RGBA).
    /// - Throws: `DataError.writeFailed` naming `path` if the image cannot be encoded or written.
    public static func writePNG(_ image: RasterImage, to path: String) throws {
        let bytes = try encodePNG(image, path: path)
        try writeAtomically(bytes, to: path)
    }

    /// Reads an image file (PNG, JPEG, BMP, GIF (first frame), TGA, PSD, PNM, ...) into memory.
    ///
    /// The result keeps the file's channel count (1...4); 16-bit images are reduced to 8 bits.
    /// - Throws: `DataError.fileNotFound` or `.unreadable` if the file cannot be read,
    ///   `.unsupported` if it is not an image format stb_image knows, `.malformed` if it is
    ///   damaged (with stb_image's reason).
    public static func readImage(_ path: String) throws -> RasterImage {
        let bytes = try readFileBytes(path)
        return try decodeImage(bytes, path: path)
    }

    /// Decodes image file bytes already in memory; `path` is only used in error messages.
    ///
    /// - Throws: `DataError.unsupported` or `.malformed` naming `path` (see `readImage`).
    public static func decodeImage(_ bytes: [UInt8], path: String) throws -> RasterImage {
        guard !bytes.isEmpty else {
            throw DataError.malformed(path: path, reason: "empty file, not an image")
        }
        guard bytes.count <= Int(Int32.max) else {
            throw DataError.unsupported(path: path, reason: "image files over 2 GiB are not supported")
        }
        var width: Int32 = 0
        var height: Int32 = 0
        var channels: Int32 = 0
        let decoded: UnsafeMutablePointer<UInt8>? = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            return stbi_load_from_memory(base, Int32(buffer.count), &width, &height, &channels, 0)
        }
        guard let decoded else {
            throw stbError(path: path)
        }
        defer { stbi_image_free(decoded) }
        guard width > 0, height > 0, (1...4).contains(channels) else {
            throw DataError.malformed(
                path: path, reason: "decoder returned \(width)x\(height) with \(channels) channels")
        }
        let count = Int(width) * Int(height) * Int(channels)
        let pixels = [UInt8](UnsafeBufferPointer(start: decoded, count: count))
        // A JPEG's EXIF orientation turns the picture upright (nil for other formats).
        let orientation = EXIFOrientation.read(jpeg: bytes) ?? 1
        let upright = EXIFOrientation.apply(orientation, to: pixels, width: Int(width), height: Int(height), channels: Int(channels))
        return RasterImage(width: upright.width, height: upright.height, channels: Int(channels), pixels: upright.samples)
    }

    /// Decodes every frame of a GIF held in memory (used by tests to check `GIFEncoder`).
    ///
    /// Frames come back as RGBA composited by stb_image, with each frame's delay in milliseconds.
    static func decodeGIFFrames(_ bytes: [UInt8], path: String) throws -> (frames: [RasterImage], delaysMs: [Int]) {
        guard !bytes.isEmpty, bytes.count <= Int(Int32.max) else {
            throw DataError.malformed(path: path, reason: "empty or oversized GIF")
        }
        var delays: UnsafeMutablePointer<Int32>? = nil
        var width: Int32 = 0
        var height: Int32 = 0
        var frameCount: Int32 = 0
        var channels: Int32 = 0
        let decoded: UnsafeMutablePointer<UInt8>? = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            return stbi_load_gif_from_memory(base, Int32(buffer.count), &delays, &width, &height,
                                             &frameCount, &channels, 4)
        }
        guard let decoded else { throw stbError(path: path) }
        defer {
            stbi_image_free(decoded)
            if let delays { stbi_image_free(delays) }
        }
        guard width > 0, height > 0, frameCount > 0 else {
            throw DataError.malformed(path: path, reason: "GIF decoded to \(width)x\(height)x\(frameCount)")
        }
        let frameBytes = Int(width) * Int(height) * 4
        var frames: [RasterImage] = []
        var delaysMs: [Int] = []
        for index in 0..<Int(frameCount) {
            let start = decoded + index * frameBytes
            frames.append(RasterImage(width: Int(width), height: Int(height), channels: 4,
                                      pixels: [UInt8](UnsafeBufferPointer(start: start, count: frameBytes))))
            delaysMs.append(delays.map { Int($0[index]) } ?? 0)
        }
        return (frames, delaysMs)
    }

    /// Encodes `image` as PNG bytes in memory (all four channel layouts kept as they are).
    ///
    /// - Throws: `DataError.writeFailed` if the image cannot be encoded.
    public static func encodePNG(_ image: RasterImage) throws -> [UInt8] {
        try encodePNG(image, path: "(PNG in memory)")
    }

    /// Encodes `image` as PNG bytes with stb_image_write; `path` is only used in error messages.
    static func encodePNG(_ image: RasterImage, path: String) throws -> [UInt8] {
        guard (1...4).contains(image.channels), image.width > 0, image.height > 0,
              image.pixels.count == image.width * image.height * image.channels else {
            throw DataError.writeFailed(
                path: path, reason: "inconsistent image \(image.width)x\(image.height)x\(image.channels) "
                    + "with \(image.pixels.count) bytes")
        }
        let stride = image.width * image.channels
        guard stride <= Int(Int32.max), image.height <= Int(Int32.max),
              image.pixels.count <= Int(Int32.max) else {
            throw DataError.writeFailed(path: path, reason: "image too large for PNG encoding "
                                        + "(\(image.width)x\(image.height))")
        }
        let sink = ByteSink()
        let status = image.pixels.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.baseAddress else { return 0 }
            return stbi_write_png_to_func(
                { context, data, size in
                    guard let context, let data, size > 0 else { return }
                    let sink = Unmanaged<ByteSink>.fromOpaque(context).takeUnretainedValue()
                    sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: Int(size)))
                },
                Unmanaged.passUnretained(sink).toOpaque(),
                Int32(image.width), Int32(image.height), Int32(image.channels), base, Int32(stride))
        }
        guard status != 0, !sink.bytes.isEmpty else {
            throw DataError.writeFailed(path: path, reason: "PNG encoding failed")
        }
        return sink.bytes
    }

    /// The error for a failed stb_image call, using its failure reason.
    private static func stbError(path: String) -> DataError {
        let reason = stbi_failure_reason().map { String(cString: $0) } ?? "unknown decoding error"
        if reason == "unknown image type" {
            return .unsupported(path: path, reason: "not an image format stb_image can read (\(reason))")
        }
        return .malformed(path: path, reason: "cannot decode image: \(reason)")
    }
}

/// Collects the bytes that stb_image_write hands to its callback.
private final class ByteSink {
    var bytes: [UInt8] = []
}
