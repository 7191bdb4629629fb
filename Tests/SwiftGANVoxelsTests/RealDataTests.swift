import XCTest
@testable import SwiftGANVoxels

/// Checks on the real shapes in `../shared/data` (skipped when that folder is absent).
final class RealDataTests: XCTestCase {
    private func folder(_ name: String) throws -> String {
        guard let data = sharedDataFolder() else {
            throw XCTSkip("../shared/data is not present; real-data checks skipped")
        }
        let path = (data as NSString).appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("\(path) is not present") }
        return path
    }

    func testModelNetChairsAndMonitors() throws {
        let base = try folder("voxels-modelnet10")
        let chairs = try VoxelIO.readIDX(base + "/chair-train-voxels32-idx4-ubyte.gz")
        XCTAssertEqual(chairs.count, 889)
        XCTAssertTrue(chairs.allSatisfy { $0.size == 32 })
        let counts = chairs.map { $0.occupiedCount }
        XCTAssertEqual(counts.min(), 534)
        XCTAssertEqual(counts.max(), 6469)
        XCTAssertEqual(counts.sorted()[counts.count / 2], 1790)
        let monitors = try VoxelIO.load(base + "/monitor-train-voxels32-idx4-ubyte.gz")
        XCTAssertEqual(monitors.count, 465)
        XCTAssertEqual(monitors.map { $0.occupiedCount }.min(), 700)
        XCTAssertEqual(monitors.map { $0.occupiedCount }.max(), 11266)
        // Marching cubes of real chairs is closed.
        for chair in chairs.prefix(3) {
            let mesh = MarchingCubes.mesh(from: chair)
            XCTAssertTrue(mesh.isWatertight)
            XCTAssertGreaterThan(mesh.signedVolume, 0)
        }
    }

    func testShapeNetBinvoxChairs() throws {
        let base = try folder("voxels-shapenet-chairs")
        let names = try FileManager.default.contentsOfDirectory(atPath: base).filter { $0.hasSuffix(".binvox") }.sorted()
        XCTAssertEqual(names.count, 15)
        var counts: [Int] = []
        for name in names {
            let (grid, header) = try VoxelIO.decodeBinvox(
                Array(Data(contentsOf: URL(fileURLWithPath: base + "/" + name))), path: name)
            XCTAssertEqual(grid.size, 64)
            XCTAssertGreaterThan(header.scale, 0)
            counts.append(grid.occupiedCount)
            // Re-encoding gives a file that decodes to the same grid.
            XCTAssertEqual(try VoxelIO.decodeBinvox(VoxelIO.encodeBinvox(grid, header: header), path: name).grid, grid)
        }
        XCTAssertEqual(counts.min(), 2493)
        XCTAssertEqual(counts.max(), 86892)
        // 64 -> 32 by max-pool: every chair keeps its parts, with between 1/8 and all of the voxel count.
        let grids = try VoxelIO.load(base, size: 32)
        XCTAssertEqual(grids.count, 15)
        for (grid, count) in zip(grids, counts) {
            XCTAssertEqual(grid.size, 32)
            XCTAssertGreaterThanOrEqual(grid.occupiedCount * 8, count)
            XCTAssertLessThanOrEqual(grid.occupiedCount, count)
        }
    }
}
