import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANVoxels

/// `swiftgan data check|pack FOLDER`: look at a folder of images before training, or convert it once into a
/// packed file.
enum DataCommand {
    static let checkSpecs: [OptionSpec] = [
        OptionSpec("image-size", "32|64", "also say how the images would be fitted to this model size"),
        OptionSpec("channels", "1|3|auto", "with --image-size: channels to convert to", default: "auto"),
        OptionSpec("crop", "center|pad|stretch", "with --image-size: how other shapes are fitted", default: "center"),
        OptionSpec("max-pixels", "N", "refuse larger images (guard against decompression bombs)",
                   default: "\(ImageConversion.defaultMaxPixels)"),
        OptionSpec("threads", "N", "decoding threads", default: "all cores"),
    ]

    static let packSpecs: [OptionSpec] = [
        OptionSpec("out", "FILE", "the packed file to write (required; by convention *.\(PackedDataset.fileExtension))"),
        OptionSpec("image-size", "32|64", "side of the square images (required)"),
        OptionSpec("channels", "1|3|auto", "1 gray, 3 RGB; auto: 3 when any image has colour", default: "auto"),
        OptionSpec("crop", "center|pad|stretch", "center: cut the middle square; pad: fit inside, fill with the "
                       + "background; stretch: change the aspect ratio", default: "center"),
        OptionSpec("background", "COLOUR", "behind transparent pixels and in padding: black, white, #rrggbb or r,g,b",
                   default: "black"),
        OptionSpec("max-pixels", "N", "refuse larger images (guard against decompression bombs)",
                   default: "\(ImageConversion.defaultMaxPixels)"),
        OptionSpec("skip-unreadable", nil, "leave out files that cannot be decoded instead of stopping"),
        OptionSpec("threads", "N", "decoding threads", default: "all cores"),
    ]

    static let previewSpecs: [OptionSpec] = [
        OptionSpec("out", "FILE", "the PNG to write (required)"),
        OptionSpec("count", "N", "how many samples, from the start of the data", default: "64"),
        OptionSpec("columns", "N", "samples per row", default: "8"),
        OptionSpec("image-size", "32|64", "images: the side they are fitted to, as training would; shapes: the grid size", default: "32"),
        OptionSpec("channels", "1|3|auto", "images: channels to convert to", default: "auto"),
        OptionSpec("crop", "center|pad|stretch", "images: how other shapes are fitted", default: "center"),
        OptionSpec("up-axis", "x|y|z", "shapes: the axis that points up", default: "y for .binvox, z otherwise"),
        OptionSpec("skip-unreadable", nil, "images: leave out files that cannot be decoded (listed in a warning)"),
    ]

    static let previewHelp = helpText(
        command: "data preview PATH",
        summary: "Draw the first samples of a dataset as training would see them: images (IDX file, folder, packed "
            + "file, dataset name) as a grid, voxel shapes (IDX 4-D, .binvox, .npy, meshes) as shaded renders.",
        specs: previewSpecs,
        examples: ["swiftgan data preview photos/ --out photos.png --image-size 64",
                   "swiftgan data preview chair-train-voxels32-idx4-ubyte.gz --out chairs.png --count 16 --columns 4"])

    static let checkHelp = helpText(
        command: "data check FOLDER",
        summary: "Scan a folder of images (recursively; class subfolders become labels) and report counts, sizes, "
            + "colour modes, classes, skipped files and every unreadable or truncated file, without training. "
            + "Exits with status 1 when a file cannot be read.",
        specs: checkSpecs,
        examples: ["swiftgan data check photos/", "swiftgan data check photos/ --image-size 64 --channels 3"])

    static let packHelp = helpText(
        command: "data pack FOLDER",
        summary: "Decode, convert and resize every image of a folder once, in parallel, into one file that "
            + "'swiftgan train --data FILE' loads in a single read. Transparent pixels are composited onto the "
            + "background; colour becomes luma 0.299 R + 0.587 G + 0.114 B for 1 channel; 16-bit images keep "
            + "their full range; shrinking averages areas, enlarging is bilinear.",
        specs: packSpecs,
        examples: ["swiftgan data pack photos/ --out photos.sgpack --image-size 64 --channels 3",
                   "swiftgan data pack faces/ --out faces.sgpack --image-size 64 --channels 1 --crop pad"])

    static let help = """
    usage: swiftgan data <check|pack|preview> PATH [options]

    Look at a folder of images before training, pack it into one file, or draw a dataset's first samples.

    subcommands:
      check     report counts, sizes, colour modes, classes and unreadable files
      pack      decode, convert and resize once into a packed file for training
      preview   draw the first samples (images as a grid, voxel shapes as renders) into a PNG

    Run 'swiftgan data check --help' (or pack, preview) for options.
    """

    static func run(_ arguments: [String]) throws -> Int32 {
        guard let subcommand = arguments.first else {
            print(help)
            return 2
        }
        let rest = Array(arguments.dropFirst())
        switch subcommand {
        case "--help", "-h", "help":
            print(help)
            return 0
        case "check":
            if rest.contains("--help") { print(checkHelp); return 0 }
            return try check(rest)
        case "pack":
            if rest.contains("--help") { print(packHelp); return 0 }
            return try pack(rest)
        case "preview":
            if rest.contains("--help") { print(previewHelp); return 0 }
            return try preview(rest)
        default:
            throw UsageError("data: unknown subcommand '\(subcommand)' (check, pack, preview; see 'swiftgan data --help')")
        }
    }

    // MARK: check

    static func check(_ arguments: [String]) throws -> Int32 {
        let (folder, options) = try folderAndOptions(arguments, specs: checkSpecs, command: "data check")
        let maxPixels = try options.int("max-pixels", range: 1...Int.max) ?? ImageConversion.defaultMaxPixels
        let threads = try options.int("threads", range: 1...1024) ?? ProcessInfo.processInfo.activeProcessorCount
        let size = try options.int("image-size", range: 1...4096)
        let channels = try channelsOption(options)
        let crop = try cropOption(options)
        if size == nil && (options.has("channels") || options.has("crop")) {
            throw UsageError("data check: --channels and --crop need --image-size")
        }
        if let size { try validateModelSize(size, channels: channels ?? 1, folder: folder) }

        let started = Date()
        let contents = try ImageFolder.load(folder, conversion: nil, maxPixels: maxPixels, threads: threads)
        let scan = contents.scan
        print(String(format: "checked %@: %d image files in %.1f s", folder, scan.files.count,
                     Date().timeIntervalSince(started)))
        if let names = scan.classNames, let labels = scan.labels {
            let counts = Dictionary(grouping: labels, by: { $0 }).mapValues(\.count)
            let listed = names.enumerated().map { "\($0.element) (\(counts[$0.offset] ?? 0))" }
            print("layout: \(names.count) classes from subfolders: " + shortList(listed, limit: 20))
        } else {
            print("layout: flat folder, no labels")
        }
        print("readable: \(contents.files.count) images")
        if !scan.skippedHidden.isEmpty || !scan.skippedNonImage.isEmpty {
            var parts: [String] = []
            if !scan.skippedHidden.isEmpty {
                parts.append("\(scan.skippedHidden.count) hidden or system entries (\(shortList(scan.skippedHidden, limit: 5)))")
            }
            if !scan.skippedNonImage.isEmpty {
                parts.append("\(scan.skippedNonImage.count) non-image files (\(shortList(scan.skippedNonImage, limit: 5)))")
            }
            print("skipped: " + parts.joined(separator: ", "))
        }
        if !contents.infos.isEmpty {
            let sizes = tally(contents.infos.map { "\($0.width)x\($0.height)" })
            let areas = contents.infos.map { $0.width * $0.height }
            let smallest = contents.infos[areas.indices.min { areas[$0] < areas[$1] } ?? 0]
            let largest = contents.infos[areas.indices.max { areas[$0] < areas[$1] } ?? 0]
            print("sizes (width x height): " + shortList(sizes, limit: 6)
                  + "; smallest \(smallest.width)x\(smallest.height), largest \(largest.width)x\(largest.height)")
            print("colour modes: " + shortList(tally(contents.infos.map(\.modeDescription)), limit: 8))
            let shorter = contents.infos.map { min($0.width, $0.height) }.sorted()
            let median = shorter[shorter.count / 2]
            let suggested = median >= 64 ? 64 : 32
            if let size {
                describeConversion(contents.infos, size: size, channels: channels, crop: crop ?? .center)
                if size > median {
                    print("note: half of the images are under \(size) pixels on their shorter side (median \(median)) "
                          + "and will be enlarged" + (suggested < size ? "; --image-size \(suggested) keeps them sharp" : ""))
                }
            } else {
                print("suggestion: --image-size \(suggested) (the median shorter side is \(median) pixels)"
                      + (contents.infos.contains(where: \.isColour) ? " --channels 3" : " --channels 1"))
            }
        }
        if !contents.failures.isEmpty {
            print("unreadable: \(contents.failures.count)")
            for failure in contents.failures { print("  \(failure.description)") }
            throw DataError.invalidDataset("\(contents.failures.count) of \(scan.files.count) image files in \(folder) "
                                           + "cannot be read (listed above)")
        }
        try contents.requireImages()
        return 0
    }

    /// What `--image-size`, `--channels` and `--crop` would do to these images.
    private static func describeConversion(_ infos: [ImageFileInfo], size: Int, channels: Int?, crop: CropPolicy) {
        let colour = infos.filter(\.isColour).count
        let resolved = channels ?? (colour > 0 ? 3 : 1)
        var line = "with --image-size \(size): \(resolved) channel\(resolved == 1 ? "" : "s")"
        if channels == nil { line += " (auto: \(colour) of \(infos.count) images have colour)" }
        if resolved == 1 && colour > 0 { line += "; \(colour) colour images become gray (luma)" }
        let alpha = infos.filter(\.alpha).count
        if alpha > 0 { line += "; \(alpha) images with transparency are composited onto black" }
        print(line)
        let shrink = infos.filter { min($0.width, $0.height) > size }.count
        let grow = infos.filter { min($0.width, $0.height) < size }.count
        let notSquare = infos.filter { $0.width != $0.height }.count
        var fit = "fitting (\(crop.rawValue)): \(shrink) images shrink (area average), \(grow) grow (bilinear), "
            + "\(infos.count - shrink - grow) keep their size"
        if notSquare > 0 {
            switch crop {
            case .center: fit += "; \(notSquare) are not square and lose the ends of their longer side"
            case .pad: fit += "; \(notSquare) are not square and get background borders"
            case .stretch: fit += "; \(notSquare) are not square and change their aspect ratio"
            }
        }
        print(fit)
    }

    // MARK: pack

    static func pack(_ arguments: [String]) throws -> Int32 {
        let (folder, options) = try folderAndOptions(arguments, specs: packSpecs, command: "data pack")
        guard let out = options.string("out"), !out.isEmpty else {
            throw UsageError("data pack: --out FILE is required (for example --out images.\(PackedDataset.fileExtension))")
        }
        guard let size = try options.int("image-size", range: 1...4096) else {
            throw UsageError("data pack: --image-size is required (32 or 64; 'swiftgan data check \(folder)' suggests one)")
        }
        let channels = try channelsOption(options)
        try validateModelSize(size, channels: channels ?? 1, folder: folder)
        var background = BackgroundColor.black
        if let text = options.string("background") {
            guard let parsed = BackgroundColor(parsing: text) else {
                throw UsageError("--background: '\(text)' is not black, white, #rrggbb or r,g,b")
            }
            background = parsed
        }
        let conversion = ImageConversion(
            size: size, channels: channels ?? 3, crop: try cropOption(options) ?? .center, background: background,
            maxPixels: try options.int("max-pixels", range: 1...Int.max) ?? ImageConversion.defaultMaxPixels)
        let threads = try options.int("threads", range: 1...1024) ?? ProcessInfo.processInfo.activeProcessorCount

        let started = Date()
        var contents = try ImageFolder.load(folder, conversion: conversion, threads: threads) { done, total in
            if total >= 2000 && done % max(1, total / 10) == 0 { print("decoded \(done)/\(total)") }
        }
        if channels == nil { contents = contents.grayscaleIfNoColour() }
        if !contents.failures.isEmpty {
            if options.has("skip-unreadable") {
                for failure in contents.failures { print("warning: skipped \(failure.description)") }
            } else {
                try contents.requireAllReadable(hint: " (add --skip-unreadable to pack the rest)")
            }
        }
        let packed = try PackedDataset(contents)
        try packed.write(to: out)
        let bytes = (try? FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
        let classes = packed.classNames.map { ", \($0.count) classes" } ?? ""
        print(String(format: "packed %d images (%dx%dx%d%@) from %@ into %@ (%.1f MB) in %.1f s", packed.count,
                     packed.channels, packed.height, packed.width, classes, folder, out, Double(bytes) / 1e6,
                     Date().timeIntervalSince(started)))
        let scan = contents.scan
        if !scan.skippedHidden.isEmpty || !scan.skippedNonImage.isEmpty {
            print("skipped \(scan.skippedHidden.count) hidden entries and \(scan.skippedNonImage.count) non-image files")
        }
        return 0
    }

    // MARK: preview

    static func preview(_ arguments: [String]) throws -> Int32 {
        let (path, options) = try folderAndOptions(arguments, specs: previewSpecs, command: "data preview")
        guard let out = options.string("out") else { throw UsageError("data preview: --out FILE.png is required") }
        let count = try options.int("count", range: 1...10_000) ?? 64
        let columns = try options.int("columns", range: 1...1000) ?? 8
        let size = try options.int("image-size") ?? 32
        if VoxelDataset.looksVolumetric(path) {
            guard [16, 32, 64].contains(size) || !options.has("image-size") else {
                throw UsageError("--image-size: shapes are drawn at 16, 32 or 64 voxels, got \(size)")
            }
            let shapes = try VoxelDataset.load(path, size: size)
            var renderOptions = RenderOptions()
            renderOptions.upAxis = Axis(rawValue: try options.upAxis() ?? VoxelDataset.storedUpAxis(path)) ?? .z
            let grids = Array(shapes.grids.prefix(count))
            try ImageIO.writePNG(VoxelPreview.renderSheet(grids, columns: min(columns, grids.count), imageSize: 96,
                                                          options: renderOptions), to: out)
            print("wrote \(out): the first \(grids.count) of \(shapes.count) shapes (\(size)^3) of \(path)")
            return 0
        }
        guard [32, 64].contains(size) else { throw UsageError("--image-size: images are fitted to 32 or 64, got \(size)") }
        if options.has("up-axis") { throw UsageError("--up-axis applies to voxel shapes; \(path) holds images") }
        let dataset = try ImageDataset.load(path, targetSize: size, sizePolicy: size == 32 ? .pad : .resize,
                                            channels: try channelsOption(options), crop: try cropOption(options) ?? .center,
                                            skipUnreadable: options.has("skip-unreadable"), warn: { print("warning: \($0)") })
        let shown = min(count, dataset.count)
        let values = Array(dataset.pixels.prefix(shown * dataset.channels * size * size))
        try ImageIO.writePNG(ImageGrid.tile(images: values, count: shown, channels: dataset.channels, height: size, width: size,
                                            columns: min(columns, shown)), to: out)
        print("wrote \(out): the first \(shown) of \(dataset.count) images (\(dataset.channels)x\(size)x\(size)) of \(path)")
        return 0
    }

    // MARK: Options

    /// The one FOLDER argument and the options around it.
    static func folderAndOptions(_ arguments: [String], specs: [OptionSpec],
                                 command: String) throws -> (String, ParsedArguments) {
        var optionArguments: [String] = []
        var positional: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument.hasPrefix("--") {
                optionArguments.append(argument)
                let name = String(argument.dropFirst(2))
                if !name.contains("="), specs.contains(where: { $0.name == name && $0.value != nil }),
                   i + 1 < arguments.count {
                    optionArguments.append(arguments[i + 1])
                    i += 1
                }
            } else {
                positional.append(argument)
            }
            i += 1
        }
        let options = try ParsedArguments(optionArguments, specs: specs, command: command)
        guard positional.count == 1, let folder = positional.first else {
            throw UsageError(positional.isEmpty
                ? "\(command): give the FOLDER of images (see 'swiftgan \(command) --help')"
                : "\(command): give one FOLDER, got \(positional.count): \(positional.joined(separator: " "))")
        }
        return (folder, options)
    }

    private static func channelsOption(_ options: ParsedArguments) throws -> Int? {
        guard let text = options.string("channels"), text != "auto" else { return nil }
        guard let value = Int(text), value == 1 || value == 3 else {
            throw UsageError("--channels: '\(text)' is not 1, 3 or auto")
        }
        return value
    }

    private static func cropOption(_ options: ParsedArguments) throws -> CropPolicy? {
        guard let text = options.string("crop") else { return nil }
        guard let policy = CropPolicy(rawValue: text) else {
            throw UsageError("--crop: '\(text)' is not one of center, pad, stretch")
        }
        return policy
    }

    /// Refuses a size the model cannot make, before any image is decoded.
    private static func validateModelSize(_ size: Int, channels: Int, folder: String) throws {
        var configuration = DCGANConfiguration()
        configuration.imageSize = size
        configuration.imageChannels = channels
        if let problem = configuration.problem {
            throw UsageError("--image-size: the DCGAN model cannot use \(size): \(problem); use --image-size "
                             + "\(size < 48 ? 32 : 64) ('swiftgan data check \(folder)' suggests a size from the images)")
        }
    }

    /// `value (count)` entries, most frequent first.
    private static func tally(_ values: [String]) -> [String] {
        let counts = Dictionary(grouping: values, by: { $0 }).mapValues(\.count)
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key) (\($0.value))" }
    }

    /// The first `limit` items joined with commas, then `and N more`.
    private static func shortList(_ items: [String], limit: Int) -> String {
        let shown = items.prefix(limit).joined(separator: ", ")
        return items.count > limit ? shown + ", and \(items.count - limit) more" : shown
    }
}
