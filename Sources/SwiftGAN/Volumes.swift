import Foundation
import SwiftGANData
import SwiftGANNN
import SwiftGANVoxels

/// Volumetric (3D) GANs: voxel data in, rendered previews, meshes and shape inversion out.
extension VoxelDataset {
    /// Shapes from a file or folder (4-D IDX, `.binvox`, `.npy`, `.off`, `.obj`), resampled to `size`^3
    /// (by max-pooling when shrinking, so thin parts such as chair legs survive; see `VoxelGrid.resampled`).
    public static func load(_ path: String, size: Int) throws -> VoxelDataset {
        let grids = try VoxelIO.load(path, size: size)
        guard !grids.isEmpty else { throw DataError.invalidDataset("\(path): no shapes found") }
        var occupancy: [Float] = []
        occupancy.reserveCapacity(grids.count * size * size * size)
        for (i, grid) in grids.enumerated() {
            try requireOccupied(grid, source: "\(path): shape \(i)", advice: "; remove it rather than train on it")
            occupancy += grid.values.map { $0 >= VoxelGrid.occupancyThreshold ? 1 : 0 }
        }
        return try VoxelDataset(occupancy: occupancy, count: grids.count, size: size)
    }

    /// The axis that points up in the shapes at `path` as they are stored: y (1) for `.binvox` files or a folder
    /// holding them (ShapeNet's convention), z (2) otherwise (ModelNet's grids and most meshes).
    public static func storedUpAxis(_ path: String) -> Int {
        if path.lowercased().hasSuffix(".binvox") { return 1 }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.contains { $0.lowercased().hasSuffix(".binvox") } ? 1 : 2
    }

    /// Shapes from a file or folder to compare with a model's (fitting, evaluation), each with where it came from
    /// (`file` or `file, shape k`): resampled to `size`^3 and turned, file by file, so that their up axis is `upAxis`
    /// (a y-up `.binvox` shape against a model trained on z-up grids is rotated a quarter turn about x). Each file's
    /// own up axis is `storedUpAxis(file)` unless `filesUpAxis` says otherwise (for files that break their format's
    /// convention).
    public static func loadForComparison(_ path: String, size: Int, upAxis: Int,
                                         filesUpAxis: Int? = nil) throws -> [(grid: VoxelGrid, source: String)] {
        var isDirectory: ObjCBool = false
        let files: [String]
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().filter(VoxelIO.isShapeFileName)
            guard !names.isEmpty else { return try VoxelIO.load(path, size: size).map { ($0, path) } }   // its error
            files = names.map { (path as NSString).appendingPathComponent($0) }
        } else {
            files = [path]
        }
        var shapes: [(grid: VoxelGrid, source: String)] = []
        for file in files {
            let stored = filesUpAxis ?? storedUpAxis(file)
            let grids = try VoxelIO.load(file, size: size)
            for (k, grid) in grids.enumerated() {
                let turned = grid.rotatedQuarterTurn(bringing: stored, to: upAxis)
                shapes.append((turned, grids.count == 1 ? file : "\(file), shape \(k)"))
            }
        }
        return shapes
    }

    /// An empty shape is never trained on or compared against: it would teach or score nothing. `source` names it.
    public static func requireOccupied(_ grid: VoxelGrid, source: String, advice: String = "") throws {
        guard grid.occupiedCount > 0 else {
            throw DataError.invalidDataset("\(source) is empty (no occupied voxels)\(advice)")
        }
    }

    /// The shapes as grids of occupancy in [0, 1].
    public var grids: [VoxelGrid] {
        let n = size * size * size
        return (0..<count).map { i in VoxelGrid(size: size, values: values[(i * n)..<((i + 1) * n)].map { ($0 + 1) / 2 }) }
    }

    /// True when `path` holds shapes rather than images: a shape file extension, a folder of shape files, or an IDX
    /// file with four axes.
    public static func looksVolumetric(_ path: String) -> Bool {
        let shapeExtensions: Set<String> = ["binvox", "npy", "off", "obj"]
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return false }
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return names.contains { shapeExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
        }
        if shapeExtensions.contains((path as NSString).pathExtension.lowercased()) { return true }
        guard let array = try? IDX.read(path) else { return false }
        return array.shape.count == 4 || (array.shape.count == 5 && array.shape[1] == 1)
    }
}

extension DCGAN {
    /// Generated volumes `[N, 1, S, S, S]` (values in [-1, 1]) as occupancy grids in [0, 1]. The tensor's axes
    /// (depth, height, width) are the grid's (x, y, z), in the same memory order.
    public static func voxelGrids(from volumes: Tensor) -> [VoxelGrid] {
        precondition(volumes.rank == 5 && volumes.shape[1] == 1, "voxelGrids: expected [N, 1, S, S, S], got \(volumes.shape)")
        let size = volumes.shape[2], n = size * size * size
        let values = volumes.scalars
        return (0..<volumes.shape[0]).map { i in
            VoxelGrid(size: size, values: values[(i * n)..<((i + 1) * n)].map { ($0 + 1) / 2 })
        }
    }

    /// Render options for this model's shapes (which axis is up is stored in the configuration).
    public var renderOptions: RenderOptions {
        var options = RenderOptions()
        options.upAxis = Axis(rawValue: configuration.upAxis) ?? .z
        return options
    }

    /// Finds a latent vector whose generated shape reproduces `target`: Adam on z, minimizing the squared error
    /// between the generator's output and the target's occupancy mapped to [-1, 1], from the best of `starts`
    /// random starting points. The sampling generator (`samplingGenerator`) runs in evaluation mode and is not changed.
    /// - Returns: the latent vector `[latentSize]`, the mean squared error it reaches, and the IoU of its shape with
    ///   the target.
    public func fitLatent(to target: VoxelGrid, steps: Int = 200, starts: Int = 4, learningRate: Float = 0.05,
                          seed: UInt64 = 7, labels: [Int]? = nil) -> (latent: [Float], error: Float, iou: Double) {
        let generator = samplingGenerator
        precondition(configuration.spatialRank == 3 && target.size == configuration.imageSize,
                     "fitLatent: the target is \(target.size)^3 but the model makes \(configuration.imageSize)^\(configuration.spatialRank)")
        generator.setTraining(false)
        defer { generator.setTraining(true) }
        let size = target.size
        let goal = Tensor(shape: [1, 1, size, size, size], scalars: target.values.map { $0 >= 0.5 ? 1 : -1 })
        var best: (latent: [Float], loss: Float) = ([], .infinity)
        for start in 0..<starts {
            let z = Parameter(latents(count: 1, seed: seed &+ UInt64(start)))
            let optimizer = Adam(parameters: [("z", z)], learningRate: learningRate, beta1: 0.9, beta2: 0.999)
            for _ in 0..<steps {
                let error = (generator(z.value, labels: labels) - goal).squared().mean()
                optimizer.update(gradients: gradient(of: error, wrt: [z.value]))
            }
            let loss = DCGAN.squaredError(generator, z.value.detached, goal, labels: labels)
            if loss < best.loss { best = (z.value.scalars, loss) }
        }
        let shape = DCGAN.voxelGrids(from: generate(Tensor(shape: [1, configuration.latentSize], scalars: best.latent), labels: labels))[0]
        return (best.latent, best.loss, VoxelMetrics.iou(shape.binarized(), target.binarized()))
    }

    /// The mean squared error between the shape generated from `latent` (evaluation mode) and `goal` in [-1, 1].
    public func meanSquaredError(_ latent: Tensor, _ goal: Tensor, labels: [Int]? = nil) -> Float {
        let generator = samplingGenerator
        generator.setTraining(false)
        defer { generator.setTraining(true) }
        return DCGAN.squaredError(generator, latent, goal, labels: labels)
    }

    static func squaredError(_ generator: DCGANGenerator, _ latent: Tensor, _ goal: Tensor, labels: [Int]?) -> Float {
        GradientRecording.withoutRecording { (generator(latent, labels: labels) - goal).squared().mean().scalar }
    }
}
