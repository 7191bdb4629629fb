/// Marching cubes (Lorensen and Cline 1987) on voxel grids, with a case table built by this code.
///
/// The grid is padded with one layer of empty voxels, and each voxel's value is a sample at its
/// centre, so voxel `(x, y, z)` is sampled at `(x + 0.5, y + 0.5, z + 0.5)` in mesh space (see
/// ``VoxelGrid``). A sample at or above `isoLevel` is inside. Each surface vertex lies on a grid edge
/// between an inside and an outside sample, placed by linear interpolation, and is shared by all
/// the triangles around it.
///
/// The case table is derived from the cube's geometry rather than written out: on each of the cube's
/// six faces the crossing points are joined so that every maximal run of inside corners (walking
/// round the face) is cut off by one segment. Ambiguous faces (two inside corners on a diagonal)
/// therefore always separate the inside corners. Because that choice depends only on the face's
/// four samples, the two cubes sharing a face cut it the same way, and the surface of a padded grid
/// is closed (watertight). The segments, oriented consistently, chain into loops round the cube;
/// each loop becomes a fan of triangles, or a fan round an added centre vertex when every fan would
/// put a diagonal across one of the cube's faces. Triangles face outward (from inside to outside).
public enum MarchingCubes {
    /// Extracts the surface where the grid's values cross `isoLevel`.
    ///
    /// The result is in mesh space: voxel `(x, y, z)` spans `[x, x+1] × [y, y+1] × [z, z+1]`, so the
    /// surface lies within `[0, size]³`. For a binary grid every vertex sits at the midpoint between
    /// two voxel centres. An empty grid gives an empty mesh. The mesh is closed, every edge shared by
    /// exactly two triangles, with consistent outward orientation.
    ///
    /// - Precondition: `isoLevel > 0` (the padding is 0, and must be outside).
    public static func mesh(from grid: VoxelGrid, isoLevel: Float = 0.5) -> TriangleMesh {
        precondition(isoLevel > 0, "MarchingCubes: isoLevel must be above 0, got \(isoLevel)")
        let n = grid.size
        let p = n + 2  // lattice points of the padded grid
        // Padded samples: lattice point (i, j, k) holds voxel (i-1, j-1, k-1), outside the grid 0 (below any positive iso level).
        var samples = [Float](repeating: 0, count: p * p * p)
        for x in 0..<n {
            for y in 0..<n {
                let source = (x * n + y) * n
                let target = ((x + 1) * p + (y + 1)) * p + 1
                for z in 0..<n { samples[target + z] = grid.values[source + z] }
            }
        }
        var inside = [Bool](repeating: false, count: p * p * p)
        var anyInside = false
        for index in samples.indices where samples[index] >= isoLevel {
            inside[index] = true
            anyInside = true
        }
        guard anyInside else { return TriangleMesh() }

        let table = CaseTable.shared
        var vertexForEdge = [Int32](repeating: -1, count: p * p * p * 3)
        var vertices: [SIMD3<Float>] = []
        var triangles: [SIMD3<Int32>] = []
        let cornerOffsets = (0..<8).map { c in ((c & 1) * p + ((c >> 1) & 1)) * p + ((c >> 2) & 1) }

        for i in 0..<(p - 1) {
            for j in 0..<(p - 1) {
                for k in 0..<(p - 1) {
                    let base = (i * p + j) * p + k
                    var caseIndex = 0
                    for c in 0..<8 where inside[base + cornerOffsets[c]] { caseIndex |= 1 << c }
                    if caseIndex == 0 || caseIndex == 255 { continue }
                    for polygon in table.polygons[caseIndex] {
                        var ids: [Int32] = []
                        ids.reserveCapacity(polygon.edges.count + 1)
                        for edge in polygon.edges {
                            let (c0, c1, axis) = table.edges[Int(edge)]
                            let start = base + cornerOffsets[c0]
                            let key = start * 3 + axis
                            if vertexForEdge[key] < 0 {
                                let a = samples[start], b = samples[base + cornerOffsets[c1]]
                                var t = (isoLevel - a) / (b - a)
                                if !t.isFinite { t = 0.5 }
                                t = min(max(t, 1e-4), 1 - 1e-4)
                                var position = SIMD3<Float>(
                                    Float(i + (c0 & 1)), Float(j + ((c0 >> 1) & 1)), Float(k + ((c0 >> 2) & 1)))
                                position[axis] += t
                                vertexForEdge[key] = Int32(vertices.count)
                                vertices.append(position - SIMD3(repeating: 0.5))
                            }
                            ids.append(vertexForEdge[key])
                        }
                        if polygon.needsCentre {
                            var centre = SIMD3<Float>.zero
                            for id in ids { centre += vertices[Int(id)] }
                            ids.append(Int32(vertices.count))
                            vertices.append(centre / Float(polygon.edges.count))
                        }
                        for t in polygon.triangles {
                            triangles.append(SIMD3(ids[Int(t.x)], ids[Int(t.y)], ids[Int(t.z)]))
                        }
                    }
                }
            }
        }
        return TriangleMesh(vertices: vertices, triangles: triangles)
    }

    /// One surface polygon of a cube case: the crossed edges in loop order and its triangles.
    struct Polygon: Sendable {
        /// Cube edge numbers (0...11) in order round the loop.
        var edges: [UInt8]
        /// Triangles as positions in `edges`; position `edges.count` is the added centre vertex.
        var triangles: [SIMD3<UInt8>]
        /// Whether the triangles use a centre vertex.
        var needsCentre: Bool
    }

    /// The cube's corners, edges, faces and the 256 cases, all computed from the cube's geometry.
    struct CaseTable: Sendable {
        /// Each edge as (first corner, second corner, axis); the second corner is the first plus the axis.
        let edges: [(Int, Int, Int)]
        /// Each face's corners, counter-clockwise seen from outside the cube.
        let faces: [[Int]]
        /// The polygons of each case; bit `c` of the case index is set when corner `c` is inside.
        let polygons: [[Polygon]]

        static let shared = CaseTable()

        /// Corner `c` of the unit cube is at `(c & 1, (c >> 1) & 1, (c >> 2) & 1)`.
        init() {
            var edges: [(Int, Int, Int)] = []
            for axis in 0..<3 {
                for corner in 0..<8 where corner & (1 << axis) == 0 {
                    edges.append((corner, corner | 1 << axis, axis))
                }
            }
            func edgeNumber(_ a: Int, _ b: Int) -> Int {
                edges.firstIndex { ($0.0 == a && $0.1 == b) || ($0.0 == b && $0.1 == a) } ?? -1
            }
            // Face normal to axis a on side s: in the plane coordinates (u, v) = axes (a+1, a+2),
            // (0,0), (1,0), (1,1), (0,1) runs counter-clockwise about +a because e_u × e_v = e_a.
            var faces: [[Int]] = []
            for axis in 0..<3 {
                let u = (axis + 1) % 3, v = (axis + 2) % 3
                for side in 0..<2 {
                    let square = [(0, 0), (1, 0), (1, 1), (0, 1)].map { (du, dv) in
                        side << axis | du << u | dv << v
                    }
                    faces.append(side == 1 ? square : Array(square.reversed()))
                }
            }
            // Edges that lie on a common face (a diagonal between them would run across that face).
            var shareFace = [[Bool]](repeating: [Bool](repeating: false, count: 12), count: 12)
            for face in faces {
                let faceEdges = (0..<4).map { edgeNumber(face[$0], face[($0 + 1) % 4]) }
                for a in faceEdges { for b in faceEdges { shareFace[a][b] = true } }
            }

            var polygons: [[Polygon]] = []
            for caseIndex in 0..<256 {
                let isInside = { (corner: Int) in caseIndex & (1 << corner) != 0 }
                // Oriented segments on each face: from the edge where a run of inside corners begins
                // to the edge where it ends, walking counter-clockwise seen from outside.
                var next = [Int](repeating: -1, count: 12)
                for face in faces {
                    for start in 0..<4 where isInside(face[start]) && !isInside(face[(start + 3) % 4]) {
                        var last = start
                        while isInside(face[(last + 1) % 4]) { last = (last + 1) % 4 }
                        let entry = edgeNumber(face[(start + 3) % 4], face[start])
                        let exit = edgeNumber(face[last], face[(last + 1) % 4])
                        // Entry -> exit leaves the inside corners on the right seen from outside the cube, so the
                        // loops, and the triangles that follow them, turn clockwise round the inside: outward normals.
                        next[entry] = exit
                    }
                }
                var visited = [Bool](repeating: false, count: 12)
                var casePolygons: [Polygon] = []
                for first in 0..<12 where next[first] >= 0 && !visited[first] {
                    var loop: [Int] = []
                    var edge = first
                    while !visited[edge] {
                        visited[edge] = true
                        loop.append(edge)
                        edge = next[edge]
                    }
                    casePolygons.append(CaseTable.triangulate(loop, shareFace: shareFace))
                }
                polygons.append(casePolygons)
            }
            self.edges = edges
            self.faces = faces
            self.polygons = polygons
        }

        /// Triangulates a loop of crossed edges: a fan from the first corner whose diagonals all avoid
        /// lying on a cube face, or else a fan round a centre vertex.
        static func triangulate(_ loop: [Int], shareFace: [[Bool]]) -> Polygon {
            let count = loop.count
            let edges = loop.map { UInt8($0) }
            if count == 3 {
                return Polygon(edges: edges, triangles: [SIMD3(0, 1, 2)], needsCentre: false)
            }
            for apex in 0..<count {
                let diagonalsOK = (2...(count - 2)).allSatisfy { offset in
                    !shareFace[loop[apex]][loop[(apex + offset) % count]]
                }
                if diagonalsOK {
                    let triangles = (1..<(count - 1)).map { offset in
                        SIMD3(UInt8(apex), UInt8((apex + offset) % count), UInt8((apex + offset + 1) % count))
                    }
                    return Polygon(edges: edges, triangles: triangles, needsCentre: false)
                }
            }
            let centre = UInt8(count)
            let triangles = (0..<count).map { SIMD3(centre, UInt8($0), UInt8(($0 + 1) % count)) }
            return Polygon(edges: edges, triangles: triangles, needsCentre: true)
        }
    }
}

/// Meshes made of the voxels' own cube faces.
public enum BlockyMesh {
    /// The faces between occupied voxels (value >= 0.5) and empty ones or the outside, two triangles each.
    ///
    /// Voxel `(x, y, z)` spans `[x, x+1] × [y, y+1] × [z, z+1]`. Vertices are shared between faces at
    /// the same lattice point, and triangles face outward. A single voxel gives 8 vertices and 12 triangles.
    /// The mesh is closed, but where two voxels meet only along an edge, that edge belongs to four
    /// triangles (not a 2-manifold there); use ``MarchingCubes`` where a manifold surface matters.
    public static func mesh(from grid: VoxelGrid) -> TriangleMesh {
        let n = grid.size
        let p = n + 1
        var vertexForPoint = [Int32](repeating: -1, count: p * p * p)
        var vertices: [SIMD3<Float>] = []
        var triangles: [SIMD3<Int32>] = []
        func vertex(_ point: SIMD3<Int>) -> Int32 {
            let key = (point.x * p + point.y) * p + point.z
            if vertexForPoint[key] < 0 {
                vertexForPoint[key] = Int32(vertices.count)
                vertices.append(SIMD3(Float(point.x), Float(point.y), Float(point.z)))
            }
            return vertexForPoint[key]
        }
        for x in 0..<n {
            for y in 0..<n {
                for z in 0..<n where grid.isOccupied(x, y, z) {
                    let voxel = SIMD3(x, y, z)
                    for axis in 0..<3 {
                        let u = (axis + 1) % 3, v = (axis + 2) % 3
                        for side in 0..<2 {
                            var neighbour = voxel
                            neighbour[axis] += side == 1 ? 1 : -1
                            if grid.isOccupied(neighbour.x, neighbour.y, neighbour.z) { continue }
                            // (0,0), (1,0), (1,1), (0,1) in (u, v) is counter-clockwise about +axis.
                            var square = [(0, 0), (1, 0), (1, 1), (0, 1)].map { (du, dv) -> Int32 in
                                var corner = voxel
                                corner[axis] += side
                                corner[u] += du
                                corner[v] += dv
                                return vertex(corner)
                            }
                            if side == 0 { square.reverse() }
                            triangles.append(SIMD3(square[0], square[1], square[2]))
                            triangles.append(SIMD3(square[0], square[2], square[3]))
                        }
                    }
                }
            }
        }
        return TriangleMesh(vertices: vertices, triangles: triangles)
    }
}
