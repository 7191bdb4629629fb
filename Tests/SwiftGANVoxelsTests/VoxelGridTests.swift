import XCTest
@testable import SwiftGANVoxels

final class VoxelGridTests: XCTestCase {
    func testIndexOrderIsZFastest() {
        var grid = VoxelGrid(size: 3)
        grid[1, 2, 0] = 1
        XCTAssertEqual(grid.values[(1 * 3 + 2) * 3 + 0], 1)
        XCTAssertEqual(grid.index(1, 2, 0), 15)
        XCTAssertEqual(grid.occupiedCount, 1)
        XCTAssertEqual(grid[5, 0, 0], 0, "reads outside the grid are empty")
        XCTAssertTrue(grid.isOccupied(1, 2, 0))
        XCTAssertFalse(grid.isOccupied(1, 2, 1))
    }

    func testOccupancyThresholdAndBinarize() {
        let grid = VoxelGrid(size: 1, values: [0.5])
        XCTAssertEqual(grid.occupiedCount, 1)
        XCTAssertEqual(VoxelGrid(size: 1, values: [0.49]).occupiedCount, 0)
        XCTAssertEqual(VoxelGrid(size: 2, values: [0, 0.2, 0.5, 0.7, 1, 0.49, 0.51, 0]).binarized().values,
                       [0, 0, 1, 1, 1, 0, 1, 0])
    }

    func testPaddingAndBounds() {
        var grid = VoxelGrid(size: 2)
        grid[1, 0, 1] = 1
        let padded = grid.padded(by: 2)
        XCTAssertEqual(padded.size, 6)
        XCTAssertEqual(padded[3, 2, 3], 1)
        XCTAssertEqual(padded.occupiedCount, 1)
        XCTAssertEqual(padded.occupiedBounds?.min, SIMD3(3, 2, 3))
        XCTAssertEqual(padded.occupiedBounds?.max, SIMD3(3, 2, 3))
        XCTAssertNil(VoxelGrid(size: 4).occupiedBounds)
    }

    func testDownsamplingRules() {
        // One occupied voxel in each 2x2x2 block of the first block row; block (1,0,0) has 5 of 8.
        var grid = VoxelGrid(size: 4)
        grid[0, 0, 0] = 1
        for (x, y, z) in [(2, 0, 0), (3, 0, 0), (2, 1, 0), (3, 1, 0), (2, 0, 1)] { grid[x, y, z] = 1 }
        let pooled = grid.resampled(to: 2, downsampling: .maxPool)
        XCTAssertEqual(pooled[0, 0, 0], 1)
        XCTAssertEqual(pooled[1, 0, 0], 1)
        XCTAssertEqual(pooled.occupiedCount, 2)
        let mean = grid.resampled(to: 2, downsampling: .mean)
        XCTAssertEqual(mean[0, 0, 0], 0.125)
        XCTAssertEqual(mean[1, 0, 0], 0.625)
        let majority = grid.resampled(to: 2, downsampling: .majority)
        XCTAssertEqual(majority[0, 0, 0], 0)
        XCTAssertEqual(majority[1, 0, 0], 1)
    }

    func testUpsamplingIsNearestAndRoundTrips() {
        let grid = randomGrid(size: 8, fraction: 0.3, seed: 3)
        let up = grid.resampled(to: 16)
        XCTAssertEqual(up.occupiedCount, grid.occupiedCount * 8)
        for (x, y, z) in [(0, 0, 0), (3, 5, 7), (7, 7, 7), (2, 6, 1)] {
            for dx in 0..<2 { for dy in 0..<2 { for dz in 0..<2 {
                XCTAssertEqual(up[2 * x + dx, 2 * y + dy, 2 * z + dz], grid[x, y, z])
            } } }
        }
        XCTAssertEqual(up.resampled(to: 8), grid)
        XCTAssertEqual(up.resampled(to: 8, downsampling: .mean), grid)
        // Non-integer ratios keep every voxel's value within the source's range and keep shapes roughly in place.
        let ball = ballGrid(size: 30, radius: 10)
        let small = ball.resampled(to: 20, downsampling: .majority)
        XCTAssertEqual(small.size, 20)
        let expected = Double(ball.occupiedCount) * pow(20.0 / 30.0, 3)
        XCTAssertEqual(Double(small.occupiedCount), expected, accuracy: expected * 0.15)
        XCTAssertTrue(small.isOccupied(10, 10, 10))
        XCTAssertFalse(small.isOccupied(0, 0, 0))
        // 64 -> 32 by max-pool keeps a one-voxel-thick rod.
        var rod = VoxelGrid(size: 64)
        for x in 0..<64 { rod[x, 31, 31] = 1 }
        let pooledRod = rod.resampled(to: 32)
        XCTAssertEqual(pooledRod.occupiedCount, 32)
        XCTAssertEqual(rod.resampled(to: 32, downsampling: .majority).occupiedCount, 0)
    }
}
