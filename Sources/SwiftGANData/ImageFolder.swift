import CStb
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Conversion policy

/// How an image whose shape differs from the square target is fitted into it.
public enum CropPolicy: String, Sendable, CaseIterable {
    /// Cut the largest centred square out of the image (the middle of its longer side), then resize
    /// that square to the target. Nothing is distorted; the ends of the longer side are lost.
    case center
    /// Resize the whole image so that its longer side fits the target, keeping its aspect ratio, and
    /// centre it on the background colour (an odd remainder goes to the bottom/right). Nothing is lost
    /// or distorted; the borders are background.
    case pad
    /// Resize each axis to the target on its own. Nothing is lost, but the aspect ratio changes.
    case stretch
}

/// An sRGB colour, 8 bits per channel: what transparent pixels are composited onto and what padding is
/// filled with.
public struct BackgroundColor: Equatable, Sendable, CustomStringConvertible {
    /// Red, green and blue, 0...255.
    public var red: UInt8, green: UInt8, blue: UInt8

    /// A colour from its three channels.
    public init(red: UInt8, green: UInt8, blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// Black, (0, 0, 0): the default, the same value (-1) that IDX padding uses.
    public static let black = BackgroundColor(red: 0, green: 0, blue: 0)
    /// White, (255, 255, 255).
    public static let white = BackgroundColor(red: 255, green: 255, blue: 255)

    /// Parses `black`, `white`, `#rrggbb` or `r,g,b` (each 0...255); nil for anything else.
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "black" { self = .black; return }
        if t == "white" { self = .white; return }
        if t.hasPrefix("#"), t.count == 7, let value = UInt32(t.dropFirst(), radix: 16) {
            self.init(red: UInt8(value >> 16), green: UInt8((value >> 8) & 0xFF), blue: UInt8(value & 0xFF))
            return
        }
        let parts = t.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        let values = parts.compactMap { UInt8($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == 3 else { return nil }
        self.init(red: values[0], green: values[1], blue: values[2])
    }

    /// `#rrggbb`.
    public var description: String { String(format: "#%02x%02x%02x", red, green, blue) }
}

/// The single policy by which image files become training images of one size and channel count.
///
/// Each file is decoded at its own bit depth and every sample is scaled to `[0, 1]` by that depth's
/// maximum (255 for 8-bit, 65535 for 16-bit PNG, the header's maximum value for PGM/PPM), so a 16-bit
/// image keeps its full range instead of being clipped. Then, per pixel:
/// - an alpha channel is composited onto ``background``: `value · a + background · (1 - a)`, so a colour
///   under alpha 0 never shows, and the alpha channel is dropped;
/// - for `channels == 1`, colour becomes luma `0.299 R + 0.587 G + 0.114 B` (ITU-R BT.601, as most tools
///   do); for `channels == 3`, gray is copied to R, G and B.
/// Palette images arrive as RGB or RGBA (the palette and its transparency expanded by the decoder).
/// Then the image is fitted to `size × size` with ``crop`` and resampled in sRGB values: area averaging
/// along an axis that shrinks (each output pixel is the mean of the source area it covers, an
/// antialiased downscale) and bilinear interpolation along an axis that grows. The result is rounded to
/// 8 bits.
public struct ImageConversion: Equatable, Sendable {
    /// The side of the square result, in pixels.
    public var size: Int
    /// 1 (grayscale) or 3 (RGB).
    public var channels: Int
    /// How other shapes are fitted into the square.
    public var crop: CropPolicy
    /// What transparency is composited onto and padding filled with.
    public var background: BackgroundColor
    /// Images with more pixels (width × height) than this are refused before they are decoded.
    public var maxPixels: Int

    /// The default pixel limit: 64 megapixels (for example 8192 × 8192), above nearly every photo and far
    /// below what a decompression bomb asks for.
    public static let defaultMaxPixels = 64 * 1024 * 1024

    /// A conversion to `size × size` images with `channels` channels.
    public init(size: Int, channels: Int, crop: CropPolicy = .center, background: BackgroundColor = .black,
                maxPixels: Int = ImageConversion.defaultMaxPixels) {
        self.size = size
        self.channels = channels
        self.crop = crop
        self.background = background
        self.maxPixels = maxPixels
    }

    /// Why this conversion cannot be used, or nil.
    public var problem: String? {
        if !(1...4096).contains(size) { return "image size must be between 1 and 4096, got \(size)" }
        if channels != 1 && channels != 3 { return "channels must be 1 or 3, got \(channels)" }
        if maxPixels < 1 { return "the pixel limit must be positive, got \(maxPixels)" }
        return nil
    }
}

// MARK: - Decoded images

/// What an image file holds, as read from its header and its decoder.
public struct ImageFileInfo: Equatable, Sendable {
    /// The container format: `PNG`, `JPEG`, `GIF`, `BMP`, `PSD`, `PNM`, `HDR`, `PIC`, `TGA`.
    public let format: String
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Channels as decoded (palette expanded): 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// Bits per sample in the file (1, 2, 4, 8 or 16; for PGM/PPM the bits its maximum value needs).
    public let bitDepth: Int
    /// True for palette (indexed-colour) images: PNG colour type 3, GIF, BMP of 8 bits or fewer.
    public let palette: Bool
    /// True when the file has transparency (an alpha channel, a PNG tRNS chunk, a GIF transparent colour).
    public let alpha: Bool

    /// True when the image has colour (3 or 4 decoded channels).
    public var isColour: Bool { channels >= 3 }

    /// `gray`, `gray+alpha`, `RGB`, `RGBA`, `palette` or `palette+alpha`.
    public var colourMode: String {
        if palette { return alpha ? "palette+alpha" : "palette" }
        switch channels {
        case 1, 2: return alpha ? "gray+alpha" : "gray"
        default: return alpha ? "RGBA" : "RGB"
        }
    }

    /// For example `PNG RGBA 8-bit`.
    public var modeDescription: String { "\(format) \(colourMode) \(bitDepth)-bit" }
}

/// A decoded image: samples at the file's own depth, interleaved, top row first.
struct DecodedImage {
    enum Samples {
        case eight([UInt8])
        case sixteen([UInt16])
    }

    let info: ImageFileInfo
    let samples: Samples
    /// The sample value that means full intensity (255, 65535, or a PNM file's maximum value).
    let maxValue: Int
}

// MARK: - Image folders

/// The image files of a folder, found recursively, with class labels when the folder holds one
/// subfolder per class.
public struct ImageFolderScan: Sendable {
    /// The folder that was scanned.
    public let root: String
    /// Full paths of the image files, sorted by their path bytes (the same order on every machine).
    public let files: [String]
    /// The class index of each file, when the folder is laid out as class subfolders; nil for a flat folder.
    public let labels: [Int]?
    /// Class names (the subfolder names, sorted); `labels` index into this list. Nil for a flat folder.
    public let classNames: [String]?
    /// Hidden and system entries that were skipped (names starting with `.`, such as `.DS_Store` and
    /// `.ipynb_checkpoints`, and `__MACOSX`, `Thumbs.db`, `desktop.ini`, `@eaDir`), relative to `root`.
    /// A hidden folder counts once, whatever it holds.
    public let skippedHidden: [String]
    /// Files that are not images by their extension (see ``ImageFolder/imageExtensions``), relative to `root`.
    public let skippedNonImage: [String]
    /// Entries that could not be listed or named (an unreadable subfolder, a name that is not valid UTF-8).
    public let problems: [ImageFileFailure]

    /// The file path relative to ``root``.
    public func relativePath(_ path: String) -> String {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
    }
}

/// A file that could not be used, with the reason.
public struct ImageFileFailure: Equatable, Sendable, CustomStringConvertible {
    /// The file's path.
    public let path: String
    /// What is wrong; its description names the file.
    public let error: DataError

    /// Pairs a path with its error.
    public init(path: String, error: DataError) {
        self.path = path
        self.error = error
    }

    /// The error's one-line description (which names the file).
    public var description: String { error.description }
}

/// The images of a folder, decoded and converted, with the files that failed.
public struct ImageFolderContents: Sendable {
    /// What the scan found.
    public let scan: ImageFolderScan
    /// The conversion used, or nil when the images were only checked.
    public let conversion: ImageConversion?
    /// Paths of the images that were decoded, in ``ImageFolderScan/files`` order.
    public let files: [String]
    /// Header facts of each decoded image, parallel to `files`.
    public let infos: [ImageFileInfo]
    /// Converted pixels of all decoded images, `files.count × channels × size × size` bytes (image,
    /// channel plane, row, column; 0 black, 255 white); empty when there was no conversion.
    public let pixels: [UInt8]
    /// Class index of each decoded image, or nil for a flat folder.
    public let labels: [Int]?
    /// Files that could not be read or decoded, in scan order.
    public let failures: [ImageFileFailure]

    /// Throws when any file failed, listing up to `limit` of them by name.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)``: `N of M image files in FOLDER cannot be read: …`.
    public func requireAllReadable(limit: Int = 10, hint: String = "") throws {
        guard !failures.isEmpty else { return }
        throw DataError.invalidDataset(ImageFolder.failureSummary(failures, total: scan.files.count, root: scan.root,
                                                                 limit: limit) + hint)
    }

    /// The same images in one channel when they were converted to three but none of the files has colour
    /// (all gray or gray + alpha): each pixel becomes its luma, which for such images equals what a 1-channel
    /// conversion gives. Otherwise `self`. This is the "automatic" channel choice.
    public func grayscaleIfNoColour() -> ImageFolderContents {
        guard var gray = conversion, gray.channels == 3, !infos.contains(where: \.isColour) else { return self }
        gray.channels = 1
        let plane = gray.size * gray.size
        var output = [UInt8](repeating: 0, count: files.count * plane)
        for n in 0..<files.count {
            let base = n * 3 * plane
            for i in 0..<plane {
                let luma = 0.299 * Float(pixels[base + i]) + 0.587 * Float(pixels[base + plane + i])
                    + 0.114 * Float(pixels[base + 2 * plane + i])
                output[n * plane + i] = UInt8(min(max(luma.rounded(), 0), 255))
            }
        }
        return ImageFolderContents(scan: scan, conversion: gray, files: files, infos: infos, pixels: output,
                                   labels: labels, failures: failures)
    }

    /// Throws when no image could be decoded.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` naming the folder and what was found instead.
    public func requireImages() throws {
        guard files.isEmpty else { return }
        throw DataError.invalidDataset(ImageFolder.emptyMessage(scan, failures: failures.count))
    }
}

/// Finding, decoding and converting the images of a folder.
public enum ImageFolder {
    /// Lower-case file extensions taken as images: what stb_image decodes.
    public static let imageExtensions: Set<String> = [
        "png", "jpg", "jpeg", "jpe", "jfif", "bmp", "dib", "gif", "tga", "psd", "pgm", "ppm", "pnm", "hdr", "pic",
    ]

    /// Names skipped as system junk besides those starting with a dot.
    static let systemNames: Set<String> = ["__MACOSX", "Thumbs.db", "desktop.ini", "@eaDir", "$RECYCLE.BIN",
                                           "System Volume Information"]

    // MARK: Scanning

    /// Lists the image files under `root`, recursively.
    ///
    /// When `root` holds no image files itself and its images are in subfolders, each top-level
    /// subfolder that holds images (at any depth) is a class, named by the folder and numbered in sorted
    /// order. Otherwise the folder is flat and unlabelled, and images in subfolders are included too.
    /// Hidden and system entries and non-image files are skipped and listed. Symbolic links are
    /// followed; a folder reached twice is read once.
    ///
    /// - Throws: ``DataError/fileNotFound(path:)`` when `root` does not exist,
    ///   ``DataError/unsupported(path:reason:)`` when it is not a folder, ``DataError/unreadable(path:reason:)``
    ///   when it cannot be listed.
    public static func scan(_ root: String) throws -> ImageFolderScan {
        var info = stat()
        if stat(root, &info) != 0 {
            let code = errno
            if code == ENOENT { throw DataError.fileNotFound(path: root) }
            throw DataError.unreadable(path: root, reason: systemErrorDescription(code))
        }
        guard isFolder(info.st_mode) else {
            throw DataError.unsupported(path: root, reason: "not a folder")
        }
        var walker = FolderWalker()
        walker.visited.insert(FolderWalker.Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
        let top = walker.list(root, relative: "")
        guard let top else {
            throw DataError.unreadable(path: root, reason: walker.problems.first?.error.description ?? "cannot list")
        }
        var direct: [String] = []
        var classes: [(name: String, files: [String])] = []
        for entry in top {
            switch entry.kind {
            case .file:
                direct.append(entry.path)
            case .folder:
                let files = walker.collect(entry.path, relative: entry.name)
                if !files.isEmpty { classes.append((entry.name, files)) }
            }
        }
        let sortKey: (String) -> [UInt8] = { Array($0.utf8) }
        func byBytes(_ a: String, _ b: String) -> Bool { sortKey(a).lexicographicallyPrecedes(sortKey(b)) }
        classes.sort { byBytes($0.name, $1.name) }
        if direct.isEmpty && !classes.isEmpty {
            var files: [String] = []
            var labels: [Int] = []
            for (index, entry) in classes.enumerated() {
                let sorted = entry.files.sorted(by: byBytes)
                files += sorted
                labels += Array(repeating: index, count: sorted.count)
            }
            return ImageFolderScan(root: root, files: files, labels: labels, classNames: classes.map(\.name),
                                   skippedHidden: walker.hidden.sorted(by: byBytes),
                                   skippedNonImage: walker.nonImage.sorted(by: byBytes), problems: walker.problems)
        }
        let files = (direct + classes.flatMap(\.files)).sorted(by: byBytes)
        return ImageFolderScan(root: root, files: files, labels: nil, classNames: nil,
                               skippedHidden: walker.hidden.sorted(by: byBytes),
                               skippedNonImage: walker.nonImage.sorted(by: byBytes), problems: walker.problems)
    }

    static func isFolder(_ mode: mode_t) -> Bool { UInt32(mode) & 0o170000 == 0o040000 }
    static func isRegularFile(_ mode: mode_t) -> Bool { UInt32(mode) & 0o170000 == 0o100000 }

    /// Recursive listing with hidden/non-image bookkeeping and cycle protection.
    private struct FolderWalker {
        struct Identity: Hashable {
            let device: UInt64
            let inode: UInt64
        }

        enum Kind { case file, folder }

        struct Entry {
            let name: String
            let path: String
            let kind: Kind
        }

        var visited: Set<Identity> = []
        var hidden: [String] = []
        var nonImage: [String] = []
        var problems: [ImageFileFailure] = []

        /// The image files and folders directly in `folder`, recording everything skipped; nil when the
        /// folder cannot be listed (recorded as a problem).
        mutating func list(_ folder: String, relative: String) -> [Entry]? {
            guard let directory = opendir(folder) else {
                problems.append(ImageFileFailure(
                    path: folder, error: .unreadable(path: folder, reason: systemErrorDescription())))
                return nil
            }
            defer { closedir(directory) }
            var entries: [Entry] = []
            while let entry = readdir(directory) {
                let nameBytes: [UInt8] = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    Array(raw.prefix { $0 != 0 })
                }
                if nameBytes == Array(".".utf8) || nameBytes == Array("..".utf8) { continue }
                let name = String(decoding: nameBytes, as: UTF8.self)
                let relativeName = relative.isEmpty ? name : relative + "/" + name
                if nameBytes.first == UInt8(ascii: ".") || ImageFolder.systemNames.contains(name) {
                    hidden.append(relativeName)
                    continue
                }
                let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
                guard Array(name.utf8) == nameBytes else {
                    problems.append(ImageFileFailure(path: path, error: .unreadable(
                        path: path, reason: "the file name is not valid UTF-8; rename it")))
                    continue
                }
                var info = stat()
                if stat(path, &info) != 0 {
                    problems.append(ImageFileFailure(
                        path: path, error: .unreadable(path: path, reason: systemErrorDescription())))
                    continue
                }
                if ImageFolder.isFolder(info.st_mode) {
                    let identity = Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
                    guard visited.insert(identity).inserted else { continue }
                    entries.append(Entry(name: name, path: path, kind: .folder))
                } else if ImageFolder.isRegularFile(info.st_mode) {
                    let ext = (name as NSString).pathExtension.lowercased()
                    if ImageFolder.imageExtensions.contains(ext) {
                        entries.append(Entry(name: name, path: path, kind: .file))
                    } else {
                        nonImage.append(relativeName)
                    }
                } else {
                    nonImage.append(relativeName)
                }
            }
            return entries
        }

        /// All image files under `folder`, at any depth.
        mutating func collect(_ folder: String, relative: String) -> [String] {
            guard let entries = list(folder, relative: relative) else { return [] }
            var files: [String] = []
            for entry in entries {
                switch entry.kind {
                case .file: files.append(entry.path)
                case .folder: files += collect(entry.path, relative: relative + "/" + entry.name)
                }
            }
            return files
        }
    }

    // MARK: Loading a folder

    /// Scans `root` and decodes every image in parallel, converting each with `conversion` (or, when it
    /// is nil, only decoding it to check it).
    ///
    /// Files that fail do not stop the others; they are returned in ``ImageFolderContents/failures``
    /// (see ``ImageFolderContents/requireAllReadable(limit:hint:)``).
    /// - Parameters:
    ///   - maxPixels: The pixel limit when `conversion` is nil (otherwise the conversion's).
    ///   - threads: Decoding threads (default: every core).
    ///   - progress: Called now and then with (files done, files in all), from any thread.
    /// - Throws: the errors of ``scan(_:)``; ``DataError/invalidDataset(_:)`` for a conversion with a problem.
    public static func load(_ root: String, conversion: ImageConversion?,
                            maxPixels: Int = ImageConversion.defaultMaxPixels,
                            threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                            progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> ImageFolderContents {
        if let problem = conversion?.problem { throw DataError.invalidDataset(problem) }
        let scan = try scan(root)
        let limit = conversion?.maxPixels ?? maxPixels
        let outcomes = parallelMap(scan.files, threads: threads, progress: progress) { path -> FileOutcome in
            do {
                let bytes = try readFileBytes(path)
                let decoded = try decode(bytes, path: path, maxPixels: limit)
                let pixels = conversion.map { convert(decoded, with: $0) } ?? []
                return .success(decoded.info, pixels)
            } catch let error as DataError {
                return .failure(error)
            } catch {
                return .failure(.unreadable(path: path, reason: "\(error)"))
            }
        }
        var files: [String] = []
        var infos: [ImageFileInfo] = []
        var labels: [Int]? = scan.labels == nil ? nil : []
        var failures = scan.problems
        var pixels: [UInt8] = []
        if let conversion {
            pixels.reserveCapacity(scan.files.count * conversion.channels * conversion.size * conversion.size)
        }
        for (index, outcome) in outcomes.enumerated() {
            switch outcome {
            case .success(let info, let converted):
                files.append(scan.files[index])
                infos.append(info)
                pixels += converted
                if let all = scan.labels { labels?.append(all[index]) }
            case .failure(let error):
                failures.append(ImageFileFailure(path: scan.files[index], error: error))
            }
        }
        return ImageFolderContents(scan: scan, conversion: conversion, files: files, infos: infos, pixels: pixels,
                                   labels: labels, failures: failures)
    }

    private enum FileOutcome {
        case success(ImageFileInfo, [UInt8])
        case failure(DataError)
    }

    /// `transform` applied to every element on `threads` threads; results in input order.
    static func parallelMap<T, R>(_ items: [T], threads: Int, progress: (@Sendable (Int, Int) -> Void)? = nil,
                                  _ transform: (T) -> R) -> [R] {
        let slots = ResultSlots<R>(count: items.count)
        let workers = max(1, min(threads, items.count))
        let total = items.count
        let step = max(1, total / 100)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while let index = slots.claim() {
                let result = transform(items[index])
                let done = slots.store(result, at: index)
                if let progress, done % step == 0 || done == total { progress(done, total) }
            }
        }
        return slots.results()
    }

    // MARK: Decoding

    /// Decodes one image file held in memory, checking it first for truncation and the pixel limit.
    ///
    /// - Throws: ``DataError`` naming `path`: `.malformed` for an empty, damaged or truncated file (the
    ///   reason says which part is missing), `.truncated` when a header promises more bytes than the file
    ///   has, `.unsupported` for a format stb_image cannot read or an image over `maxPixels`.
    static func decode(_ bytes: [UInt8], path: String, maxPixels: Int) throws -> DecodedImage {
        guard !bytes.isEmpty else {
            throw DataError.malformed(path: path, reason: "empty file (0 bytes), not an image")
        }
        guard bytes.count <= Int(Int32.max) else {
            throw DataError.unsupported(path: path, reason: "image files over 2 GiB are not supported")
        }
        let format = detectFormat(bytes, path: path)
        let header = try checkStructure(bytes, format: format, path: path)
        if let width = header.width, let height = header.height {
            try checkPixelLimit(width: width, height: height, maxPixels: maxPixels, path: path)
        }
        return try bytes.withUnsafeBufferPointer { buffer -> DecodedImage in
            guard let base = buffer.baseAddress else {
                throw DataError.malformed(path: path, reason: "empty file")
            }
            let length = Int32(buffer.count)
            var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
            guard stbi_info_from_memory(base, length, &width, &height, &channels) != 0 else {
                throw stbFailure(path: path, format: format)
            }
            try checkPixelLimit(width: Int(width), height: Int(height), maxPixels: maxPixels, path: path)
            let sixteen = stbi_is_16_bit_from_memory(base, length) != 0
            width = 0; height = 0; channels = 0
            var samples: DecodedImage.Samples
            if sixteen {
                guard let decoded = stbi_load_16_from_memory(base, length, &width, &height, &channels, 0) else {
                    throw stbFailure(path: path, format: format)
                }
                defer { stbi_image_free(decoded) }
                try checkDecoded(width, height, channels, path: path)
                let count = Int(width) * Int(height) * Int(channels)
                var values = [UInt16](UnsafeBufferPointer(start: decoded, count: count))
                if format == "PNM" {
                    // This stb_image copies 16-bit PNM samples as they lie in the file (big-endian), unswapped.
                    for i in values.indices { values[i] = UInt16(bigEndian: values[i]) }
                }
                samples = .sixteen(values)
            } else {
                guard let decoded = stbi_load_from_memory(base, length, &width, &height, &channels, 0) else {
                    throw stbFailure(path: path, format: format)
                }
                defer { stbi_image_free(decoded) }
                try checkDecoded(width, height, channels, path: path)
                let count = Int(width) * Int(height) * Int(channels)
                samples = .eight([UInt8](UnsafeBufferPointer(start: decoded, count: count)))
            }
            // Phone and camera JPEGs: turn the pixels upright as the EXIF orientation says.
            if format == "JPEG", let orientation = EXIFOrientation.read(jpeg: bytes), orientation != 1 {
                let (w, h, c) = (Int(width), Int(height), Int(channels))
                switch samples {
                case .eight(let values):
                    let turned = EXIFOrientation.apply(orientation, to: values, width: w, height: h, channels: c)
                    samples = .eight(turned.samples)
                    (width, height) = (Int32(turned.width), Int32(turned.height))
                case .sixteen(let values):
                    let turned = EXIFOrientation.apply(orientation, to: values, width: w, height: h, channels: c)
                    samples = .sixteen(turned.samples)
                    (width, height) = (Int32(turned.width), Int32(turned.height))
                }
            }
            let maxValue = header.pnmMaxValue ?? (sixteen ? 65535 : 255)
            let bitDepth = header.bitDepth ?? (sixteen ? 16 : 8)
            let info = ImageFileInfo(format: format, width: Int(width), height: Int(height), channels: Int(channels),
                                     bitDepth: bitDepth, palette: header.palette,
                                     alpha: header.alpha ?? (channels == 2 || channels == 4))
            return DecodedImage(info: info, samples: samples, maxValue: maxValue)
        }
    }

    private static func checkDecoded(_ width: Int32, _ height: Int32, _ channels: Int32, path: String) throws {
        guard width > 0, height > 0, (1...4).contains(channels) else {
            throw DataError.malformed(path: path,
                                      reason: "decoder returned \(width)x\(height) with \(channels) channels")
        }
    }

    static func megapixels(_ count: Int) -> String {
        count >= 1_000_000 ? String(format: "%.1f megapixels", Double(count) / 1_000_000) : "\(count) pixels"
    }

    private static func checkPixelLimit(width: Int, height: Int, maxPixels: Int, path: String) throws {
        let (pixelCount, overflow) = width.multipliedReportingOverflow(by: height)
        if overflow || pixelCount > maxPixels {
            throw DataError.unsupported(
                path: path, reason: "the image is \(width)x\(height) = "
                    + (overflow ? "too many pixels" : megapixels(pixelCount)) + ", over the limit "
                    + "of \(megapixels(maxPixels)) that guards against decompression bombs; raise --max-pixels "
                    + "if you trust the file")
        }
    }

    private static func stbFailure(path: String, format: String) -> DataError {
        let reason = stbi_failure_reason().map { String(cString: $0) } ?? "unknown decoding error"
        if format != "unknown" {
            return .malformed(path: path, reason: "cannot decode this \(format) image: \(reason)")
        }
        if reason == "unknown image type" {
            return .unsupported(path: path, reason: "not an image format stb_image can read (\(reason))")
        }
        return .malformed(path: path, reason: "cannot decode image: \(reason)")
    }

    /// The container format from the first bytes (the extension only for TGA, which has no signature).
    static func detectFormat(_ bytes: [UInt8], path: String) -> String {
        func starts(_ prefix: [UInt8]) -> Bool { bytes.count >= prefix.count && Array(bytes.prefix(prefix.count)) == prefix }
        if starts([0x89, 0x50, 0x4E, 0x47]) { return "PNG" }
        if starts([0xFF, 0xD8, 0xFF]) { return "JPEG" }
        if starts(Array("GIF8".utf8)) { return "GIF" }
        if starts(Array("BM".utf8)) { return "BMP" }
        if starts(Array("8BPS".utf8)) { return "PSD" }
        if starts(Array("P5".utf8)) || starts(Array("P6".utf8)) { return "PNM" }
        if starts(Array("#?RADIANCE".utf8)) || starts(Array("#?RGBE".utf8)) { return "HDR" }
        if starts([0x53, 0x80, 0xF6, 0x34]) { return "PIC" }
        if (path as NSString).pathExtension.lowercased() == "tga" { return "TGA" }
        return "unknown"
    }

    /// Facts from a format's header that stb_image does not report.
    struct HeaderFacts {
        var bitDepth: Int?
        var palette = false
        var pnmMaxValue: Int?
        /// Nil: the decoded channel count says (2 and 4 have alpha).
        var alpha: Bool?
        /// The size the header declares, when read here (checked against the pixel limit before stb_image sees
        /// the file, which refuses some huge sizes with a vaguer message).
        var width: Int?
        var height: Int?
    }

    /// Walks the file's structure far enough to catch truncation that stb_image would silently fill
    /// with zeros, and reads the header facts it does not report.
    static func checkStructure(_ bytes: [UInt8], format: String, path: String) throws -> HeaderFacts {
        switch format {
        case "PNG": return try checkPNG(bytes, path: path)
        case "JPEG": try checkJPEG(bytes, path: path); return HeaderFacts()
        case "GIF": return try checkGIF(bytes, path: path)
        case "BMP": return try checkBMP(bytes, path: path)
        case "PNM": return try checkPNM(bytes, path: path)
        default: return HeaderFacts()
        }
    }

    private static func bigEndian32(_ bytes: [UInt8], _ offset: Int) -> Int {
        Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
    }

    private static func littleEndian32(_ bytes: [UInt8], _ offset: Int) -> Int {
        Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
    }

    /// Every chunk must fit in the file, up to IEND.
    private static func checkPNG(_ bytes: [UInt8], path: String) throws -> HeaderFacts {
        var facts = HeaderFacts()
        var offset = 8
        var sawIEND = false
        while offset < bytes.count {
            guard offset + 8 <= bytes.count else {
                throw DataError.malformed(path: path, reason: "truncated: the file ends inside a PNG chunk header "
                                              + "at byte \(offset) (\(bytes.count) bytes in all)")
            }
            let length = bigEndian32(bytes, offset)
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let end = offset + 12 + length
            guard end <= bytes.count else {
                throw DataError.malformed(
                    path: path, reason: "truncated: PNG chunk \(type) at byte \(offset) needs \(12 + length) bytes, "
                        + "the file ends after \(bytes.count - offset)")
            }
            if type == "IHDR", length >= 13 {
                facts.width = bigEndian32(bytes, offset + 8)
                facts.height = bigEndian32(bytes, offset + 12)
                facts.bitDepth = Int(bytes[offset + 16])
                facts.palette = bytes[offset + 17] == 3
                if facts.palette { facts.bitDepth = 8 }
            }
            offset = end
            if type == "IEND" { sawIEND = true; break }
        }
        guard sawIEND else {
            throw DataError.malformed(path: path, reason: "truncated: the PNG ends without its IEND chunk")
        }
        return facts
    }

    /// The last scan (after the last SOS marker `FF DA`) must be followed by an end-of-image marker `FF D9`;
    /// bytes after it are allowed.
    private static func checkJPEG(_ bytes: [UInt8], path: String) throws {
        var lastScan = -1
        var index = bytes.count - 2
        while index >= 2 {
            if bytes[index] == 0xFF && bytes[index + 1] == 0xDA { lastScan = index; break }
            index -= 1
        }
        guard lastScan >= 0 else { return }   // stb_image reports it
        var position = lastScan + 2
        while position + 1 < bytes.count {
            if bytes[position] == 0xFF && bytes[position + 1] == 0xD9 { return }
            position += 1
        }
        throw DataError.malformed(path: path, reason: "truncated: the JPEG data ends without an end-of-image marker")
    }

    /// The first frame's blocks must all be present.
    private static func checkGIF(_ bytes: [UInt8], path: String) throws -> HeaderFacts {
        var facts = HeaderFacts(bitDepth: 8, palette: true, pnmMaxValue: nil, alpha: false)
        func truncated() -> DataError {
            .malformed(path: path, reason: "truncated: the GIF ends before its first frame is complete")
        }
        guard bytes.count >= 13 else { throw truncated() }
        facts.width = Int(bytes[6]) | Int(bytes[7]) << 8
        facts.height = Int(bytes[8]) | Int(bytes[9]) << 8
        var offset = 13
        if bytes[10] & 0x80 != 0 { offset += 3 << (Int(bytes[10] & 0x07) + 1) }
        func skipSubBlocks() throws {
            while true {
                guard offset < bytes.count else { throw truncated() }
                let size = Int(bytes[offset])
                offset += 1 + size
                if size == 0 { return }
            }
        }
        while true {
            guard offset < bytes.count else { throw truncated() }
            switch bytes[offset] {
            case 0x21:  // extension: label, then sub-blocks; a graphic control block may set a transparent colour
                if offset + 3 < bytes.count, bytes[offset + 1] == 0xF9, bytes[offset + 3] & 0x01 != 0 {
                    facts.alpha = true
                }
                offset += 2
                try skipSubBlocks()
            case 0x2C:  // image descriptor
                guard offset + 10 <= bytes.count else { throw truncated() }
                let flags = bytes[offset + 9]
                offset += 10
                if flags & 0x80 != 0 { offset += 3 << (Int(flags & 0x07) + 1) }
                offset += 1   // LZW minimum code size
                try skipSubBlocks()
                guard offset <= bytes.count else { throw truncated() }
                return facts
            default:
                return facts   // trailer or something stb_image judges
            }
        }
    }

    /// An uncompressed BMP must hold every row its header describes.
    private static func checkBMP(_ bytes: [UInt8], path: String) throws -> HeaderFacts {
        guard bytes.count >= 34 else {
            throw DataError.truncated(path: path, expectedBytes: 34, actualBytes: bytes.count)
        }
        let headerSize = littleEndian32(bytes, 14)
        guard headerSize >= 40 else { return HeaderFacts() }
        let dataOffset = littleEndian32(bytes, 10)
        let width = Int(Int32(truncatingIfNeeded: UInt32(littleEndian32(bytes, 18))))
        let height = Int(Int32(truncatingIfNeeded: UInt32(littleEndian32(bytes, 22))))
        let bitsPerPixel = Int(bytes[28]) | Int(bytes[29]) << 8
        let compression = littleEndian32(bytes, 30)
        var facts = HeaderFacts(bitDepth: bitsPerPixel <= 8 ? bitsPerPixel : 8, palette: bitsPerPixel <= 8)
        facts.width = abs(width)
        facts.height = abs(height)
        guard compression == 0 || compression == 3, width > 0, bitsPerPixel > 0 else { return facts }
        let rowBytes = (bitsPerPixel * width + 31) / 32 * 4
        let (rows, overflow) = rowBytes.multipliedReportingOverflow(by: abs(height))
        guard !overflow else { return facts }
        let expected = dataOffset + rows
        if expected > bytes.count {
            throw DataError.truncated(path: path, expectedBytes: expected, actualBytes: bytes.count)
        }
        return facts
    }

    /// Reads a binary PGM/PPM header (`P5`/`P6`, width, height, maximum value) and checks the data length.
    private static func checkPNM(_ bytes: [UInt8], path: String) throws -> HeaderFacts {
        var offset = 2
        var numbers: [Int] = []
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        while numbers.count < 3 && offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "#") {
                while offset < bytes.count && bytes[offset] != 0x0A && bytes[offset] != 0x0D { offset += 1 }
            } else if digits.contains(byte) {
                var value = 0
                while offset < bytes.count, digits.contains(bytes[offset]) {
                    value = min(value * 10 + Int(bytes[offset] - UInt8(ascii: "0")), 1 << 40)
                    offset += 1
                }
                numbers.append(value)
            } else {
                offset += 1
            }
        }
        guard numbers.count == 3 else { return HeaderFacts() }   // stb_image reports it
        offset += 1   // the single whitespace after the maximum value
        let maxValue = numbers[2]
        guard (1...65535).contains(maxValue) else {
            throw DataError.malformed(path: path, reason: "PNM maximum value \(maxValue) is outside 1...65535")
        }
        let channels = bytes[1] == UInt8(ascii: "6") ? 3 : 1
        let sampleBytes = maxValue > 255 ? 2 : 1
        let bits = Int(log2(Double(maxValue)).rounded(.down)) + 1
        let facts = HeaderFacts(bitDepth: bits, palette: false, pnmMaxValue: maxValue, width: numbers[0],
                                height: numbers[1])
        let (pixels, overflow) = numbers[0].multipliedReportingOverflow(by: numbers[1])
        guard !overflow, pixels <= 1 << 40 else { return facts }
        let expected = offset + pixels * channels * sampleBytes
        if expected > bytes.count {
            throw DataError.truncated(path: path, expectedBytes: expected, actualBytes: bytes.count)
        }
        return facts
    }

    // MARK: Conversion

    /// Converts a decoded image with `conversion`: `channels × size × size` bytes, channel planes, rows
    /// top to bottom (see ``ImageConversion`` for the policy).
    static func convert(_ image: DecodedImage, with conversion: ImageConversion) -> [UInt8] {
        switch image.samples {
        case .eight(let samples):
            return samples.withUnsafeBufferPointer { convert($0, image: image, conversion: conversion) }
        case .sixteen(let samples):
            return samples.withUnsafeBufferPointer { convert($0, image: image, conversion: conversion) }
        }
    }

    /// Where the source region lands in the target: `(x, y, width, height)` of each.
    struct Placement: Equatable {
        var sourceX = 0, sourceY = 0, sourceWidth = 0, sourceHeight = 0
        var targetX = 0, targetY = 0, targetWidth = 0, targetHeight = 0
    }

    /// The crop/pad geometry for a `width × height` image and a `size × size` target.
    static func placement(width: Int, height: Int, size: Int, crop: CropPolicy) -> Placement {
        var p = Placement(sourceWidth: width, sourceHeight: height, targetWidth: size, targetHeight: size)
        switch crop {
        case .center:
            let side = min(width, height)
            p.sourceX = (width - side) / 2
            p.sourceY = (height - side) / 2
            p.sourceWidth = side
            p.sourceHeight = side
        case .pad:
            let longer = Double(max(width, height))
            p.targetWidth = width >= height ? size : max(1, Int((Double(width) * Double(size) / longer).rounded()))
            p.targetHeight = height >= width ? size : max(1, Int((Double(height) * Double(size) / longer).rounded()))
            p.targetX = (size - p.targetWidth) / 2
            p.targetY = (size - p.targetHeight) / 2
        case .stretch:
            break
        }
        return p
    }

    private static func convert<S: FixedWidthInteger & UnsignedInteger>(
        _ samples: UnsafeBufferPointer<S>, image: DecodedImage, conversion: ImageConversion
    ) -> [UInt8] {
        let info = image.info
        let size = conversion.size, channels = conversion.channels
        let sourceChannels = info.channels
        let place = placement(width: info.width, height: info.height, size: size, crop: conversion.crop)
        let background = conversion.background
        let bgRGB = [Float(background.red) / 255, Float(background.green) / 255, Float(background.blue) / 255]
        let bgGray = 0.299 * bgRGB[0] + 0.587 * bgRGB[1] + 0.114 * bgRGB[2]
        let bg = channels == 1 ? [bgGray] : bgRGB
        let plane = size * size
        var output = [UInt8](repeating: 0, count: channels * plane)
        for c in 0..<channels {
            let fill = UInt8((bg[c] * 255).rounded())
            for i in 0..<plane { output[c * plane + i] = fill }
        }
        let horizontal = ImageDataset.AxisResampler(from: place.sourceWidth, to: place.targetWidth)
        let vertical = ImageDataset.AxisResampler(from: place.sourceHeight, to: place.targetHeight)
        let scale = 1 / Float(image.maxValue)
        let outWidth = place.targetWidth
        var row = [Float](repeating: 0, count: place.sourceWidth * channels)
        var rowPass = [Float](repeating: 0, count: place.sourceHeight * outWidth * channels)

        // Source rows → target channels in [0, 1] → horizontal resample.
        for y in 0..<place.sourceHeight {
            let start = ((place.sourceY + y) * info.width + place.sourceX) * sourceChannels
            row.withUnsafeMutableBufferPointer { out in
                for x in 0..<place.sourceWidth {
                    let s = start + x * sourceChannels
                    var r: Float, g: Float, b: Float
                    var alpha: Float = 1
                    switch sourceChannels {
                    case 1, 2:
                        r = min(Float(samples[s]) * scale, 1); g = r; b = r
                        if sourceChannels == 2 { alpha = min(Float(samples[s + 1]) * scale, 1) }
                    default:
                        r = min(Float(samples[s]) * scale, 1)
                        g = min(Float(samples[s + 1]) * scale, 1)
                        b = min(Float(samples[s + 2]) * scale, 1)
                        if sourceChannels == 4 { alpha = min(Float(samples[s + 3]) * scale, 1) }
                    }
                    if alpha < 1 {
                        r = r * alpha + bgRGB[0] * (1 - alpha)
                        g = g * alpha + bgRGB[1] * (1 - alpha)
                        b = b * alpha + bgRGB[2] * (1 - alpha)
                    }
                    if channels == 1 {
                        out[x] = sourceChannels <= 2 ? r : 0.299 * r + 0.587 * g + 0.114 * b
                    } else {
                        out[x * 3] = r; out[x * 3 + 1] = g; out[x * 3 + 2] = b
                    }
                }
            }
            let taps = horizontal.taps
            let rowBase = y * outWidth * channels
            for x in 0..<outWidth {
                for c in 0..<channels {
                    var sum: Float = 0
                    for k in 0..<taps {
                        let t = x * taps + k
                        let weight = horizontal.weights[t]
                        if weight != 0 { sum += weight * row[horizontal.indices[t] * channels + c] }
                    }
                    rowPass[rowBase + x * channels + c] = sum
                }
            }
        }
        // Vertical resample → rounded bytes in the target's channel planes.
        let taps = vertical.taps
        for y in 0..<place.targetHeight {
            for x in 0..<outWidth {
                for c in 0..<channels {
                    var sum: Float = 0
                    for k in 0..<taps {
                        let t = y * taps + k
                        let weight = vertical.weights[t]
                        if weight != 0 { sum += weight * rowPass[(vertical.indices[t] * outWidth + x) * channels + c] }
                    }
                    let value = (min(max(sum, 0), 1) * 255).rounded()
                    output[c * plane + (place.targetY + y) * size + place.targetX + x] = UInt8(value)
                }
            }
        }
        return output
    }

    // MARK: Messages

    /// `N of M image files in ROOT cannot be read: a.png: reason; …`, listing at most `limit`.
    static func failureSummary(_ failures: [ImageFileFailure], total: Int, root: String, limit: Int) -> String {
        "\(failures.count) of \(total) image files in \(root) cannot be read: "
            + failureList(failures, root: root, limit: limit)
    }

    /// `a.png: reason; b.jpg: reason; and N more (run …)`.
    static func failureList(_ failures: [ImageFileFailure], root: String, limit: Int) -> String {
        let shown = failures.prefix(max(1, limit)).map(\.description).joined(separator: "; ")
        return shown + (failures.count > limit
            ? "; and \(failures.count - limit) more (run 'swiftgan data check \(root)')" : "")
    }

    /// Why a folder gave no images.
    static func emptyMessage(_ scan: ImageFolderScan, failures: Int) -> String {
        if failures > 0 {
            return "\(scan.root) holds no readable images: all \(failures) image files failed to decode"
        }
        var found: [String] = []
        if !scan.skippedNonImage.isEmpty {
            found.append("\(scan.skippedNonImage.count) non-image files (such as \(scan.skippedNonImage[0]))")
        }
        if !scan.skippedHidden.isEmpty {
            found.append("\(scan.skippedHidden.count) hidden entries (such as \(scan.skippedHidden[0]))")
        }
        let extensions = imageExtensions.sorted().joined(separator: ", ")
        return "\(scan.root) holds no images (files ending in \(extensions))"
            + (found.isEmpty ? ": the folder is empty" : "; it has only " + found.joined(separator: " and "))
    }
}

/// Result storage for ``ImageFolder/parallelMap(_:threads:progress:_:)``: each worker claims the next
/// index and stores its result there.
private final class ResultSlots<R>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [R?]
    private var next = 0
    private var done = 0

    init(count: Int) {
        values = Array(repeating: nil, count: count)
    }

    func claim() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < values.count else { return nil }
        next += 1
        return next - 1
    }

    /// Stores a result; returns how many are stored now.
    func store(_ value: R, at index: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        values[index] = value
        done += 1
        return done
    }

    func results() -> [R] {
        lock.lock()
        defer { lock.unlock() }
        return values.compactMap { $0 }
    }
}
