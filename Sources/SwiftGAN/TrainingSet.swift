import SwiftGANData

/// What a GAN trainer needs from its data: samples of one shape, optional labels, and the same batches for the same
/// seed and step (so a resumed run sees what it would have seen). Images (`ImageDataset`) and voxel grids
/// (`VoxelDataset`) both provide it.
public protocol TrainingSet {
    /// Number of samples.
    var count: Int { get }
    /// The shape of one sample: `[channels, height, width]` or `[channels, depth, height, width]`.
    var sampleShape: [Int] { get }
    /// One class label per sample, or nil.
    var labels: [Int]? { get }
    /// Throws a readable error when batches of `size` cannot be drawn.
    func validateBatchSize(_ size: Int) throws
    /// The sample indices of a training step's batch.
    func batch(atStep step: Int, size: Int, seed: UInt64) throws -> [Int]
    /// The values (in [-1, 1], row-major, one sample after another) and labels of `indices`.
    func gather(_ indices: [Int]) -> (pixels: [Float], labels: [Int]?)
}

extension TrainingSet {
    /// The number of distinct labels (largest label + 1), or nil without labels.
    public var labelCount: Int? { labels.map { ($0.max() ?? -1) + 1 } }
}

extension ImageDataset: TrainingSet {
    public var sampleShape: [Int] { [channels, height, width] }
}

/// Voxel grids in memory, values in [-1, 1] (empty -1, filled 1), `[count, depth, height, width]`, one channel.
public struct VoxelDataset: TrainingSet {
    public let values: [Float]
    public let count: Int
    public let size: Int
    public let labels: [Int]?

    /// - Parameters:
    ///   - occupancy: `count * size^3` values in [0, 1] (0 empty, 1 filled).
    public init(occupancy: [Float], count: Int, size: Int, labels: [Int]? = nil) throws {
        guard count > 0 else { throw DataError.invalidDataset("the voxel dataset is empty") }
        guard occupancy.count == count * size * size * size else {
            throw DataError.invalidDataset("\(occupancy.count) voxel values do not make \(count) grids of \(size)^3")
        }
        if let labels = labels, labels.count != count {
            throw DataError.invalidDataset("\(labels.count) labels for \(count) voxel grids")
        }
        values = occupancy.map { $0 * 2 - 1 }
        self.count = count
        self.size = size
        self.labels = labels
    }

    public var sampleShape: [Int] { [1, size, size, size] }

    public func validateBatchSize(_ size: Int) throws {
        _ = try BatchIterator(datasetCount: count, batchSize: size, seed: 0)
    }

    public func batch(atStep step: Int, size: Int, seed: UInt64) throws -> [Int] {
        var iterator = try BatchIterator(datasetCount: count, batchSize: size, seed: seed, startStep: step)
        return iterator.nextBatch()
    }

    public func gather(_ indices: [Int]) -> (pixels: [Float], labels: [Int]?) {
        let n = size * size * size
        var out = [Float]()
        out.reserveCapacity(indices.count * n)
        for i in indices { out += values[(i * n)..<((i + 1) * n)] }
        return (out, labels.map { l in indices.map { l[$0] } })
    }
}
