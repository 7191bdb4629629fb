import XCTest
@testable import SwiftGANVoxels

final class MeshingTests: XCTestCase {
    func testEveryCubeCaseGivesAClosedOutwardSurface() {
        // A 2x2x2 grid: its eight voxel centres are the corners of one marching cube.
        for caseIndex in 1..<255 {
            var grid = VoxelGrid(size: 2)
            for corner in 0..<8 where caseIndex & (1 << corner) != 0 {
                grid[corner & 1, (corner >> 1) & 1, (corner >> 2) & 1] = 1
            }
            let mesh = MarchingCubes.mesh(from: grid)
            XCTAssertTrue(mesh.isWatertight, "case \(caseIndex) is not closed")
            XCTAssertTrue(mesh.edgeUseCounts.values.allSatisfy { $0 == 2 }, "case \(caseIndex)")
            XCTAssertGreaterThan(mesh.signedVolume, 0, "case \(caseIndex) faces inward")
        }
    }

    func testCaseTableShape() {
        let table = MarchingCubes.CaseTable.shared
        XCTAssertEqual(table.edges.count, 12)
        XCTAssertEqual(table.faces.count, 6)
        XCTAssertTrue(table.polygons[0].isEmpty)
        XCTAssertTrue(table.polygons[255].isEmpty)
        // One inside corner: one triangle cutting it off.
        XCTAssertEqual(table.polygons[1].count, 1)
        XCTAssertEqual(table.polygons[1][0].edges.count, 3)
        // Four corners of one face: a quad across four parallel edges.
        XCTAssertEqual(table.polygons[0b0000_1111].map { $0.edges.count }, [4])
        // Complementary cases cross the same edges.
        for c in 1..<255 {
            let edges = Set(table.polygons[c].flatMap { $0.edges })
            XCTAssertEqual(edges, Set(table.polygons[255 - c].flatMap { $0.edges }), "case \(c)")
        }
    }

    func testRandomGridsAreWatertight() {
        for seed in 0..<6 {
            let grid = randomGrid(size: 8, fraction: 0.5, seed: UInt64(seed))
            let mesh = MarchingCubes.mesh(from: grid)
            XCTAssertTrue(mesh.isWatertight, "seed \(seed)")
            XCTAssertGreaterThan(mesh.signedVolume, 0)
        }
    }

    func testSphereIsWatertightWithNearAnalyticVolume() {
        let radius: Float = 10
        let analytic = 4.0 / 3.0 * Double.pi * Double(radius * radius * radius)
        let binary = MarchingCubes.mesh(from: ballGrid(size: 24, radius: radius))
        XCTAssertTrue(binary.isWatertight)
        XCTAssertTrue(binary.edgeUseCounts.values.allSatisfy { $0 == 2 })
        XCTAssertEqual(binary.signedVolume, analytic, accuracy: analytic * 0.06)

        // A smooth occupancy field (a clamped distance ramp) puts vertices on the true surface.
        let c: Float = 12
        let smoothGrid = VoxelGrid(size: 24) { x, y, z in
            let d = SIMD3<Float>(Float(x) + 0.5, Float(y) + 0.5, Float(z) + 0.5) - SIMD3(repeating: c)
            return min(1, max(0, 0.5 - ((d * d).sum().squareRoot() - radius)))
        }
        let smooth = MarchingCubes.mesh(from: smoothGrid)
        XCTAssertTrue(smooth.isWatertight)
        XCTAssertEqual(smooth.signedVolume, analytic, accuracy: analytic * 0.02)
        // All vertices lie close to the sphere.
        for v in smooth.vertices.prefix(500) {
            let d = v - SIMD3(repeating: c)
            XCTAssertEqual((d * d).sum().squareRoot(), radius, accuracy: 0.15)
        }
    }

    func testShapeTouchingTheGridBoundaryIsStillClosed() {
        var grid = VoxelGrid(size: 4)
        for i in grid.values.indices { grid.values[i] = 1 }  // full grid: the padding closes it
        let mesh = MarchingCubes.mesh(from: grid)
        XCTAssertTrue(mesh.isWatertight)
        let bounds = try? XCTUnwrap(mesh.bounds)
        XCTAssertEqual(bounds?.min, SIMD3(repeating: 0))
        XCTAssertEqual(bounds?.max, SIMD3(repeating: 4))
    }

    func testEmptyGridGivesEmptyMeshes() {
        XCTAssertTrue(MarchingCubes.mesh(from: VoxelGrid(size: 5)).triangles.isEmpty)
        XCTAssertTrue(BlockyMesh.mesh(from: VoxelGrid(size: 5)).triangles.isEmpty)
    }

    func testSingleVoxelBlockyMesh() {
        var grid = VoxelGrid(size: 3)
        grid[1, 1, 1] = 1
        let mesh = BlockyMesh.mesh(from: grid)
        XCTAssertEqual(mesh.triangles.count, 12)
        XCTAssertEqual(mesh.vertices.count, 8)
        XCTAssertTrue(mesh.isWatertight)
        XCTAssertEqual(mesh.signedVolume, 1, accuracy: 1e-9)
        XCTAssertEqual(mesh.bounds?.min, SIMD3(1, 1, 1))
        XCTAssertEqual(mesh.bounds?.max, SIMD3(2, 2, 2))
    }

    func testBlockyMeshHasOnlyExposedFaces() {
        // Two adjacent voxels share a hidden face: 10 exposed faces, 20 triangles, volume 2.
        var grid = VoxelGrid(size: 3)
        grid[0, 0, 0] = 1
        grid[1, 0, 0] = 1
        let mesh = BlockyMesh.mesh(from: grid)
        XCTAssertEqual(mesh.triangles.count, 20)
        XCTAssertEqual(mesh.vertices.count, 12)
        XCTAssertTrue(mesh.isWatertight)
        XCTAssertEqual(mesh.signedVolume, 2, accuracy: 1e-9)
        // The volume of a blocky mesh is the voxel count.
        let ball = ballGrid(size: 12, radius: 5)
        XCTAssertEqual(BlockyMesh.mesh(from: ball).signedVolume, Double(ball.occupiedCount), accuracy: 1e-6)
    }
}
