/// How ``VoxelGrid/resampled(to:downsampling:)`` combines several source voxels into one.
public enum DownsamplingRule: Sendable {
    /// The largest value (for binary grids: occupied if any source voxel is). Keeps thin parts
    /// such as chair legs, at the cost of slightly fattening shapes. The default.
    case maxPool
    /// The mean value (the occupied fraction). Thin parts may drop below 0.5 and vanish when
    /// the result is thresholded.
    case mean
    /// The mean, then 1 where it is at least 0.5 and 0 elsewhere (a majority vote).
    case majority
}

extension VoxelGrid {
    /// The grid resampled to `newSize`³.
    ///
    /// Rule: the grids span the same cube, so target voxel `i` (along each axis) covers source
    /// coordinates `[i * N / M, (i + 1) * N / M)` for source size `N` and target size `M`. The source
    /// voxels whose centres fall in that interval are combined with `downsampling` (for 64 → 32 that is
    /// each 2×2×2 block). When no centre falls in it (upsampling), the target takes the value of the
    /// source voxel containing its own centre (nearest neighbour), so 32 → 64 copies each voxel into
    /// a 2×2×2 block, and a grid resampled up and back down is unchanged.
    ///
    /// - Precondition: `newSize > 0`.
    public func resampled(to newSize: Int, downsampling: DownsamplingRule = .maxPool) -> VoxelGrid {
        precondition(newSize > 0, "VoxelGrid: resampling size must be positive, got \(newSize)")
        if newSize == size { return self }
        let n = size
        // Source index range per target index, the same on all three axes.
        let ranges: [Range<Int>] = (0..<newSize).map { i in
            // Centres (j + 0.5) / n in [i / m, (i + 1) / m)  <=>  j in [ceil(i n / m - 0.5), ceil((i + 1) n / m - 0.5)).
            let lower = firstCenterIndex(atOrAbove: i, sourceSize: n, targetSize: newSize)
            let upper = firstCenterIndex(atOrAbove: i + 1, sourceSize: n, targetSize: newSize)
            if lower < upper { return lower..<upper }
            let nearest = min(n - 1, ((2 * i + 1) * n) / (2 * newSize))  // voxel holding the target's centre
            return nearest..<nearest + 1
        }
        var out = [Float](repeating: 0, count: newSize * newSize * newSize)
        var target = 0
        for xr in ranges {
            for yr in ranges {
                for zr in ranges {
                    var largest: Float = 0
                    var sum: Float = 0
                    for x in xr {
                        for y in yr {
                            let row = (x * n + y) * n
                            for z in zr {
                                let value = values[row + z]
                                largest = Swift.max(largest, value)
                                sum += value
                            }
                        }
                    }
                    let mean = sum / Float(xr.count * yr.count * zr.count)
                    switch downsampling {
                    case .maxPool: out[target] = largest
                    case .mean: out[target] = mean
                    case .majority: out[target] = mean >= VoxelGrid.occupancyThreshold ? 1 : 0
                    }
                    target += 1
                }
            }
        }
        return VoxelGrid(size: newSize, values: out)
    }
}

/// The smallest source index `j` whose centre `(j + 0.5) / n` is at or above `k / m`.
private func firstCenterIndex(atOrAbove k: Int, sourceSize n: Int, targetSize m: Int) -> Int {
    // (j + 0.5) / n >= k / m  <=>  2 j m + m >= 2 k n  <=>  j >= (2 k n - m) / (2 m).
    let numerator = 2 * k * n - m
    let denominator = 2 * m
    if numerator <= 0 { return 0 }
    return min(n, (numerator + denominator - 1) / denominator)
}
