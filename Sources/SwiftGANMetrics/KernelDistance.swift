/// The kernel distance (KID, Binkowski et al. 2018, "Demystifying MMD GANs"): the unbiased estimate of the squared
/// maximum mean discrepancy with the cubic polynomial kernel `k(x, y) = (x.y / d + 1)^3`, averaged over random
/// subsets. Unlike the Frechet distance its estimate has no bias from the sample size, so values from different
/// numbers of samples can be compared.
public enum KernelDistance {
    /// The mean and spread of the subset estimates.
    public struct Result: Equatable, Sendable {
        /// The mean of the unbiased MMD^2 estimates over the subsets.
        public var mean: Double
        /// Their standard deviation (population form, dividing by the number of subsets, as torch-fidelity reports).
        public var standardDeviation: Double
        /// The subset size actually used (the requested size, capped by the smaller feature set).
        public var subsetSize: Int
        /// The number of subsets.
        public var subsetCount: Int
    }

    /// KID over `subsetCount` subsets of `subsetSize` rows drawn without replacement from each set (independently
    /// for each subset) with a generator seeded by `seed`: the same inputs and seed give the same result.
    /// `subsetSize` is capped by the smaller set, so a set smaller than the subset size is used whole.
    /// - Throws: `MetricsError` for mismatched dimensions, fewer than 2 rows, or a subset count below 1.
    public static func compute(_ real: FeatureMatrix, _ generated: FeatureMatrix, subsetSize: Int = 1000,
                               subsetCount: Int = 100, seed: UInt64 = 0) throws -> Result {
        guard subsetCount >= 1 else { throw MetricsError.invalidShape("KID needs at least one subset, got \(subsetCount)") }
        guard subsetSize >= 2 else { throw MetricsError.tooFewSamples("KID needs subsets of at least 2 samples, got \(subsetSize)") }
        let m = min(subsetSize, real.count, generated.count)
        guard m >= 2 else {
            throw MetricsError.tooFewSamples("KID needs at least 2 samples in each set, got \(real.count) and \(generated.count)")
        }
        var rng = MetricsRandom(seed: seed)
        var subsets: [(real: [Int], generated: [Int])] = []
        for _ in 0..<subsetCount {
            let r = rng.sample(m, from: real.count)
            let g = rng.sample(m, from: generated.count)
            subsets.append((r, g))
        }
        return try compute(real, generated, subsets: subsets)
    }

    /// KID over explicitly given subsets (row indices into each set); the mean and population standard deviation
    /// of the per-subset estimates.
    public static func compute(_ real: FeatureMatrix, _ generated: FeatureMatrix,
                               subsets: [(real: [Int], generated: [Int])]) throws -> Result {
        guard real.dimension == generated.dimension else {
            throw MetricsError.dimensionMismatch(first: real.dimension, second: generated.dimension)
        }
        guard !subsets.isEmpty else { throw MetricsError.invalidShape("KID needs at least one subset") }
        var estimates: [Double] = []
        for subset in subsets {
            estimates.append(try unbiasedMMDSquared(real.rows(subset.real), generated.rows(subset.generated)))
        }
        let mean = estimates.reduce(0, +) / Double(estimates.count)
        let variance = estimates.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(estimates.count)
        return Result(mean: mean, standardDeviation: variance.squareRoot(),
                      subsetSize: subsets[0].real.count, subsetCount: subsets.count)
    }

    /// The unbiased MMD^2 estimate between two samples with the cubic polynomial kernel:
    /// `sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (n (n-1)) - 2 sum_{i,j} k(x_i, y_j) / (m n)`.
    /// - Throws: `MetricsError` for mismatched dimensions or fewer than 2 rows in either sample.
    public static func unbiasedMMDSquared(_ x: FeatureMatrix, _ y: FeatureMatrix) throws -> Double {
        guard x.dimension == y.dimension else { throw MetricsError.dimensionMismatch(first: x.dimension, second: y.dimension) }
        guard x.count >= 2, y.count >= 2 else {
            throw MetricsError.tooFewSamples("the unbiased MMD needs at least 2 samples on each side, got \(x.count) and \(y.count)")
        }
        let m = Double(x.count), n = Double(y.count)
        let xx = kernelSum(x, x, skipDiagonal: true)
        let yy = kernelSum(y, y, skipDiagonal: true)
        let xy = kernelSum(x, y, skipDiagonal: false)
        return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)
    }

    /// `sum_{i,j} (a_i.b_j / d + 1)^3`, leaving out `i == j` when `skipDiagonal`; in blocks of rows of `a`.
    static func kernelSum(_ a: FeatureMatrix, _ b: FeatureMatrix, skipDiagonal: Bool) -> Double {
        let d = a.dimension, n = b.count
        let blockRows = max(1, min(a.count, 512))
        var buffer = [Double](repeating: 0, count: blockRows * n)
        var total = 0.0
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                buffer.withUnsafeMutableBufferPointer { pc in
                    guard let x = pa.baseAddress, let y = pb.baseAddress, let c = pc.baseAddress else { return }
                    var start = 0
                    while start < a.count {
                        let rows = min(blockRows, a.count - start)
                        DenseAlgebra.multiplyTransposed(x + start * d, y, m: rows, n: n, k: d, alpha: 1 / Double(d), into: c)
                        for r in 0..<rows {
                            var rowSum = 0.0
                            for j in 0..<n where !(skipDiagonal && j == start + r) {
                                let t = c[r * n + j] + 1
                                rowSum += t * t * t
                            }
                            total += rowSum
                        }
                        start += rows
                    }
                }
            }
        }
        return total
    }
}
