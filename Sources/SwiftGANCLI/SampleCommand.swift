import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels
import SwiftGANVoxels

enum SampleCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("checkpoint", "PATH", "a checkpoint written by 'swiftgan train' (required)"),
        OptionSpec("count", "N", "number of images", default: "64"),
        OptionSpec("seed", "N", "seed of the latent vectors; the same seed gives the same images", default: "0"),
        OptionSpec("columns", "N", "images per row of the grid", default: "8"),
        OptionSpec("out", "DIR", "output folder", default: "samples"),
        OptionSpec("class", "K|NAME", "for a conditional GAN: draw only class K (0-based index), or the class folder of that name"),
        OptionSpec("per-class", "N", "for a conditional GAN: a grid with one row of N images per class"),
        OptionSpec("individual", nil, "also write each image as its own PNG (each shape as an OBJ mesh, for 3D models)"),
        OptionSpec("keep-fragments", nil, "3D models: keep loose parts smaller than 2% of a shape's largest part in its mesh"),
        OptionSpec("threads", "N", "CPU threads for the kernels", default: "all cores"),
    ]

    static let help = helpText(
        command: "sample", summary: "Draw images from a trained generator: a grid PNG, and optionally one PNG per image.",
        specs: specs, examples: ["swiftgan sample --checkpoint runs/fashion-mnist/checkpoint.safetensors --count 100 --seed 7"])

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(help); return 0 }
        let options = try ParsedArguments(arguments, specs: specs, command: "sample")
        guard let path = options.string("checkpoint") else { throw UsageError("sample: --checkpoint PATH is required") }
        let requestedCount = try options.int("count", range: 1...100_000) ?? 64
        let seed = try options.uint64("seed") ?? 0
        let requestedColumns = try options.int("columns", range: 1...1000) ?? 8
        let out = options.string("out") ?? "samples"
        KernelThreads.set(try options.kernelThreads())

        let checkpoint = try Checkpoint.read(path)
        let gan = try checkpoint.makeGAN(path: path)
        let c = gan.configuration
        var count = requestedCount, columns = requestedColumns
        var labels: [Int]? = nil
        if options.has("class") && options.has("per-class") {
            throw UsageError("sample: give either --class K or --per-class N, not both")
        }
        if let classes = c.classCount {
            if let perClass = try options.int("per-class", range: 1...1000) {
                count = perClass * classes
                columns = perClass
                labels = (0..<classes).flatMap { [Int](repeating: $0, count: perClass) }
            } else if let text = options.string("class") {
                labels = [Int](repeating: try classIndex(text, configuration: c, checkpoint: path), count: count)
            } else {
                labels = gan.randomLabels(count: count, seed: seed &+ 1)
            }
        } else if options.has("class") || options.has("per-class") {
            throw UsageError("\(path) is an unconditional GAN: --class and --per-class need a conditional one (train with --conditional)")
        }
        if options.has("keep-fragments") && c.spatialRank != 3 {
            throw UsageError("--keep-fragments applies to 3D checkpoints; \(path) is an image checkpoint")
        }
        if options.has("keep-fragments") && !options.has("individual") {
            throw UsageError("--keep-fragments changes the meshes that --individual writes; without --individual no mesh is written")
        }
        let images = gan.generate(gan.latents(count: count, seed: seed), labels: labels)
        if c.spatialRank == 3 {
            // Shapes: rendered previews, and with --individual a mesh (marching cubes) per shape.
            let grids = DCGAN.voxelGrids(from: images)
            let sheetPath = out + "/samples-seed\(seed).png"
            try ImageIO.writePNG(VoxelPreview.renderSheet(grids, views: Viewpoint.standard, columns: max(1, columns / 4),
                                                          imageSize: 128, options: gan.renderOptions), to: sheetPath)
            print("wrote \(sheetPath) (\(count) shapes from step \(checkpoint.step), four views each)")
            if options.has("individual") {
                let keepFragments = options.has("keep-fragments")
                var removed = 0
                for (i, grid) in grids.enumerated() {
                    let cleaned = keepFragments ? (grid: grid, removedParts: 0) : grid.removingFragments()
                    removed += cleaned.removedParts
                    try MeshIO.writeOBJ(MarchingCubes.mesh(from: cleaned.grid), to: out + String(format: "/seed%llu-%05d.obj", seed, i))
                }
                print("wrote \(count) meshes (OBJ) to \(out)/" + (keepFragments ? "" : "; \(removed) loose fragments left out (--keep-fragments keeps them)"))
            }
            return 0
        }
        let grid = ImageGrid.tile(images: images.scalars, count: count, channels: c.imageChannels, height: c.imageSize,
                                  width: c.imageSize, columns: columns)
        let gridPath = out + "/samples-seed\(seed).png"
        try ImageIO.writePNG(grid, to: gridPath)
        print("wrote \(gridPath) (\(count) images from step \(checkpoint.step))")
        if options.has("individual") {
            let size = c.imageChannels * c.imageSize * c.imageSize
            let all = images.scalars
            for i in 0..<count {
                let one = Array(all[(i * size)..<((i + 1) * size)])
                let image = ImageGrid.image(from: one, channels: c.imageChannels, height: c.imageSize, width: c.imageSize)
                try ImageIO.writePNG(image, to: out + String(format: "/seed%llu-%05d.png", seed, i))
            }
            print("wrote \(count) single images to \(out)/")
        }
        return 0
    }
}

/// The class that `--class TEXT` asks for: a number is the class's 0-based index, whatever the class folders are
/// called; anything else is a class folder's name. Prints the class chosen.
func classIndex(_ text: String, configuration c: DCGANConfiguration, checkpoint path: String) throws -> Int {
    let classes = c.classCount ?? 0
    let k: Int
    if let number = Int(text), (0..<classes).contains(number) {
        k = number
    } else if let names = c.classNames, let index = names.firstIndex(of: text) {
        k = index
    } else {
        let named = c.classNames.map { " or one of " + $0.joined(separator: ", ") } ?? ""
        throw UsageError("--class: '\(text)' is not a class of \(path); give 0 to \(classes - 1)\(named)")
    }
    print("class \(k)" + (c.classNames.map { " (\($0[k]))" } ?? ""))
    return k
}
