/// Fidelity and diversity from k-nearest-neighbour balls in feature space, with exact pairwise distances computed in
/// blocks (one GEMM per block of rows, so memory stays proportional to the larger set, not to its square).
///
/// - Precision and recall (Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
///   Models"): each sample's ball reaches its k-th nearest neighbour in its own set (itself not counted). Precision
///   is the fraction of generated samples inside at least one real ball; recall the fraction of real samples inside
///   at least one generated ball.
/// - Density and coverage (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models"):
///   density is the number of real balls that contain each generated sample, averaged and divided by k (about 1
///   when the two sets come from one distribution, above 1 where generated samples crowd dense real regions);
///   coverage is the fraction of real samples whose ball contains at least one generated sample.
///
/// A point on a ball's boundary counts as inside (distance <= radius).
public enum NearestNeighbourMetrics {
    /// The four values, with the neighbourhood sizes they used.
    public struct Result: Equatable, Sendable {
        /// The fraction of generated samples inside at least one real sample's k-NN ball.
        public var precision: Double
        /// The fraction of real samples inside at least one generated sample's k-NN ball.
        public var recall: Double
        /// The mean number of real k-NN balls holding a generated sample, divided by k.
        public var density: Double
        /// The fraction of real samples whose k-NN ball holds at least one generated sample.
        public var coverage: Double
        /// k for precision and recall.
        public var precisionRecallNeighbours: Int
        /// k for density and coverage.
        public var densityCoverageNeighbours: Int
    }

    /// Precision and recall with `precisionRecallNeighbours` (k = 3, as Kynkaanniemi et al.) and density and coverage
    /// with `densityCoverageNeighbours` (k = 5, as Naeem et al.).
    /// - Throws: `MetricsError` for mismatched dimensions, a k below 1, or a set with no more than k rows.
    public static func compute(real: FeatureMatrix, generated: FeatureMatrix, precisionRecallNeighbours: Int = 3,
                               densityCoverageNeighbours: Int = 5) throws -> Result {
        guard real.dimension == generated.dimension else {
            throw MetricsError.dimensionMismatch(first: real.dimension, second: generated.dimension)
        }
        let kPR = precisionRecallNeighbours, kDC = densityCoverageNeighbours
        guard kPR >= 1, kDC >= 1 else { throw MetricsError.invalidShape("k must be at least 1, got \(kPR) and \(kDC)") }
        let kMax = max(kPR, kDC)
        guard real.count > kMax else {
            throw MetricsError.tooFewSamples("k = \(kMax) nearest neighbours need more than \(kMax) real samples, got \(real.count)")
        }
        guard generated.count > kPR else {
            throw MetricsError.tooFewSamples("k = \(kPR) nearest neighbours need more than \(kPR) generated samples, got \(generated.count)")
        }
        // Squared radii: comparing squared distances with squared radii is the same test.
        let realNeighbours = nearestNeighbourDistances(real, k: kMax)
        let realRadiusPR = realNeighbours.map { $0[kPR - 1] }
        let realRadiusDC = realNeighbours.map { $0[kDC - 1] }
        let generatedRadiusPR = nearestNeighbourDistances(generated, k: kPR).map { $0[kPR - 1] }

        let n = real.count
        let realNorms = DenseAlgebra.rowSquaredNorms(real), generatedNorms = DenseAlgebra.rowSquaredNorms(generated)
        var precise = 0
        var densityCount = 0
        var recalled = [Bool](repeating: false, count: n)
        var covered = [Bool](repeating: false, count: n)
        DenseAlgebra.forEachDistanceBlock(generated, real) { start, rows, distances in
            guard let base = distances.baseAddress else { return }
            for r in 0..<rows {
                let row = base + r * n
                let g = start + r
                let generatedRadius = generatedRadiusPR[g]
                var insideSome = false
                for i in 0..<n {
                    // The GEMM form of the distance is off by rounding of order eps * (|x|^2 + |y|^2); within that
                    // margin of a radius the distance is recomputed directly, so boundary points are decided exactly.
                    let approximate = row[i]
                    let margin = DenseAlgebra.distanceMargin(generatedNorms[g], realNorms[i])
                    var exact: Double?
                    func inside(_ radius: Double) -> Bool {
                        if approximate < radius - margin { return true }
                        if approximate > radius + margin { return false }
                        let d = exact ?? DenseAlgebra.squaredDistance(generated, g, real, i)
                        exact = d
                        return d <= radius
                    }
                    if !insideSome && inside(realRadiusPR[i]) { insideSome = true }
                    if inside(realRadiusDC[i]) { densityCount += 1; covered[i] = true }
                    if !recalled[i] && inside(generatedRadius) { recalled[i] = true }
                }
                if insideSome { precise += 1 }
            }
        }
        let m = Double(generated.count)
        return Result(precision: Double(precise) / m,
                      recall: Double(recalled.filter { $0 }.count) / Double(n),
                      density: Double(densityCount) / (Double(kDC) * m),
                      coverage: Double(covered.filter { $0 }.count) / Double(n),
                      precisionRecallNeighbours: kPR, densityCoverageNeighbours: kDC)
    }

    /// For each row, the squared distances to its `k` nearest other rows, ascending (the row itself is left out by
    /// index, so duplicates of a row count as neighbours at distance 0). The neighbours are found with GEMM-form
    /// distances and their distances then recomputed directly, so the radii carry no cancellation error.
    static func nearestNeighbourDistances(_ features: FeatureMatrix, k: Int) -> [[Double]] {
        let n = features.count
        var result = [[Double]](repeating: [], count: n)
        DenseAlgebra.forEachDistanceBlock(features, features) { start, rows, distances in
            guard let base = distances.baseAddress else { return }
            for r in 0..<rows {
                let row = base + r * n
                let own = start + r
                // The k smallest seen so far, ascending, with their indices; insertion keeps them sorted.
                var smallest = [Double](repeating: .infinity, count: k)
                var indices = [Int](repeating: -1, count: k)
                for j in 0..<n where j != own {
                    let d = row[j]
                    if d < smallest[k - 1] {
                        var p = k - 1
                        while p > 0 && smallest[p - 1] > d {
                            smallest[p] = smallest[p - 1]
                            indices[p] = indices[p - 1]
                            p -= 1
                        }
                        smallest[p] = d
                        indices[p] = j
                    }
                }
                result[own] = indices.map { DenseAlgebra.squaredDistance(features, own, features, $0) }.sorted()
            }
        }
        return result
    }
}
