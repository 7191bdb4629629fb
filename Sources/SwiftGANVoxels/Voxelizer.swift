/// How a mesh becomes voxels.
public enum VoxelizationMode: Sendable {
    /// Only voxels that a triangle touches.
    case surface
    /// The surface voxels plus every voxel that cannot be reached from outside the grid through
    /// empty voxels (6-connected flood fill). A mesh with holes fills only where it is closed.
    case solid
}

/// Turns triangle meshes into voxel grids.
public enum Voxelizer {
    /// Voxelizes `mesh` into a `size`³ grid.
    ///
    /// Normalization: the box around the vertices that triangles use is scaled uniformly so that its
    /// longest side spans the grid minus `padding` voxels at each end (less 0.1%, so faces lying exactly
    /// on the box fall inside the outer voxels), and centred in the grid.
    /// Mesh axes x, y, z become grid axes x, y, z. A voxel is on the surface when the triangle and
    /// the voxel's cube overlap (separating-axis test on the 3 cube axes, the triangle's normal and
    /// the 9 edge-axis cross products), so thin parts never fall between samples. That test is
    /// conservative: a solid grows by up to about half a voxel all round compared with the mesh's volume.
    ///
    /// With `fitToGrid` false the mesh is taken to be in grid coordinates already (voxel `(x, y, z)`
    /// spans `[x, x+1] × [y, y+1] × [z, z+1]`, as in the meshes of ``MarchingCubes`` and ``BlockyMesh``),
    /// `padding` is ignored, and parts outside the grid are cut off.
    ///
    /// - Parameters:
    ///   - source: the name used in error messages (usually the mesh file's path).
    /// - Throws: `DataError.malformed` naming `source` when the mesh voxelizes to nothing: it has no
    ///   triangles, all its vertices coincide, `size - 2 * padding < 1`, or (without fitting) it lies
    ///   outside the grid.
    public static func voxelize(_ mesh: TriangleMesh, size: Int, mode: VoxelizationMode = .solid,
                                padding: Int = 0, fitToGrid: Bool = true,
                                source: String = "(mesh)") throws -> VoxelGrid {
        precondition(size > 0 && size <= VoxelIO.maxGridSize, "Voxelizer: size must be in 1...\(VoxelIO.maxGridSize)")
        guard let bounds = mesh.bounds else {
            throw DataError.malformed(path: source, reason: "the mesh has no triangles, so it voxelizes to an empty grid")
        }
        let extent = bounds.max - bounds.min
        let longest = max(extent.x, max(extent.y, extent.z))
        guard longest > 0, longest.isFinite else {
            throw DataError.malformed(
                path: source, reason: "all vertices of the mesh coincide, so it voxelizes to an empty grid")
        }
        let points: [SIMD3<Float>]
        if fitToGrid {
            let span = size - 2 * padding
            guard span >= 1 else {
                throw DataError.malformed(
                    path: source, reason: "padding \(padding) leaves no room in a \(size)³ grid; the mesh would be empty")
            }
            // Shrink by 0.1% so faces of a box-shaped mesh fall just inside the outer voxels rather than
            // exactly on a voxel boundary, where they would also mark the neighbouring (padding) layer.
            let scale = Float(span) / longest * 0.999
            let center = (bounds.min + bounds.max) / 2
            let half = Float(size) / 2
            points = mesh.vertices.map { ($0 - center) * scale + SIMD3(repeating: half) }
        } else {
            points = mesh.vertices
        }

        var occupied = [Bool](repeating: false, count: size * size * size)
        for triangle in mesh.triangles {
            let a = points[Int(triangle.x)]
            let b = points[Int(triangle.y)]
            let c = points[Int(triangle.z)]
            let low = pointwiseMin(a, pointwiseMin(b, c))
            let high = pointwiseMax(a, pointwiseMax(b, c))
            if (0..<3).contains(where: { low[$0] > Float(size) || high[$0] < 0 }) { continue }  // outside the grid
            func range(_ axis: Int) -> ClosedRange<Int> {
                let lower = max(0, min(size - 1, Int(low[axis].rounded(.down))))
                let upper = max(0, min(size - 1, Int(high[axis].rounded(.down))))
                return lower...upper
            }
            let xs = range(0), ys = range(1), zs = range(2)
            for x in xs {
                for y in ys {
                    for z in zs {
                        let index = (x * size + y) * size + z
                        if occupied[index] { continue }
                        let cubeCenter = SIMD3<Float>(Float(x) + 0.5, Float(y) + 0.5, Float(z) + 0.5)
                        if triangleOverlapsCube(a - cubeCenter, b - cubeCenter, c - cubeCenter, halfSize: 0.5) {
                            occupied[index] = true
                        }
                    }
                }
            }
        }
        if mode == .solid { occupied = fillInterior(occupied, size: size) }
        let grid = VoxelGrid(size: size, occupied: occupied)
        guard grid.occupiedCount > 0 else {
            throw DataError.malformed(path: source, reason: "the mesh voxelizes to an empty grid")
        }
        return grid
    }

    /// Reads a mesh file (`.off` or `.obj`) and voxelizes it (see ``voxelize(_:size:mode:padding:fitToGrid:source:)``).
    ///
    /// - Throws: the readers' errors, and `DataError.malformed` naming `path` when the mesh voxelizes to nothing.
    public static func voxelize(file path: String, size: Int, mode: VoxelizationMode = .solid,
                                padding: Int = 0) throws -> VoxelGrid {
        try voxelize(MeshIO.read(path), size: size, mode: mode, padding: padding, fitToGrid: true, source: path)
    }

    /// Whether a triangle (corners relative to the cube's centre) overlaps the axis-aligned cube
    /// `[-halfSize, halfSize]³`, by the separating axis theorem. Touching counts as overlapping.
    static func triangleOverlapsCube(_ v0: SIMD3<Float>, _ v1: SIMD3<Float>, _ v2: SIMD3<Float>,
                                     halfSize h: Float) -> Bool {
        // The cube's own axes: compare bounding boxes.
        for axis in 0..<3 {
            if min(v0[axis], min(v1[axis], v2[axis])) > h || max(v0[axis], max(v1[axis], v2[axis])) < -h {
                return false
            }
        }
        // The triangle's plane.
        let e0 = v1 - v0, e1 = v2 - v1, e2 = v0 - v2
        let normal = cross(e0, e1)
        let planeRadius = h * (abs(normal.x) + abs(normal.y) + abs(normal.z))
        if abs(dot(normal, v0)) > planeRadius { return false }
        // Cross products of the triangle's edges with the cube's axes.
        for edge in [e0, e1, e2] {
            for axis in 0..<3 {
                var unit = SIMD3<Float>.zero
                unit[axis] = 1
                let direction = cross(edge, unit)
                let p0 = dot(direction, v0), p1 = dot(direction, v1), p2 = dot(direction, v2)
                let radius = h * (abs(direction.x) + abs(direction.y) + abs(direction.z))
                if min(p0, min(p1, p2)) > radius || max(p0, max(p1, p2)) < -radius { return false }
            }
        }
        return true
    }

    /// Marks every empty voxel that the outside cannot reach through 6-connected empty voxels.
    static func fillInterior(_ occupied: [Bool], size n: Int) -> [Bool] {
        // Work on a grid padded by one empty layer so the outside is one connected region.
        let p = n + 2
        var blocked = [Bool](repeating: false, count: p * p * p)
        for x in 0..<n {
            for y in 0..<n {
                for z in 0..<n where occupied[(x * n + y) * n + z] {
                    blocked[((x + 1) * p + (y + 1)) * p + (z + 1)] = true
                }
            }
        }
        var outside = [Bool](repeating: false, count: p * p * p)
        var stack: [Int] = [0]
        outside[0] = true
        let steps = [p * p, -p * p, p, -p, 1, -1]
        while let index = stack.popLast() {
            let x = index / (p * p), y = (index / p) % p, z = index % p
            for (k, step) in steps.enumerated() {
                // Stay inside the padded grid.
                switch k {
                case 0: if x == p - 1 { continue }
                case 1: if x == 0 { continue }
                case 2: if y == p - 1 { continue }
                case 3: if y == 0 { continue }
                case 4: if z == p - 1 { continue }
                default: if z == 0 { continue }
                }
                let next = index + step
                if !outside[next], !blocked[next] {
                    outside[next] = true
                    stack.append(next)
                }
            }
        }
        var result = occupied
        for x in 0..<n {
            for y in 0..<n {
                for z in 0..<n where !outside[((x + 1) * p + (y + 1)) * p + (z + 1)] {
                    result[(x * n + y) * n + z] = true
                }
            }
        }
        return result
    }
}
