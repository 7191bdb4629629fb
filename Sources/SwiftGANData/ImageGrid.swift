import Foundation

/// Turns generator outputs (NCHW floats in [-1, 1]) into pictures.
///
/// Each value `v` becomes the byte `round((v + 1) * 127.5)` clamped to 0...255, so -1 is
/// black, 1 is white and 0 is 128. NaN becomes 0; +infinity 255 and -infinity 0.
/// Grayscale input (1 channel) gives a 1-channel image, RGB input (3 channels) a 3-channel one.
public enum ImageGrid {
    /// The byte for one model output value: `round((value + 1) * 127.5)` clamped to 0...255, NaN to 0.
    public static func pixelValue(_ value: Float) -> UInt8 {
        if value.isNaN { return 0 }
        let scaled = ((value + 1) * 127.5).rounded(.toNearestOrAwayFromZero)
        if scaled <= 0 { return 0 }
        if scaled >= 255 { return 255 }
        return UInt8(scaled)
    }

    /// Lays out `count` images in a grid of `columns` columns (fewer if `count` is smaller).
    ///
    /// `images` holds `count * channels * height * width` values in NCHW order. Every image
    /// gets `padding` pixels of `background` on each side, shared between neighbours, so the
    /// result is `columns * (width + padding) + padding` pixels wide and
    /// `rows * (height + padding) + padding` high with `rows = ceil(count / columns)`.
    /// Unused cells in the last row stay `background`.
    ///
    /// - Precondition: `count`, `height`, `width` and `columns` are positive, `channels` is
    ///   1 or 3, `padding >= 0` and `images.count == count * channels * height * width`.
    public static func tile(images: [Float], count: Int, channels: Int, height: Int, width: Int,
                            columns: Int, padding: Int = 2, background: UInt8 = 255) -> RasterImage {
        precondition(count > 0 && height > 0 && width > 0, "ImageGrid: count and sizes must be positive")
        precondition(columns > 0, "ImageGrid: columns must be positive, got \(columns)")
        precondition(channels == 1 || channels == 3, "ImageGrid: channels must be 1 or 3, got \(channels)")
        precondition(padding >= 0, "ImageGrid: padding must not be negative")
        let plane = height * width
        precondition(images.count == count * channels * plane,
                     "ImageGrid: expected \(count * channels * plane) values for \(count)x\(channels)x"
                        + "\(height)x\(width), got \(images.count)")

        let gridColumns = min(columns, count)
        let gridRows = (count + gridColumns - 1) / gridColumns
        let outWidth = gridColumns * (width + padding) + padding
        let outHeight = gridRows * (height + padding) + padding
        var pixels = [UInt8](repeating: background, count: outWidth * outHeight * channels)

        for index in 0..<count {
            let left = padding + (index % gridColumns) * (width + padding)
            let top = padding + (index / gridColumns) * (height + padding)
            let imageBase = index * channels * plane
            for y in 0..<height {
                let rowBase = ((top + y) * outWidth + left) * channels
                for x in 0..<width {
                    for c in 0..<channels {
                        pixels[rowBase + x * channels + c] =
                            pixelValue(images[imageBase + c * plane + y * width + x])
                    }
                }
            }
        }
        return RasterImage(width: outWidth, height: outHeight, channels: channels, pixels: pixels)
    }

    /// Converts one CHW image (`channels * height * width` values in [-1, 1]) without padding.
    ///
    /// - Precondition: `channels` is 1 or 3 and `values.count == channels * height * width`.
    public static func image(from values: [Float], channels: Int, height: Int, width: Int) -> RasterImage {
        tile(images: values, count: 1, channels: channels, height: height, width: width,
             columns: 1, padding: 0)
    }

    /// Lays out `count` images side by side in one row (an interpolation strip, say).
    ///
    /// Same as `tile` with `columns == count`.
    public static func strip(images: [Float], count: Int, channels: Int, height: Int, width: Int,
                             padding: Int = 2, background: UInt8 = 255) -> RasterImage {
        tile(images: images, count: count, channels: channels, height: height, width: width,
             columns: count, padding: padding, background: background)
    }
}
