import Foundation

/// The distance between two shapes used by ``VoxelMetrics``.
public enum ShapeDistance: Sendable {
    /// `1 - IoU` of the occupied voxels (value >= 0.5); 0 for two empty grids.
    case iou
    /// Chamfer distance between the shapes' surface voxels (see ``VoxelMetrics/chamferDistance(_:_:)``).
    case chamfer
}

/// Minimum matching distance and coverage of a generated set against a reference set.
public struct ShapeSetScores: Equatable, Sendable {
    /// Minimum matching distance: for each reference shape the distance to its nearest generated
    /// shape, averaged over the reference set. Lower is better (generated shapes come close to real ones).
    public var minimumMatchingDistance: Double
    /// Coverage: the fraction of reference shapes that are the nearest reference shape of at least
    /// one generated shape. Higher is better (the generator does not collapse onto a few shapes).
    public var coverage: Double
    /// For each generated shape, the index of its nearest reference shape.
    public var nearestReference: [Int]
    /// For each reference shape, the distance to its nearest generated shape.
    public var nearestGeneratedDistance: [Double]
}

/// Shape-set quality measures of Achlioptas et al. 2018 ("Learning Representations and Generative
/// Models for 3D Point Clouds"): minimum matching distance (MMD) and coverage (COV), on voxel grids.
public enum VoxelMetrics {
    /// Intersection over union of the occupied voxels (value >= 0.5) of two grids; 1 when both are empty.
    ///
    /// - Precondition: the grids have the same size.
    public static func iou(_ a: VoxelGrid, _ b: VoxelGrid) -> Double {
        precondition(a.size == b.size, "VoxelMetrics: grid sizes differ (\(a.size) and \(b.size))")
        return PackedOccupancy(a).iou(PackedOccupancy(b))
    }

    /// The centres of the surface voxels (occupied voxels with an empty or outside 6-neighbour),
    /// divided by the grid size so they lie in the unit cube.
    public static func surfacePoints(of grid: VoxelGrid) -> [SIMD3<Float>] {
        let n = Float(grid.size)
        return SurfaceField(grid).surface.map { index in
            let s = grid.size
            return SIMD3(Float(index / (s * s)) + 0.5, Float((index / s) % s) + 0.5, Float(index % s) + 0.5) / n
        }
    }

    /// Chamfer distance between the surface voxels of two grids (see ``surfacePoints(of:)``):
    /// the mean squared distance from each surface point of `a` to the nearest of `b`, plus the same
    /// from `b` to `a`, with coordinates in units of the grid's edge. Exact for those points (computed
    /// with Euclidean distance transforms). 0 for two empty grids, infinity when just one is empty.
    ///
    /// - Precondition: the grids have the same size.
    public static func chamferDistance(_ a: VoxelGrid, _ b: VoxelGrid) -> Double {
        precondition(a.size == b.size, "VoxelMetrics: grid sizes differ (\(a.size) and \(b.size))")
        return SurfaceField(a).chamfer(SurfaceField(b))
    }

    /// The distances between every generated shape (rows) and every reference shape (columns).
    ///
    /// - Precondition: all grids have the same size.
    public static func distanceMatrix(generated: [VoxelGrid], reference: [VoxelGrid],
                                      distance: ShapeDistance = .iou) -> [[Double]] {
        let size = generated.first?.size ?? reference.first?.size ?? 1
        precondition((generated + reference).allSatisfy { $0.size == size },
                     "VoxelMetrics: all grids must have the same size")
        let rows = MatrixStore(rows: generated.count, columns: reference.count)
        switch distance {
        case .iou:
            let g = generated.map(PackedOccupancy.init), r = reference.map(PackedOccupancy.init)
            DispatchQueue.concurrentPerform(iterations: generated.count) { i in
                rows.set(i, r.map { 1 - g[i].iou($0) })
            }
        case .chamfer:
            let g = generated.map(SurfaceField.init), r = reference.map(SurfaceField.init)
            DispatchQueue.concurrentPerform(iterations: generated.count) { i in
                rows.set(i, r.map { g[i].chamfer($0) })
            }
        }
        return rows.matrix
    }

    /// Minimum matching distance and coverage of `generated` against `reference` (Achlioptas et al. 2018).
    ///
    /// Use held-out real shapes as `reference`, and a generated set of about the same size or larger
    /// (coverage grows with the generated set's size). Ties go to the lower index.
    /// - Precondition: both sets are non-empty and all grids have the same size.
    public static func compare(generated: [VoxelGrid], reference: [VoxelGrid],
                               distance: ShapeDistance = .iou) -> ShapeSetScores {
        precondition(!generated.isEmpty && !reference.isEmpty, "VoxelMetrics: both shape sets must be non-empty")
        return scores(distances: distanceMatrix(generated: generated, reference: reference, distance: distance))
    }

    /// MMD and coverage from a distance matrix (rows generated, columns reference).
    ///
    /// - Precondition: the matrix has at least one row and one column, and all rows the same length.
    public static func scores(distances: [[Double]]) -> ShapeSetScores {
        let referenceCount = distances.first?.count ?? 0
        precondition(referenceCount > 0 && distances.allSatisfy { $0.count == referenceCount },
                     "VoxelMetrics: the distance matrix must be non-empty and rectangular")
        var nearestReference: [Int] = []
        for row in distances {
            var best = 0
            for j in row.indices where row[j] < row[best] { best = j }
            nearestReference.append(best)
        }
        var nearestGenerated: [Double] = []
        for j in 0..<referenceCount {
            nearestGenerated.append(distances.map { $0[j] }.min() ?? .infinity)
        }
        let covered = Set(nearestReference).count
        return ShapeSetScores(
            minimumMatchingDistance: nearestGenerated.reduce(0, +) / Double(referenceCount),
            coverage: Double(covered) / Double(referenceCount),
            nearestReference: nearestReference,
            nearestGeneratedDistance: nearestGenerated)
    }
}

/// Occupancy bits packed 64 to a word, for fast IoU.
struct PackedOccupancy: Sendable {
    let words: [UInt64]

    init(_ grid: VoxelGrid) {
        var words = [UInt64](repeating: 0, count: (grid.values.count + 63) / 64)
        for (index, value) in grid.values.enumerated() where value >= VoxelGrid.occupancyThreshold {
            words[index >> 6] |= 1 << UInt64(index & 63)
        }
        self.words = words
    }

    func iou(_ other: PackedOccupancy) -> Double {
        var intersection = 0, union = 0
        for i in words.indices {
            intersection += (words[i] & other.words[i]).nonzeroBitCount
            union += (words[i] | other.words[i]).nonzeroBitCount
        }
        return union == 0 ? 1 : Double(intersection) / Double(union)
    }
}

/// A shape's surface voxels and the squared distance from every voxel to the nearest of them.
struct SurfaceField: Sendable {
    let size: Int
    /// Indices of the surface voxels.
    let surface: [Int]
    /// Squared Euclidean distance (in voxels) from each voxel centre to the nearest surface voxel centre.
    let squaredDistance: [Double]

    init(_ grid: VoxelGrid) {
        let n = grid.size
        size = n
        var surface: [Int] = []
        for x in 0..<n {
            for y in 0..<n {
                for z in 0..<n where grid.isOccupied(x, y, z) {
                    if !grid.isOccupied(x - 1, y, z) || !grid.isOccupied(x + 1, y, z)
                        || !grid.isOccupied(x, y - 1, z) || !grid.isOccupied(x, y + 1, z)
                        || !grid.isOccupied(x, y, z - 1) || !grid.isOccupied(x, y, z + 1) {
                        surface.append((x * n + y) * n + z)
                    }
                }
            }
        }
        self.surface = surface
        squaredDistance = surface.isEmpty ? [] : SurfaceField.distanceTransform(features: surface, size: n)
    }

    func chamfer(_ other: SurfaceField) -> Double {
        if surface.isEmpty && other.surface.isEmpty { return 0 }
        if surface.isEmpty || other.surface.isEmpty { return .infinity }
        var forward = 0.0, backward = 0.0
        for index in surface { forward += other.squaredDistance[index] }
        for index in other.surface { backward += squaredDistance[index] }
        let scale = Double(size * size)
        return (forward / Double(surface.count) + backward / Double(other.surface.count)) / scale
    }

    /// Exact squared Euclidean distance transform (Felzenszwalb and Huttenlocher 2012): the 1-D
    /// lower envelope of parabolas, applied along z, then y, then x.
    static func distanceTransform(features: [Int], size n: Int) -> [Double] {
        let far = 1e20
        var field = [Double](repeating: far, count: n * n * n)
        for index in features { field[index] = 0 }
        var line = [Double](repeating: 0, count: n)
        var out = [Double](repeating: 0, count: n)
        var hull = [Int](repeating: 0, count: n)
        var boundaries = [Double](repeating: 0, count: n + 1)
        for (stride, lineStarts) in [(1, { (a: Int, b: Int) in (a * n + b) * n }),
                                     (n, { (a: Int, b: Int) in a * n * n + b }),
                                     (n * n, { (a: Int, b: Int) in a * n + b })] {
            for a in 0..<n {
                for b in 0..<n {
                    let start = lineStarts(a, b)
                    for i in 0..<n { line[i] = field[start + i * stride] }
                    lowerEnvelope(line, n: n, out: &out, hull: &hull, boundaries: &boundaries)
                    for i in 0..<n { field[start + i * stride] = out[i] }
                }
            }
        }
        return field
    }

    /// `out[q] = min_p (f[p] + (q - p)²)` in linear time.
    private static func lowerEnvelope(_ f: [Double], n: Int, out: inout [Double], hull: inout [Int],
                                      boundaries: inout [Double]) {
        var k = 0
        hull[0] = 0
        boundaries[0] = -.infinity
        boundaries[1] = .infinity
        if n > 1 {
            for q in 1..<n {
                var s: Double
                repeat {
                    let p = hull[k]
                    s = ((f[q] + Double(q * q)) - (f[p] + Double(p * p))) / Double(2 * (q - p))
                    if s <= boundaries[k] { k -= 1 } else { break }
                } while k >= 0
                k += 1
                hull[k] = q
                boundaries[k] = s
                boundaries[k + 1] = .infinity
            }
        }
        k = 0
        for q in 0..<n {
            while boundaries[k + 1] < Double(q) { k += 1 }
            let p = hull[k]
            out[q] = Double((q - p) * (q - p)) + f[p]
        }
    }
}

/// Rows of a matrix filled by concurrent workers.
private final class MatrixStore: @unchecked Sendable {
    private var rows: [[Double]]
    private let lock = NSLock()

    init(rows: Int, columns: Int) {
        self.rows = [[Double]](repeating: [], count: rows)
    }

    func set(_ index: Int, _ row: [Double]) {
        lock.lock(); defer { lock.unlock() }
        rows[index] = row
    }

    var matrix: [[Double]] {
        lock.lock(); defer { lock.unlock() }
        return rows
    }
}
