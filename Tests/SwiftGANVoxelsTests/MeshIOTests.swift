import XCTest
@testable import SwiftGANVoxels

/// The unit cube [0, 1]^3 as 8 vertices and 6 outward quads (counter-clockwise seen from outside).
let cubeVertices = "0 0 0\n1 0 0\n1 1 0\n0 1 0\n0 0 1\n1 0 1\n1 1 1\n0 1 1\n"
let cubeQuads = "4 0 3 2 1\n4 4 5 6 7\n4 0 1 5 4\n4 2 3 7 6\n4 1 2 6 5\n4 0 4 7 3\n"

final class MeshReaderTests: XCTestCase {
    func testOFFSpellings() throws {
        let variants: [(String, String)] = [
            ("plain", "OFF\n8 6 0\n" + cubeVertices + cubeQuads),
            ("same line, no space (ModelNet)", "OFF8 6 0\n" + cubeVertices + cubeQuads),
            ("same line", "OFF 8 6 12\n" + cubeVertices + cubeQuads),
            ("comments", "# a cube\nOFF # keyword\n\n# counts next\n8 6 0\n" + cubeVertices
                + "# faces\n" + cubeQuads),
            ("COFF", "COFF\n8 6 0\n" + cubeVertices.split(separator: "\n").map { $0 + " 255 0 0 255" }.joined(separator: "\n")
                + "\n" + cubeQuads.split(separator: "\n").map { $0 + " 0.5 0.5 0.5" }.joined(separator: "\n") + "\n"),
            ("NOFF", "NOFF\n8 6 0\n" + cubeVertices.split(separator: "\n").map { $0 + " 0 0 1" }.joined(separator: "\n")
                + "\n" + cubeQuads),
            ("no keyword", "8 6 0\n" + cubeVertices + cubeQuads),
            ("CRLF", ("OFF\n8 6 0\n" + cubeVertices + cubeQuads).replacingOccurrences(of: "\n", with: "\r\n")),
        ]
        for (name, text) in variants {
            let mesh = try MeshIO.decodeOFF(Array(text.utf8), path: name)
            XCTAssertEqual(mesh.vertices.count, 8, name)
            XCTAssertEqual(mesh.triangles.count, 12, name)
            XCTAssertEqual(mesh.vertices[6], SIMD3(1, 1, 1), name)
            XCTAssertTrue(mesh.isWatertight, name)
            XCTAssertEqual(mesh.signedVolume, 1, accuracy: 1e-6, name)
        }
    }

    func testOFFErrors() throws {
        let folder = try makeTemporaryDirectory(self)
        let cases: [(String, String, String)] = [
            ("index.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n", "vertex index 3 is outside 0..<3"),
            ("short-vertices.off", "OFF\n4 1 0\n0 0 0\n1 0 0\n", "ends after 2 of 4 vertices"),
            ("short-faces.off", "OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n", "ends after 1 of 2 faces"),
            ("counts.off", "OFF\nthree 1 0\n", "expected counts"),
            ("coordinate.off", "OFF\n1 0 0\n0 zero 0\n", "bad coordinate 'zero'"),
            ("face.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n", "lists 3 of its 4 vertices"),
            ("4d.off", "4OFF\n1 0 0\n0 0 0 0\n", "not a 3-D OFF"),
            ("binary.off", "OFF BINARY\n", "binary OFF"),
            ("empty.off", "# nothing\n", "empty file"),
            ("inf.off", "OFF\n1 0 0\n0 inf 0\n", "not finite"),
            ("huge-face.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n9223372036854775807 0 1 2\n", "lists 3 of its"),
            ("huge-counts.off", "OFF\n9000000000000 1 0\n0 0 0\n", "ends after 1 of 9000000000000 vertices"),
        ]
        for (name, text, fragment) in cases {
            let path = try writeFile(text, named: name, in: folder)
            assertDataError(try MeshIO.read(path), path: path, contains: fragment)
        }
    }

    func testOBJFormsNegativeIndicesAndPolygons() throws {
        let text = """
        # cube with texture and normal references
        mtllib cube.mtl
        o cube
        v 0 0 0
        v 1 0 0
        v 1 1 0
        v 0 1 0
        v 0 0 1 1.0
        v 1 0 1
        v 1 1 1
        v 0 1 1
        vt 0 0
        vn 0 0 1
        usemtl grey
        s off
        f 1/1/1 4/1/1 3/1/1 2/1/1
        f 5//1 6//1 7//1 8//1
        f 1/1 2/1 6/1 5/1
        f -6 -5 -1 -2
        f 2 3 \\
          7 6
        f -8 -4 -1 -5
        """
        let mesh = try MeshIO.decodeOBJ(Array(text.utf8), path: "cube.obj")
        XCTAssertEqual(mesh.vertices.count, 8)
        XCTAssertEqual(mesh.triangles.count, 12)
        XCTAssertTrue(mesh.isWatertight)
        XCTAssertEqual(mesh.signedVolume, 1, accuracy: 1e-6)
        XCTAssertEqual(mesh.triangles[6], SIMD3(2, 3, 7), "-6 -5 -1 -2 with 8 vertices is 3 4 8 7 (1-based)")
    }

    func testOBJErrors() throws {
        let folder = try makeTemporaryDirectory(self)
        let cases: [(String, String, String)] = [
            ("zero.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n", "line 4: bad vertex reference '0'"),
            ("range.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 4\n", "vertex 4 does not exist"),
            ("before.obj", "v 0 0 0\nf -1 -2 -3\n", "points before the first vertex"),
            ("two.obj", "v 0 0 0\nv 1 0 0\nf 1 2\n", "at least 3 corners"),
            ("vertex.obj", "v 0 0\n", "a vertex needs 3 coordinates"),
            ("text.obj", "v 0 0 zero\n", "bad coordinate"),
        ]
        for (name, text, fragment) in cases {
            let path = try writeFile(text, named: name, in: folder)
            assertDataError(try MeshIO.read(path), path: path, contains: fragment)
        }
        let other = try writeFile("solid x", named: "part.stl", in: folder)
        assertDataError(try MeshIO.read(other), path: other, contains: "not a mesh file")
    }
}

final class VoxelizerTests: XCTestCase {
    private func cubeMesh() throws -> TriangleMesh {
        try MeshIO.decodeOFF(Array(("OFF\n8 6 0\n" + cubeVertices + cubeQuads).utf8), path: "cube")
    }

    func testCubeSurfaceAndSolid() throws {
        let cube = try cubeMesh()
        let surface = try Voxelizer.voxelize(cube, size: 8, mode: .surface, padding: 1)
        let solid = try Voxelizer.voxelize(cube, size: 8, mode: .solid, padding: 1)
        XCTAssertEqual(solid.occupiedCount, 6 * 6 * 6)
        XCTAssertEqual(surface.occupiedCount, 6 * 6 * 6 - 4 * 4 * 4)
        XCTAssertFalse(surface.isOccupied(4, 4, 4))
        XCTAssertTrue(solid.isOccupied(4, 4, 4))
        XCTAssertFalse(solid.isOccupied(0, 4, 4), "padding stays empty")
        XCTAssertEqual(try Voxelizer.voxelize(cube, size: 5).occupiedCount, 125, "no padding fills the grid")
    }

    func testSphereMeshVoxelizesToNearAnalyticVolume() throws {
        // A UV sphere of radius 1, voxelized into 32^3 with the sphere spanning the grid.
        var vertices: [SIMD3<Float>] = [SIMD3(0, 0, 1), SIMD3(0, 0, -1)]
        var triangles: [SIMD3<Int32>] = []
        let rings = 24, segments = 48
        for r in 1..<rings {
            let theta = Float.pi * Float(r) / Float(rings)
            for s in 0..<segments {
                let phi = 2 * Float.pi * Float(s) / Float(segments)
                vertices.append(SIMD3(sin(theta) * cos(phi), sin(theta) * sin(phi), cos(theta)))
            }
        }
        func ring(_ r: Int, _ s: Int) -> Int32 { Int32(2 + (r - 1) * segments + (s % segments)) }
        for s in 0..<segments {
            triangles.append(SIMD3(0, ring(1, s), ring(1, s + 1)))
            triangles.append(SIMD3(1, ring(rings - 1, s + 1), ring(rings - 1, s)))
            for r in 1..<(rings - 1) {
                triangles.append(SIMD3(ring(r, s), ring(r + 1, s), ring(r + 1, s + 1)))
                triangles.append(SIMD3(ring(r, s), ring(r + 1, s + 1), ring(r, s + 1)))
            }
        }
        let sphere = TriangleMesh(vertices: vertices, triangles: triangles)
        XCTAssertTrue(sphere.isWatertight)
        let solid = try Voxelizer.voxelize(sphere, size: 32, mode: .solid)
        let surface = try Voxelizer.voxelize(sphere, size: 32, mode: .surface)
        // The polygon sphere lies inside the true sphere (radius 16 voxels after scaling) and outside
        // the sphere through its face centres, so the solid holds every voxel inside the inner sphere and
        // none that misses the outer one.
        let outer: Float = 16 * 0.999
        let inner = outer * cos(Float.pi / Float(rings)) * cos(Float.pi / Float(segments))
        var inside = 0, touching = 0
        for x in 0..<32 { for y in 0..<32 { for z in 0..<32 {
            let low = SIMD3<Float>(Float(x), Float(y), Float(z)) - SIMD3(repeating: 16)
            let high = low + SIMD3(repeating: 1)
            let nearest = pointwiseMax(low, pointwiseMin(SIMD3(repeating: 0), high))
            let farthest = pointwiseMax(pointwiseMax(low, -low), pointwiseMax(high, -high))
            if (farthest * farthest).sum() <= inner * inner { inside += 1; XCTAssertTrue(solid.isOccupied(x, y, z)) }
            if (nearest * nearest).sum() < outer * outer { touching += 1 } else { XCTAssertFalse(solid.isOccupied(x, y, z)) }
        } } }
        XCTAssertGreaterThanOrEqual(solid.occupiedCount, inside)
        XCTAssertLessThanOrEqual(solid.occupiedCount, touching)
        XCTAssertLessThan(surface.occupiedCount, solid.occupiedCount / 2)
        XCTAssertTrue(solid.isOccupied(16, 16, 16))
        XCTAssertFalse(surface.isOccupied(16, 16, 16))
        XCTAssertFalse(solid.isOccupied(0, 0, 0))
    }

    func testMarchingCubesMeshVoxelizesBackToItsGrid() throws {
        // Without fitting, the mesh is in grid coordinates: voxelizing the surface of a ball gives the ball back
        // (up to the surface voxels the conservative overlap test adds or the corner cuts remove).
        for grid in [ballGrid(size: 20, radius: 7), randomGrid(size: 10, fraction: 0.6, seed: 2)] {
            let mesh = MarchingCubes.mesh(from: grid)
            let solid = try Voxelizer.voxelize(mesh, size: grid.size, mode: .solid, fitToGrid: false)
            if grid.size == 20 { XCTAssertGreaterThan(VoxelMetrics.iou(solid, grid), 0.7) }
            // Every original voxel centre is inside the closed surface, so the solid keeps every voxel.
            for i in grid.values.indices where grid.values[i] == 1 { XCTAssertEqual(solid.values[i], 1) }
        }
        let blocky = BlockyMesh.mesh(from: ballGrid(size: 12, radius: 4))
        let back = try Voxelizer.voxelize(blocky, size: 12, mode: .solid, fitToGrid: false)
        XCTAssertGreaterThanOrEqual(back.occupiedCount, ballGrid(size: 12, radius: 4).occupiedCount)
        let away = blocky.transformed(offset: SIMD3(repeating: 100))
        assertDataError(try Voxelizer.voxelize(away, size: 12, fitToGrid: false, source: "away.obj"),
                        path: "away.obj", contains: "empty grid")
    }

    func testFlatTriangleGivesASurface() throws {
        let mesh = TriangleMesh(vertices: [SIMD3(0, 0, 0), SIMD3(1, 0, 0), SIMD3(0, 1, 0)], triangles: [SIMD3(0, 1, 2)])
        let grid = try Voxelizer.voxelize(mesh, size: 8, mode: .solid)
        // The triangle lies in the plane z = 4 (centred); a right triangle covers about half of 8x8 voxels.
        XCTAssertGreaterThan(grid.occupiedCount, 28)
        XCTAssertLessThan(grid.occupiedCount, 2 * 64)
    }

    func testEmptyMeshesAreReported() throws {
        let folder = try makeTemporaryDirectory(self)
        let noFaces = try writeFile("OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", named: "no-faces.off", in: folder)
        assertDataError(try Voxelizer.voxelize(file: noFaces, size: 16), path: noFaces, contains: "empty grid")
        let point = try writeFile("v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n", named: "point.obj", in: folder)
        assertDataError(try Voxelizer.voxelize(file: point, size: 16), path: point, contains: "coincide")
        let lines = try writeFile("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", named: "lines.off", in: folder)
        assertDataError(try VoxelIO.load(lines, size: 16), path: lines, contains: "empty grid")
    }

    func testOverlapTestAgainstSampling() {
        // Triangles that only graze a cube's corner region: compare with dense point sampling.
        var random = TestRandom(seed: 5)
        var agreements = 0
        for _ in 0..<400 {
            let v = (0..<3).map { _ in SIMD3<Float>(random.unit() * 3 - 1.5, random.unit() * 3 - 1.5, random.unit() * 3 - 1.5) }
            let overlap = Voxelizer.triangleOverlapsCube(v[0], v[1], v[2], halfSize: 0.5)
            var sampledHit = false
            let steps = 60
            for i in 0...steps where !sampledHit {
                for j in 0...(steps - i) {
                    let a = Float(i) / Float(steps), b = Float(j) / Float(steps)
                    let p = v[0] + a * (v[1] - v[0]) + b * (v[2] - v[0])
                    if abs(p.x) <= 0.5 && abs(p.y) <= 0.5 && abs(p.z) <= 0.5 { sampledHit = true; break }
                }
            }
            // Sampling can miss a sliver but never finds a hit the exact test rejects.
            if sampledHit { XCTAssertTrue(overlap) }
            if sampledHit == overlap { agreements += 1 }
        }
        XCTAssertGreaterThan(agreements, 380)
    }
}

final class MeshWriterTests: XCTestCase {
    private func unitCube() -> TriangleMesh {
        var grid = VoxelGrid(size: 1)
        grid[0, 0, 0] = 1
        return BlockyMesh.mesh(from: grid)
    }

    private func float(_ bytes: [UInt8], _ offset: Int) -> Float {
        Float(bitPattern: UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
              | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
    }

    func testBinarySTLLayout() throws {
        let mesh = unitCube()
        let folder = try makeTemporaryDirectory(self)
        try MeshIO.writeSTL(mesh, to: folder + "/cube.stl")
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/cube.stl")))
        XCTAssertEqual(bytes.count, 80 + 4 + 50 * 12)
        XCTAssertNotEqual(String(decoding: bytes[0..<5], as: UTF8.self), "solid")
        XCTAssertEqual(Int(bytes[80]) | Int(bytes[81]) << 8 | Int(bytes[82]) << 16 | Int(bytes[83]) << 24, 12)
        for t in 0..<12 {
            let base = 84 + 50 * t
            let normal = SIMD3(float(bytes, base), float(bytes, base + 4), float(bytes, base + 8))
            let corners = (0..<3).map { c in
                SIMD3(float(bytes, base + 12 + 12 * c), float(bytes, base + 16 + 12 * c), float(bytes, base + 20 + 12 * c))
            }
            XCTAssertEqual(normal, mesh.normal(ofTriangle: t))
            XCTAssertEqual(dot(normal, cross(corners[1] - corners[0], corners[2] - corners[0])), 1, accuracy: 1e-6,
                           "normal agrees with the corner order (area 1/2, cross length 1)")
            XCTAssertEqual((normal * normal).sum(), 1, accuracy: 1e-6)
            XCTAssertEqual(bytes[base + 48], 0)
            XCTAssertEqual(bytes[base + 49], 0)
        }
    }

    func testOBJTextRoundTrips() throws {
        let mesh = MarchingCubes.mesh(from: ballGrid(size: 6, radius: 2))
        let text = String(decoding: MeshIO.encodeOBJ(mesh), as: UTF8.self)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.hasPrefix("v ") }.count, mesh.vertices.count)
        XCTAssertEqual(lines.filter { $0.hasPrefix("f ") }.count, mesh.triangles.count)
        let indices = lines.filter { $0.hasPrefix("f ") }.flatMap { $0.split(separator: " ").dropFirst().compactMap { Int($0) } }
        XCTAssertEqual(indices.count, 3 * mesh.triangles.count)
        XCTAssertEqual(indices.min(), 1, "indices are 1-based")
        XCTAssertEqual(indices.max(), mesh.vertices.count)
        let folder = try makeTemporaryDirectory(self)
        try MeshIO.writeOBJ(mesh, to: folder + "/ball.obj")
        XCTAssertEqual(try MeshIO.readOBJ(folder + "/ball.obj"), mesh)
    }

    func testPLYLayouts() throws {
        let mesh = unitCube()
        let binary = MeshIO.encodePLY(mesh)
        let headerEnd = try XCTUnwrap(String(decoding: binary, as: UTF8.self).range(of: "end_header\n"))
        let headerText = String(decoding: binary, as: UTF8.self)[..<headerEnd.upperBound]
        XCTAssertTrue(headerText.hasPrefix("ply\nformat binary_little_endian 1.0\n"))
        XCTAssertTrue(headerText.contains("element vertex 8\n"))
        XCTAssertTrue(headerText.contains("element face 12\nproperty list uchar int vertex_indices\n"))
        let headerBytes = headerText.utf8.count
        XCTAssertEqual(binary.count, headerBytes + 8 * 12 + 12 * 13)
        // The first face: count byte 3 then three int32 indices matching the mesh.
        let face0 = headerBytes + 8 * 12
        XCTAssertEqual(binary[face0], 3)
        XCTAssertEqual(Int32(binary[face0 + 1]), mesh.triangles[0].x)
        XCTAssertEqual(float(binary, headerBytes + 12 * 6), mesh.vertices[6].x)

        let ascii = String(decoding: MeshIO.encodePLY(mesh, encoding: .ascii), as: UTF8.self)
        XCTAssertTrue(ascii.hasPrefix("ply\nformat ascii 1.0\n"))
        let body = ascii.components(separatedBy: "end_header\n")[1].split(separator: "\n")
        XCTAssertEqual(body.count, 8 + 12)
        XCTAssertEqual(body[8], "3 \(mesh.triangles[0].x) \(mesh.triangles[0].y) \(mesh.triangles[0].z)")
        let folder = try makeTemporaryDirectory(self)
        try MeshIO.writePLY(mesh, to: folder + "/cube.ply", encoding: .ascii)
        XCTAssertEqual(try String(contentsOfFile: folder + "/cube.ply", encoding: .utf8), ascii)
    }
}
