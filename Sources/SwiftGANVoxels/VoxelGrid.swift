@_exported import SwiftGANData

/// A cubic grid of `size`³ voxels, each holding an occupancy value in [0, 1].
///
/// Axis order: the voxel at integer coordinates `(x, y, z)` (each `0..<size`) is
/// `values[(x * size + y) * size + z]`, so `z` varies fastest. This is the C order of an
/// array of shape `(size, size, size)` indexed `[x][y][z]`, the layout of the ModelNet IDX files
/// and of `.npy` arrays. In mesh space (see ``MarchingCubes`` and ``BlockyMesh``) voxel
/// `(x, y, z)` fills the unit cube `[x, x+1] × [y, y+1] × [z, z+1]`.
///
/// Values are occupancies: 0 is empty, 1 is filled, and anything between is a probability
/// (a generator's output, say). A voxel counts as *occupied* when its value is at least 0.5.
public struct VoxelGrid: Equatable, Sendable {
    /// Voxels along each edge.
    public let size: Int
    /// `size`³ occupancy values, index `(x * size + y) * size + z`.
    public var values: [Float]

    /// The value at or above which a voxel counts as occupied.
    public static let occupancyThreshold: Float = 0.5

    /// An empty grid (all values 0).
    ///
    /// - Precondition: `size > 0`.
    public init(size: Int) {
        precondition(size > 0, "VoxelGrid: size must be positive, got \(size)")
        self.size = size
        self.values = [Float](repeating: 0, count: size * size * size)
    }

    /// A grid over existing values in the documented axis order.
    ///
    /// - Precondition: `size > 0` and `values.count == size * size * size`.
    public init(size: Int, values: [Float]) {
        precondition(size > 0, "VoxelGrid: size must be positive, got \(size)")
        precondition(values.count == size * size * size,
                     "VoxelGrid: expected \(size * size * size) values for size \(size), got \(values.count)")
        self.size = size
        self.values = values
    }

    /// A binary grid from occupancy flags in the documented axis order.
    ///
    /// - Precondition: `size > 0` and `occupied.count == size * size * size`.
    public init(size: Int, occupied: [Bool]) {
        self.init(size: size, values: occupied.map { $0 ? 1 : 0 })
    }

    /// A grid whose voxel `(x, y, z)` has the value `value(x, y, z)`.
    ///
    /// - Precondition: `size > 0`.
    public init(size: Int, value: (Int, Int, Int) -> Float) {
        precondition(size > 0, "VoxelGrid: size must be positive, got \(size)")
        var values = [Float](repeating: 0, count: size * size * size)
        var index = 0
        for x in 0..<size {
            for y in 0..<size {
                for z in 0..<size {
                    values[index] = value(x, y, z)
                    index += 1
                }
            }
        }
        self.size = size
        self.values = values
    }

    /// The index of voxel `(x, y, z)` in `values`.
    @inlinable
    public func index(_ x: Int, _ y: Int, _ z: Int) -> Int {
        (x * size + y) * size + z
    }

    /// The value of voxel `(x, y, z)`; reads outside the grid give 0 (empty space).
    @inlinable
    public subscript(_ x: Int, _ y: Int, _ z: Int) -> Float {
        get {
            guard x >= 0, y >= 0, z >= 0, x < size, y < size, z < size else { return 0 }
            return values[(x * size + y) * size + z]
        }
        set {
            precondition(x >= 0 && y >= 0 && z >= 0 && x < size && y < size && z < size,
                         "VoxelGrid: (\(x), \(y), \(z)) is outside a grid of size \(size)")
            values[(x * size + y) * size + z] = newValue
        }
    }

    /// Whether voxel `(x, y, z)` is occupied (value >= 0.5); false outside the grid.
    @inlinable
    public func isOccupied(_ x: Int, _ y: Int, _ z: Int) -> Bool {
        self[x, y, z] >= VoxelGrid.occupancyThreshold
    }

    /// The number of occupied voxels (value >= 0.5).
    public var occupiedCount: Int {
        values.withUnsafeBufferPointer { buffer in
            var count = 0
            for value in buffer where value >= VoxelGrid.occupancyThreshold { count += 1 }
            return count
        }
    }

    /// Whether no voxel is occupied.
    public var isEmpty: Bool { occupiedCount == 0 }

    /// The grid with every value set to 1 where it is at least `threshold` and 0 elsewhere.
    public func binarized(threshold: Float = VoxelGrid.occupancyThreshold) -> VoxelGrid {
        VoxelGrid(size: size, values: values.map { $0 >= threshold ? 1 : 0 })
    }

    /// Occupancy as bytes (1 occupied, 0 empty) in the documented axis order.
    public var occupancyBytes: [UInt8] {
        values.map { $0 >= VoxelGrid.occupancyThreshold ? 1 : 0 }
    }

    /// The grid with `amount` empty voxels added on every side (size `size + 2 * amount`).
    ///
    /// - Precondition: `amount >= 0`.
    public func padded(by amount: Int) -> VoxelGrid {
        precondition(amount >= 0, "VoxelGrid: padding must not be negative")
        if amount == 0 { return self }
        let outSize = size + 2 * amount
        var out = [Float](repeating: 0, count: outSize * outSize * outSize)
        for x in 0..<size {
            for y in 0..<size {
                let source = (x * size + y) * size
                let target = ((x + amount) * outSize + (y + amount)) * outSize + amount
                for z in 0..<size { out[target + z] = values[source + z] }
            }
        }
        return VoxelGrid(size: outSize, values: out)
    }

    /// The smallest box holding every occupied voxel, as inclusive `(min, max)` corners; nil when empty.
    public var occupiedBounds: (min: SIMD3<Int>, max: SIMD3<Int>)? {
        var lower = SIMD3<Int>(repeating: Int.max)
        var upper = SIMD3<Int>(repeating: Int.min)
        var index = 0
        for x in 0..<size {
            for y in 0..<size {
                for z in 0..<size {
                    if values[index] >= VoxelGrid.occupancyThreshold {
                        let point = SIMD3(x, y, z)
                        lower = pointwiseMin(lower, point)
                        upper = pointwiseMax(upper, point)
                    }
                    index += 1
                }
            }
        }
        return lower.x == Int.max ? nil : (lower, upper)
    }

    /// Whether every value is finite and within [0, 1].
    public var hasValidValues: Bool {
        values.allSatisfy { $0 >= 0 && $0 <= 1 }
    }

    /// The grid without its loose fragments: occupied voxels are grouped into face-connected (6-neighbour) parts,
    /// and parts with fewer than `minimumFraction` of the largest part's voxels are emptied. Generated shapes often
    /// carry specks of a few voxels around the object; a designer's mesh should not.
    /// - Returns: the cleaned grid and how many parts were removed.
    public func removingFragments(minimumFraction: Double = 0.02) -> (grid: VoxelGrid, removedParts: Int) {
        let n = size
        var part = [Int32](repeating: -1, count: values.count)
        var sizes: [Int] = []
        var stack: [Int] = []
        for start in 0..<values.count where part[start] < 0 && values[start] >= VoxelGrid.occupancyThreshold {
            let label = Int32(sizes.count)
            var count = 0
            part[start] = label
            stack.append(start)
            while let index = stack.popLast() {
                count += 1
                let x = index / (n * n), y = (index / n) % n, z = index % n
                for (dx, dy, dz) in [(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)] {
                    let (a, b, c) = (x + dx, y + dy, z + dz)
                    guard a >= 0, a < n, b >= 0, b < n, c >= 0, c < n else { continue }
                    let neighbour = (a * n + b) * n + c
                    if part[neighbour] < 0 && values[neighbour] >= VoxelGrid.occupancyThreshold {
                        part[neighbour] = label
                        stack.append(neighbour)
                    }
                }
            }
            sizes.append(count)
        }
        guard let largest = sizes.max() else { return (self, 0) }
        let keep = sizes.map { Double($0) >= minimumFraction * Double(largest) }
        var cleaned = values
        for i in 0..<cleaned.count where part[i] >= 0 && !keep[Int(part[i])] { cleaned[i] = 0 }
        return (VoxelGrid(size: n, values: cleaned), keep.filter { !$0 }.count)
    }

    /// The grid turned a quarter turn about the x axis (a proper rotation, no mirroring): with `yUpToZUp`, what pointed
    /// up along y points up along z (`new[x][y][z] = old[x][z][size - 1 - y]`); otherwise the inverse.
    public func rotatedQuarterTurnAboutX(yUpToZUp: Bool) -> VoxelGrid {
        yUpToZUp ? rotatedQuarterTurn(bringing: 1, to: 2) : rotatedQuarterTurn(bringing: 2, to: 1)
    }

    /// The grid turned a quarter turn about the third axis (a proper rotation, no mirroring) so that what pointed
    /// along axis `from` (0 x, 1 y, 2 z) points along axis `to`; the same grid when they are equal.
    /// A voxel at coordinates `p` moves to `q` with `q[to] = p[from]`, `q[from] = size - 1 - p[to]`.
    public func rotatedQuarterTurn(bringing from: Int, to: Int) -> VoxelGrid {
        precondition((0...2).contains(from) && (0...2).contains(to), "rotatedQuarterTurn: axes are 0, 1 or 2")
        if from == to { return self }
        let n = size
        var out = [Float](repeating: 0, count: values.count)
        var q = [0, 0, 0], p = [0, 0, 0]
        for x in 0..<n {
            for y in 0..<n {
                for z in 0..<n {
                    q = [x, y, z]
                    p = q
                    p[from] = q[to]
                    p[to] = n - 1 - q[from]
                    out[(x * n + y) * n + z] = values[(p[0] * n + p[1]) * n + p[2]]
                }
            }
        }
        return VoxelGrid(size: n, values: out)
    }
}
