import COpenBLAS

/// The mean and covariance of a set of features: all the Frechet distance needs, so the statistics of a fixed
/// reference set can be computed once and reused.
public struct FeatureStatistics: Equatable, Sendable {
    /// The number of samples they were computed from.
    public let count: Int
    /// The feature length `d`.
    public let dimension: Int
    /// The mean feature vector (`d` values).
    public let mean: [Double]
    /// The covariance, `d x d` row-major, with the unbiased `1 / (n - 1)` normalisation (as `numpy.cov` and the
    /// usual FID code).
    public let covariance: [Double]

    /// - Throws: `MetricsError.tooFewSamples` for fewer than two samples.
    public init(_ features: FeatureMatrix) throws {
        let n = features.count, d = features.dimension
        guard n >= 2 else { throw MetricsError.tooFewSamples("a covariance needs at least 2 samples, got \(n)") }
        var mean = [Double](repeating: 0, count: d)
        features.values.withUnsafeBufferPointer { v in
            for i in 0..<n { for j in 0..<d { mean[j] += v[i * d + j] } }
        }
        for j in 0..<d { mean[j] /= Double(n) }
        var centered = features.values
        for i in 0..<n { for j in 0..<d { centered[i * d + j] -= mean[j] } }
        var covariance = [Double](repeating: 0, count: d * d)
        centered.withUnsafeBufferPointer { pc in
            covariance.withUnsafeMutableBufferPointer { ps in
                guard let c = pc.baseAddress, let s = ps.baseAddress else { return }
                // S = Xc^T Xc / (n - 1)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(d), Int32(n), 1 / Double(n - 1), c,
                            Int32(d), c, Int32(d), 0, s, Int32(d))
            }
        }
        self.count = n
        self.dimension = d
        self.mean = mean
        self.covariance = covariance
    }

    /// Statistics given directly (for example read back from a cache).
    /// - Throws: `MetricsError.invalidShape` when the sizes do not agree.
    public init(count: Int, mean: [Double], covariance: [Double]) throws {
        guard !mean.isEmpty, covariance.count == mean.count * mean.count else {
            throw MetricsError.invalidShape("a mean of \(mean.count) values needs a \(mean.count) x \(mean.count) covariance, got \(covariance.count) values")
        }
        self.count = count
        self.dimension = mean.count
        self.mean = mean
        self.covariance = covariance
    }
}

/// The Frechet distance between two Gaussians fitted to feature sets (Dowson and Landau 1982; used as FID by
/// Heusel et al. 2017):
///
///     d^2 = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))
///
/// The trace of the matrix square root is computed in double precision without forming the non-symmetric product:
/// `S1^(1/2)` comes from a symmetric eigendecomposition, and `S1 S2` has the same eigenvalues as the symmetric
/// positive semi-definite `S1^(1/2) S2 S1^(1/2)`, so `tr((S1 S2)^(1/2))` is the sum of the square roots of that
/// matrix's eigenvalues (tiny negative ones, from rounding on singular covariances, count as zero). This stays
/// real and stable where `scipy.linalg.sqrtm` of the product can turn complex.
public enum FrechetDistance {
    /// The Frechet distance between the Gaussians of two feature sets.
    /// - Throws: `MetricsError` for mismatched dimensions, fewer than two samples, or a failed eigendecomposition.
    public static func compute(_ first: FeatureMatrix, _ second: FeatureMatrix) throws -> Double {
        guard first.dimension == second.dimension else {
            throw MetricsError.dimensionMismatch(first: first.dimension, second: second.dimension)
        }
        return try compute(FeatureStatistics(first), FeatureStatistics(second))
    }

    /// The Frechet distance between two Gaussians given by their statistics. Never negative (a result a few ulps
    /// below zero, from rounding on identical statistics, is returned as 0).
    public static func compute(_ a: FeatureStatistics, _ b: FeatureStatistics) throws -> Double {
        guard a.dimension == b.dimension else { throw MetricsError.dimensionMismatch(first: a.dimension, second: b.dimension) }
        let d = a.dimension
        var meanTerm = 0.0
        for j in 0..<d { meanTerm += (a.mean[j] - b.mean[j]) * (a.mean[j] - b.mean[j]) }
        var traces = 0.0
        for j in 0..<d { traces += a.covariance[j * d + j] + b.covariance[j * d + j] }
        let rootA = try DenseAlgebra.symmetricSquareRoot(a.covariance, n: d)
        let middle = DenseAlgebra.multiply(DenseAlgebra.multiply(rootA, b.covariance, n: d), rootA, n: d)
        let eigenvalues = try DenseAlgebra.symmetricEigen(middle, n: d, vectors: false).values
        let traceOfRoot = eigenvalues.reduce(0.0) { $0 + max($1, 0).squareRoot() }
        return max(0, meanTerm + traces - 2 * traceOfRoot)
    }
}
