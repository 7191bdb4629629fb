import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels
import SwiftGANVoxels

enum InterpolateCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("checkpoint", "PATH", "a checkpoint written by 'swiftgan train' (required)"),
        OptionSpec("from-seed", "N", "seed of the first latent vector", default: "1"),
        OptionSpec("to-seed", "N", "seed of the last latent vector", default: "2"),
        OptionSpec("steps", "N", "images along the path, ends included", default: "10"),
        OptionSpec("mode", "linear|spherical|both", "path through latent space", default: "both"),
        OptionSpec("scale", "N", "enlarge GIF frames N times (nearest neighbour)", default: "4"),
        OptionSpec("frame-delay", "CS", "GIF frame time in 1/100 s", default: "12"),
        OptionSpec("class", "K|NAME", "for a conditional GAN: the class of every image (0-based index, or a class folder's name)", default: "0"),
        OptionSpec("from-shape", "FILE", "3D models: start at this real shape (its latent is found by optimization)"),
        OptionSpec("to-shape", "FILE", "3D models: end at this real shape"),
        OptionSpec("from-index", "N", "which shape of a file holding many (4-D IDX, npy)", default: "0"),
        OptionSpec("to-index", "N", "which shape of --to-shape's file", default: "0"),
        OptionSpec("up-axis", "x|y|z", "3D models: the axis that points up in the --from-shape/--to-shape files", default: "y for .binvox, z otherwise"),
        OptionSpec("mesh-format", "obj|stl|ply", "3D models: format of the mesh written for each step", default: "obj"),
        OptionSpec("keep-fragments", nil, "3D models: keep loose parts smaller than 2% of a shape's largest part in its mesh"),
        OptionSpec("out", "DIR", "output folder", default: "interpolation"),
        OptionSpec("threads", "N", "CPU threads for the kernels", default: "all cores"),
    ]

    static let help = helpText(
        command: "interpolate",
        summary: """
        Walk from one latent vector to another and draw each point: a PNG strip and an animated GIF (forth and back) per
        mode. Linear is the straight line; spherical follows the great circle, keeping the typical length of Gaussian
        latents.
        """,
        specs: specs, examples: ["swiftgan interpolate --checkpoint runs/fashion-mnist/checkpoint.safetensors --from-seed 3 --to-seed 11"])

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(help); return 0 }
        let options = try ParsedArguments(arguments, specs: specs, command: "interpolate")
        guard let path = options.string("checkpoint") else { throw UsageError("interpolate: --checkpoint PATH is required") }
        let fromSeed = try options.uint64("from-seed") ?? 1
        let toSeed = try options.uint64("to-seed") ?? 2
        let steps = try options.int("steps", range: 2...1000) ?? 10
        let scale = try options.int("scale", range: 1...32) ?? 4
        let delay = try options.int("frame-delay", range: 1...10_000) ?? 12
        let out = options.string("out") ?? "interpolation"
        let modeText = options.string("mode") ?? "both"
        let modes: [LatentInterpolation]
        switch modeText {
        case "both": modes = LatentInterpolation.allCases
        default:
            guard let mode = LatentInterpolation(rawValue: modeText) else {
                throw UsageError("--mode: '\(modeText)' is not one of linear, spherical, both")
            }
            modes = [mode]
        }
        KernelThreads.set(try options.kernelThreads())

        let checkpoint = try Checkpoint.read(path)
        let gan = try checkpoint.makeGAN(path: path)
        let c = gan.configuration
        var a = gan.latents(count: 1, seed: fromSeed).scalars, b = gan.latents(count: 1, seed: toSeed).scalars
        for end in ["from", "to"] where options.has("\(end)-index") && !options.has("\(end)-shape") {
            throw UsageError("--\(end)-index picks a shape of --\(end)-shape FILE, which is not given")
        }
        for option in ["mesh-format", "keep-fragments"] where options.has(option) && c.spatialRank != 3 {
            throw UsageError("--\(option) applies to 3D checkpoints; \(path) is an image checkpoint")
        }
        if options.has("up-axis") && !options.has("from-shape") && !options.has("to-shape") {
            throw UsageError("--up-axis describes the files of --from-shape and --to-shape; neither is given")
        }
        if options.has("from-shape") || options.has("to-shape") {
            guard c.spatialRank == 3 else { throw UsageError("--from-shape and --to-shape need a 3D (volumetric) checkpoint") }
            // Both shapes are read and checked before the first (slow) fit.
            let fromIndex = try options.int("from-index") ?? 0, toIndex = try options.int("to-index") ?? 0
            let filesUpAxis = try options.upAxis()
            let from = try options.string("from-shape").map {
                try VolumeOutput.pickShape($0, index: fromIndex, filesUpAxis: filesUpAxis, gan: gan)
            }
            let to = try options.string("to-shape").map {
                try VolumeOutput.pickShape($0, index: toIndex, filesUpAxis: filesUpAxis, gan: gan)
            }
            if let from { a = VolumeOutput.fitShape(from, gan: gan) }
            if let to { b = VolumeOutput.fitShape(to, gan: gan) }
        }
        let meshFormat = options.string("mesh-format") ?? "obj"
        guard ["obj", "stl", "ply"].contains(meshFormat) else { throw UsageError("--mesh-format: '\(meshFormat)' is not obj, stl or ply") }
        var labels: [Int]? = nil
        if c.classCount != nil {
            labels = [Int](repeating: try classIndex(options.string("class") ?? "0", configuration: c, checkpoint: path), count: steps)
        }
        let size = c.imageChannels * c.imageSize * c.imageSize
        for mode in modes {
            if c.spatialRank == 3 {
                let volumes = gan.generate(mode.path(from: a, to: b, steps: steps), labels: labels)
                try VolumeOutput.writeInterpolation(DCGAN.voxelGrids(from: volumes), gan: gan, mode: mode.rawValue, out: out,
                                                    meshFormat: meshFormat, keepFragments: options.has("keep-fragments"), delay: delay)
                continue
            }
            let images = gan.generate(mode.path(from: a, to: b, steps: steps), labels: labels).scalars
            let strip = ImageGrid.strip(images: images, count: steps, channels: c.imageChannels, height: c.imageSize,
                                        width: c.imageSize, padding: 2, background: 255)
            let stripPath = "\(out)/interpolation-\(mode.rawValue).png"
            try ImageIO.writePNG(strip, to: stripPath)
            var frames: [RasterImage] = []
            for i in 0..<steps {
                let one = Array(images[(i * size)..<((i + 1) * size)])
                frames.append(enlarge(ImageGrid.image(from: one, channels: c.imageChannels, height: c.imageSize, width: c.imageSize), by: scale))
            }
            frames += frames.dropFirst().dropLast().reversed()
            let gifPath = "\(out)/interpolation-\(mode.rawValue).gif"
            try GIFEncoder.write(frames: frames, to: gifPath, delayCentiseconds: delay)
            print("wrote \(stripPath) and \(gifPath)")
        }
        return 0
    }

    static func enlarge(_ image: RasterImage, by factor: Int) -> RasterImage {
        if factor == 1 { return image }
        let w = image.width * factor, h = image.height * factor, ch = image.channels
        var pixels = [UInt8](repeating: 0, count: w * h * ch)
        for y in 0..<h {
            for x in 0..<w {
                let src = ((y / factor) * image.width + x / factor) * ch
                for k in 0..<ch { pixels[(y * w + x) * ch + k] = image.pixels[src + k] }
            }
        }
        return RasterImage(width: w, height: h, channels: ch, pixels: pixels)
    }
}

/// Writing 3D results: rendered strips and GIFs, and a mesh per shape.
enum VolumeOutput {
    /// Shape number `index` in `path` (resampled and turned to the model's grids), checked not to be empty.
    static func pickShape(_ path: String, index: Int, filesUpAxis: Int?, gan: DCGAN) throws -> (grid: VoxelGrid, source: String) {
        let c = gan.configuration
        let shapes = try VoxelDataset.loadForComparison(path, size: c.imageSize, upAxis: c.upAxis, filesUpAxis: filesUpAxis)
        guard index < shapes.count else {
            throw UsageError("\(path) holds \(shapes.count) shape(s); index \(index) is out of range")
        }
        try VoxelDataset.requireOccupied(shapes[index].grid, source: shapes[index].source)
        return shapes[index]
    }

    /// The latent vector whose generated shape reproduces `shape`, found by optimization.
    static func fitShape(_ shape: (grid: VoxelGrid, source: String), gan: DCGAN) -> [Float] {
        print("fitting a latent vector to \(shape.source) ...")
        let fit = gan.fitLatent(to: shape.grid)
        print(String(format: "  reproduced with IoU %.3f", fit.iou))
        if fit.iou < 0.2 {
            // The usual cause of a fit this poor is a shape lying on its side: a file whose up axis is not its format's.
            print("  a poor fit: if the shape lies on its side in the renders, give its file's up axis with --up-axis x|y|z")
        }
        return fit.latent
    }

    static func writeInterpolation(_ grids: [VoxelGrid], gan: DCGAN, mode: String, out: String, meshFormat: String,
                                   keepFragments: Bool, delay: Int) throws {
        let options = gan.renderOptions
        let strip = VoxelPreview.renderSheet(grids, columns: grids.count, imageSize: 128, options: options)
        let stripPath = "\(out)/interpolation-\(mode).png"
        try ImageIO.writePNG(strip, to: stripPath)
        var frames = grids.map { VoxelPreview.renderSheet([$0], columns: 1, imageSize: 192, options: options, padding: 0) }
        frames += frames.dropFirst().dropLast().reversed()
        let gifPath = "\(out)/interpolation-\(mode).gif"
        try GIFEncoder.write(frames: frames, to: gifPath, delayCentiseconds: delay)
        // Step meshes of an earlier run in the same folder would sit beside this run's and look like part of it.
        let meshFolder = "\(out)/meshes-\(mode)"
        let stale = ((try? FileManager.default.contentsOfDirectory(atPath: meshFolder)) ?? []).filter { name in
            name.hasPrefix("step-") && ["obj", "stl", "ply"].contains((name as NSString).pathExtension)
        }
        for name in stale { try? FileManager.default.removeItem(atPath: "\(meshFolder)/\(name)") }
        var removed = 0
        for (i, grid) in grids.enumerated() {
            let cleaned = keepFragments ? (grid: grid, removedParts: 0) : grid.removingFragments()
            removed += cleaned.removedParts
            let mesh = MarchingCubes.mesh(from: cleaned.grid)
            let path = "\(out)/meshes-\(mode)/step-\(String(format: "%02d", i)).\(meshFormat)"
            switch meshFormat {
            case "stl": try MeshIO.writeSTL(mesh, to: path)
            case "ply": try MeshIO.writePLY(mesh, to: path)
            default: try MeshIO.writeOBJ(mesh, to: path)
            }
        }
        print("wrote \(stripPath), \(gifPath) and \(grids.count) meshes in \(out)/meshes-\(mode)/"
              + (keepFragments ? "" : "; \(removed) loose fragments left out (--keep-fragments keeps them)"))
    }
}
