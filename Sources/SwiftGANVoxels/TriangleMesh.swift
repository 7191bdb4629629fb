/// An indexed triangle mesh: shared vertices and triangles that refer to them.
///
/// Triangles are counter-clockwise seen from outside (right-hand rule), so
/// `cross(b - a, c - a)` points out of a closed surface.
public struct TriangleMesh: Equatable, Sendable {
    /// Vertex positions.
    public var vertices: [SIMD3<Float>]
    /// Each triangle's three indices into `vertices`.
    public var triangles: [SIMD3<Int32>]

    /// A mesh from vertices and triangles.
    ///
    /// - Precondition: every index is in `0..<vertices.count`.
    public init(vertices: [SIMD3<Float>] = [], triangles: [SIMD3<Int32>] = []) {
        precondition(triangles.allSatisfy { t in
            (0..<3).allSatisfy { t[$0] >= 0 && Int(t[$0]) < vertices.count }
        }, "TriangleMesh: a triangle index is out of range")
        self.vertices = vertices
        self.triangles = triangles
    }

    /// The three corners of triangle `index`.
    @inlinable
    public func corners(_ index: Int) -> (SIMD3<Float>, SIMD3<Float>, SIMD3<Float>) {
        let t = triangles[index]
        return (vertices[Int(t.x)], vertices[Int(t.y)], vertices[Int(t.z)])
    }

    /// The unit normal of triangle `index` (zero for a degenerate triangle).
    public func normal(ofTriangle index: Int) -> SIMD3<Float> {
        let (a, b, c) = corners(index)
        let n = cross(b - a, c - a)
        let length = (n * n).sum().squareRoot()
        return length > 0 ? n / length : .zero
    }

    /// The smallest box holding the vertices used by triangles, or nil when there are none.
    public var bounds: (min: SIMD3<Float>, max: SIMD3<Float>)? {
        guard !triangles.isEmpty else { return nil }
        var lower = SIMD3<Float>(repeating: .infinity)
        var upper = SIMD3<Float>(repeating: -.infinity)
        for triangle in triangles {
            for k in 0..<3 {
                let v = vertices[Int(triangle[k])]
                lower = pointwiseMin(lower, v)
                upper = pointwiseMax(upper, v)
            }
        }
        return (lower, upper)
    }

    /// The total area of the triangles.
    public var surfaceArea: Double {
        var area = 0.0
        for index in triangles.indices {
            let (a, b, c) = corners(index)
            let n = cross(b - a, c - a)
            area += Double((n * n).sum().squareRoot()) / 2
        }
        return area
    }

    /// The signed volume enclosed (positive for a closed mesh with outward-facing triangles).
    ///
    /// Computed as the sum of the signed volumes of the tetrahedra from the origin to each triangle.
    public var signedVolume: Double {
        var volume = 0.0
        for index in triangles.indices {
            let (a, b, c) = corners(index)
            let ad = SIMD3<Double>(Double(a.x), Double(a.y), Double(a.z))
            let bd = SIMD3<Double>(Double(b.x), Double(b.y), Double(b.z))
            let cd = SIMD3<Double>(Double(c.x), Double(c.y), Double(c.z))
            volume += (ad * cross(bd, cd)).sum() / 6
        }
        return volume
    }

    /// How many triangles use each undirected edge, keyed by the edge's (smaller, larger) vertex indices.
    public var edgeUseCounts: [SIMD2<Int32>: Int] {
        var counts: [SIMD2<Int32>: Int] = [:]
        counts.reserveCapacity(triangles.count * 3 / 2)
        for t in triangles {
            for (a, b) in [(t.x, t.y), (t.y, t.z), (t.z, t.x)] {
                counts[SIMD2(min(a, b), max(a, b)), default: 0] += 1
            }
        }
        return counts
    }

    /// Whether every edge is shared by exactly two triangles that traverse it in opposite directions
    /// (a closed, consistently oriented surface), and the mesh has at least one triangle.
    public var isWatertight: Bool {
        guard !triangles.isEmpty else { return false }
        var directed: [SIMD2<Int32>: Int] = [:]
        directed.reserveCapacity(triangles.count * 3)
        for t in triangles {
            for (a, b) in [(t.x, t.y), (t.y, t.z), (t.z, t.x)] {
                directed[SIMD2(a, b), default: 0] += 1
            }
        }
        for (edge, count) in directed {
            guard count == 1, directed[SIMD2(edge.y, edge.x)] == 1 else { return false }
        }
        return true
    }

    /// The mesh with every vertex moved by `offset` and then multiplied by `scale`.
    public func transformed(offset: SIMD3<Float> = .zero, scale: Float = 1) -> TriangleMesh {
        var mesh = self
        mesh.vertices = vertices.map { ($0 + offset) * scale }
        return mesh
    }

    /// Appends another mesh's vertices and triangles.
    public mutating func append(_ other: TriangleMesh) {
        let base = Int32(vertices.count)
        vertices += other.vertices
        triangles += other.triangles.map { $0 &+ SIMD3(repeating: base) }
    }
}

/// The cross product of two 3-vectors.
@inlinable
func cross<T: FloatingPoint & SIMDScalar>(_ a: SIMD3<T>, _ b: SIMD3<T>) -> SIMD3<T> {
    SIMD3(a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x)
}

/// The dot product of two 3-vectors.
@inlinable
func dot(_ a: SIMD3<Float>, _ b: SIMD3<Float>) -> Float {
    a.x * b.x + a.y * b.y + a.z * b.z
}
