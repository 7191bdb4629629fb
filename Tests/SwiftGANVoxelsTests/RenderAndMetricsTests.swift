import XCTest
@testable import SwiftGANVoxels

final class RendererTests: XCTestCase {
    private func isBackground(_ image: RasterImage, _ x: Int, _ y: Int) -> Bool {
        Array(image.pixel(x: x, y: y)) == [255, 255, 255]
    }

    func testCubeCoversTheCentreAndLeavesCornersBlank() {
        var grid = VoxelGrid(size: 1)
        grid[0, 0, 0] = 1
        let mesh = BlockyMesh.mesh(from: grid)
        var options = RenderOptions()
        options.smoothShading = false
        let image = MeshRenderer.render(mesh, viewpoint: Viewpoint(azimuth: 30, elevation: 25), width: 64, height: 48,
                                        options: options)
        XCTAssertEqual(image.width, 64)
        XCTAssertEqual(image.height, 48)
        XCTAssertEqual(image.channels, 3)
        XCTAssertFalse(isBackground(image, 32, 24))
        for (x, y) in [(0, 0), (63, 0), (0, 47), (63, 47)] { XCTAssertTrue(isBackground(image, x, y)) }
        // Three faces are visible at this view, lit differently: at least three distinct surface shades.
        var shades = Set<[UInt8]>()
        for y in 0..<48 { for x in 0..<64 where !isBackground(image, x, y) { shades.insert(Array(image.pixel(x: x, y: y))) } }
        XCTAssertGreaterThanOrEqual(shades.count, 3)
        // The cube's bounding sphere fills 95% of the smaller half-size: coverage between the
        // inscribed-hexagon area and the disc's.
        let covered = (0..<48).flatMap { y in (0..<64).map { (x: $0, y: y) } }.filter { !isBackground(image, $0.x, $0.y) }.count
        XCTAssertGreaterThan(covered, 600)
        XCTAssertLessThan(covered, Int(Float.pi * 23 * 23))
    }

    func testShapeAppearsWhereItIs() {
        // A mesh off to one side, framed by a fixed centre and radius: only that side has surface pixels.
        var grid = VoxelGrid(size: 8)
        for y in 0..<8 { for z in 0..<8 { grid[0, y, z] = 1; grid[1, y, z] = 1 } }
        let mesh = MarchingCubes.mesh(from: grid)
        var options = RenderOptions()
        options.upAxis = .y
        // Looking from +z (azimuth 0 with y up) with x to the right: the slab at x in [0, 2] is on the left.
        let image = MeshRenderer.render(mesh, viewpoint: Viewpoint(azimuth: 0, elevation: 0), width: 80, height: 80,
                                        center: SIMD3(repeating: 4), radius: 4, options: options)
        var left = 0, right = 0
        for y in 0..<80 {
            for x in 0..<80 where !isBackground(image, x, y) { if x < 40 { left += 1 } else { right += 1 } }
        }
        XCTAssertGreaterThan(left, 500)
        XCTAssertEqual(right, 0)
    }

    func testEmptyMeshRendersBackground() {
        let image = MeshRenderer.render(TriangleMesh(), viewpoint: Viewpoint(azimuth: 0, elevation: 0), width: 8, height: 8)
        XCTAssertTrue(image.pixels.allSatisfy { $0 == 255 })
    }

    func testNonFiniteAndHugeVerticesAreSkippedNotFatal() {
        let mesh = TriangleMesh(
            vertices: [SIMD3(0, 0, 0), SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(.nan, 0, 0), SIMD3(1e30, -1e30, 0)],
            triangles: [SIMD3(0, 1, 2), SIMD3(0, 3, 2), SIMD3(0, 4, 1)])
        let image = MeshRenderer.render(mesh, viewpoint: Viewpoint(azimuth: 0, elevation: 0), width: 16, height: 16,
                                        center: SIMD3(0.5, 0.5, 0), radius: 1)
        XCTAssertTrue(image.pixels.contains { $0 != 255 }, "the finite triangle is still drawn")
    }

    func testPreviewSheetLayoutAndFile() throws {
        let shapes = [ballGrid(size: 12, radius: 5), randomGrid(size: 12, fraction: 0.1, seed: 4), VoxelGrid(size: 12)]
        let row = VoxelPreview.renderViews(shapes[0], imageSize: 32)
        XCTAssertEqual(row.width, 4 * 32 + 5 * 2)
        XCTAssertEqual(row.height, 32 + 2 * 2)
        for v in 0..<4 { XCTAssertFalse(isBackground(row, 2 + v * 34 + 16, 2 + 16), "view \(v) shows the ball") }
        let sheet = VoxelPreview.renderSheet(shapes, views: Viewpoint.standard, columns: 2, imageSize: 24, style: .blocky)
        let cellWidth = 4 * 24 + 3 * 2
        XCTAssertEqual(sheet.width, 2 * (cellWidth + 2) + 2)
        XCTAssertEqual(sheet.height, 2 * (24 + 2) + 2)
        // The empty third shape (row 2, column 1) is blank; the ball (row 1, column 1) is not.
        XCTAssertFalse(isBackground(sheet, 2 + 12, 2 + 12))
        XCTAssertTrue((2 + 26..<2 + 26 + 24).allSatisfy { y in (2..<2 + cellWidth).allSatisfy { isBackground(sheet, $0, y) } })
        let folder = try makeTemporaryDirectory(self)
        try VoxelPreview.writePNG(shapes, to: folder + "/preview.png", imageSize: 24)
        let decoded = try ImageIO.readImage(folder + "/preview.png")
        XCTAssertEqual(decoded.width, 2 * (cellWidth + 2) + 2)
    }
}

final class VoxelMetricsTests: XCTestCase {
    func testIoU() {
        var a = VoxelGrid(size: 4), b = VoxelGrid(size: 4)
        for x in 0..<2 { a[x, 0, 0] = 1 }
        for x in 1..<4 { b[x, 0, 0] = 1 }
        XCTAssertEqual(VoxelMetrics.iou(a, b), 1.0 / 4.0)
        XCTAssertEqual(VoxelMetrics.iou(a, a), 1)
        XCTAssertEqual(VoxelMetrics.iou(VoxelGrid(size: 4), VoxelGrid(size: 4)), 1)
        XCTAssertEqual(VoxelMetrics.iou(a, VoxelGrid(size: 4)), 0)
        // Values are thresholded at 0.5.
        let soft = VoxelGrid(size: 4, values: a.values.map { $0 * 0.6 })
        XCTAssertEqual(VoxelMetrics.iou(a, soft), 1)
    }

    func testDistanceTransformMatchesBruteForce() {
        let grid = randomGrid(size: 7, fraction: 0.08, seed: 11)
        let field = SurfaceField(grid)
        XCTAssertFalse(field.surface.isEmpty)
        let n = 7
        for index in stride(from: 0, to: n * n * n, by: 5) {
            let p = SIMD3(index / (n * n), (index / n) % n, index % n)
            var best = Int.max
            for s in field.surface {
                let d = SIMD3(s / (n * n), (s / n) % n, s % n) &- p
                best = min(best, (d &* d).wrappedSum())
            }
            XCTAssertEqual(field.squaredDistance[index], Double(best), "voxel \(p)")
        }
    }

    func testChamferDistance() {
        var a = VoxelGrid(size: 8)
        a[2, 2, 2] = 1
        var b = VoxelGrid(size: 8)
        b[2, 2, 5] = 1
        // One point each, 3 voxels apart: (9 + 9) / 8^2.
        XCTAssertEqual(VoxelMetrics.chamferDistance(a, b), 18.0 / 64.0, accuracy: 1e-12)
        XCTAssertEqual(VoxelMetrics.chamferDistance(a, a), 0)
        let ball = ballGrid(size: 16, radius: 6)
        let other = randomGrid(size: 16, fraction: 0.2, seed: 1)
        XCTAssertEqual(VoxelMetrics.chamferDistance(ball, other), VoxelMetrics.chamferDistance(other, ball), accuracy: 1e-12)
        XCTAssertEqual(VoxelMetrics.chamferDistance(VoxelGrid(size: 4), VoxelGrid(size: 4)), 0)
        XCTAssertEqual(VoxelMetrics.chamferDistance(a, VoxelGrid(size: 8)), .infinity)
        // The surface of a solid ball excludes its interior.
        XCTAssertLessThan(VoxelMetrics.surfacePoints(of: ball).count, ball.occupiedCount)
        XCTAssertTrue(VoxelMetrics.surfacePoints(of: ball).allSatisfy { p in (0...1).contains(p.x) && (0...1).contains(p.z) })
    }

    func testMinimumMatchingDistanceAndCoverage() {
        let reference = (0..<5).map { randomGrid(size: 8, fraction: 0.3, seed: UInt64($0)) }
        for distance in [ShapeDistance.iou, .chamfer] {
            let same = VoxelMetrics.compare(generated: reference, reference: reference, distance: distance)
            XCTAssertEqual(same.minimumMatchingDistance, 0)
            XCTAssertEqual(same.coverage, 1)
            XCTAssertEqual(same.nearestReference, [0, 1, 2, 3, 4])
            // A collapsed generator: every sample is reference shape 2.
            let collapsed = VoxelMetrics.compare(generated: [reference[2], reference[2], reference[2]],
                                                 reference: reference, distance: distance)
            XCTAssertEqual(collapsed.coverage, 0.2)
            XCTAssertEqual(collapsed.nearestReference, [2, 2, 2])
            XCTAssertEqual(collapsed.nearestGeneratedDistance[2], 0)
            XCTAssertGreaterThan(collapsed.minimumMatchingDistance, 0)
        }
        // Hand-made matrix: rows generated, columns reference.
        let scores = VoxelMetrics.scores(distances: [[0.1, 0.5, 0.9], [0.2, 0.4, 0.3]])
        XCTAssertEqual(scores.nearestReference, [0, 0])
        XCTAssertEqual(scores.coverage, 1.0 / 3.0)
        XCTAssertEqual(scores.nearestGeneratedDistance, [0.1, 0.4, 0.3])
        XCTAssertEqual(scores.minimumMatchingDistance, 0.8 / 3.0, accuracy: 1e-12)
    }
}
