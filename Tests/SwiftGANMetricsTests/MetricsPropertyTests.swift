import XCTest
import Foundation
@testable import SwiftGANMetrics

/// Gaussian features with a seeded generator (Box-Muller on SplitMix64).
func gaussianFeatures(count: Int, dimension: Int, seed: UInt64, scale: Double = 1, shift: Double = 0) throws -> FeatureMatrix {
    var rng = MetricsRandom(seed: seed)
    var values: [Double] = []
    values.reserveCapacity(count * dimension)
    while values.count < count * dimension {
        let u1 = (Double(rng.next() >> 11) + 0.5) / 9_007_199_254_740_992.0
        let u2 = Double(rng.next() >> 11) / 9_007_199_254_740_992.0
        values.append(shift + scale * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
    return try FeatureMatrix(count: count, dimension: dimension, values: values)
}

final class MetricsPropertyTests: XCTestCase {
    func testCovarianceIsUnbiased() throws {
        // Rows (0,0), (2,0), (1,3): mean (1,1); centered (-1,-1), (1,-1), (0,2).
        let stats = try FeatureStatistics(FeatureMatrix(count: 3, dimension: 2, values: [0, 0, 2, 0, 1, 3] as [Double]))
        XCTAssertEqual(stats.mean, [1, 1])
        // Sum of outer products [[2, 0], [0, 6]] divided by n - 1 = 2.
        XCTAssertEqual(stats.covariance, [1, 0, 0, 3])
    }

    func testFrechetDistanceClosedFormForDiagonalCovariances() throws {
        // Diagonal covariances commute: d^2 = ||mu1 - mu2||^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2.
        let a = [4.0, 1.0, 0.25, 9.0], b = [1.0, 1.0, 1.0, 2.0]
        let mu1 = [0.0, 1.0, -1.0, 2.0], mu2 = [0.5, 1.0, 1.0, 0.0]
        func diagonal(_ v: [Double]) -> [Double] {
            var m = [Double](repeating: 0, count: v.count * v.count)
            for i in v.indices { m[i * v.count + i] = v[i] }
            return m
        }
        var expected = 0.0
        for i in 0..<4 { expected += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (a[i].squareRoot() - b[i].squareRoot()) * (a[i].squareRoot() - b[i].squareRoot()) }
        let d = try FrechetDistance.compute(FeatureStatistics(count: 10, mean: mu1, covariance: diagonal(a)),
                                            FeatureStatistics(count: 10, mean: mu2, covariance: diagonal(b)))
        XCTAssertEqual(d, expected, accuracy: 1e-12)

        // The same covariances rotated by one orthogonal matrix (a rotation in the (0, 3) plane): the distance
        // between the centred Gaussians does not change, though the matrices no longer are diagonal.
        let (c, s) = (cos(0.7), sin(0.7))
        func rotated(_ m: [Double]) -> [Double] {
            var q = diagonal([1, 1, 1, 1])
            q[0] = c; q[3] = -s; q[12] = s; q[15] = c
            var qt = q
            for i in 0..<4 { for j in 0..<4 { qt[i * 4 + j] = q[j * 4 + i] } }
            return DenseAlgebra.multiply(DenseAlgebra.multiply(q, m, n: 4), qt, n: 4)
        }
        var covarianceOnly = 0.0
        for i in 0..<4 { covarianceOnly += (a[i].squareRoot() - b[i].squareRoot()) * (a[i].squareRoot() - b[i].squareRoot()) }
        let zero = [Double](repeating: 0, count: 4)
        let r = try FrechetDistance.compute(FeatureStatistics(count: 10, mean: zero, covariance: rotated(diagonal(a))),
                                            FeatureStatistics(count: 10, mean: zero, covariance: rotated(diagonal(b))))
        XCTAssertEqual(r, covarianceOnly, accuracy: 1e-10)
    }

    func testFrechetDistanceOfSingularCovariancesStaysRealAndExact() throws {
        // S1 = diag(4, 0, 0) has rank 1: d^2 = (2 - 1)^2 + 1 + 1 = 3.
        let s1 = [4.0, 0, 0, 0, 0, 0, 0, 0, 0], s2 = [1.0, 0, 0, 0, 1, 0, 0, 0, 1]
        let d = try FrechetDistance.compute(FeatureStatistics(count: 5, mean: [0, 0, 0], covariance: s1),
                                            FeatureStatistics(count: 5, mean: [0, 0, 0], covariance: s2))
        XCTAssertEqual(d, 3, accuracy: 1e-12)
        // Features with fewer samples than dimensions and a constant (dead) feature: finite, and zero against itself.
        var values = try gaussianFeatures(count: 20, dimension: 40, seed: 3).values
        for i in 0..<20 { values[i * 40 + 7] = 0 }
        let features = try FeatureMatrix(count: 20, dimension: 40, values: values)
        let self0 = try FrechetDistance.compute(features, features)
        XCTAssertTrue(self0.isFinite)
        XCTAssertEqual(self0, 0, accuracy: 1e-6)
    }

    func testDistancesGrowWithTheShift() throws {
        let real = try gaussianFeatures(count: 400, dimension: 16, seed: 1)
        let same = try gaussianFeatures(count: 400, dimension: 16, seed: 2)
        let near = try gaussianFeatures(count: 400, dimension: 16, seed: 3, shift: 0.3)
        let far = try gaussianFeatures(count: 400, dimension: 16, seed: 4, shift: 1.5)
        let fd = try [same, near, far].map { try FrechetDistance.compute(real, $0) }
        XCTAssertLessThan(fd[0], fd[1])
        XCTAssertLessThan(fd[1], fd[2])
        // The mean term alone of the far set is 16 * 1.5^2 = 36.
        XCTAssertEqual(fd[2], 36, accuracy: 6)
        let kid = try [same, near, far].map { try KernelDistance.compute(real, $0, subsetSize: 100, subsetCount: 20, seed: 9).mean }
        XCTAssertEqual(kid[0], 0, accuracy: 0.02)
        XCTAssertLessThan(kid[0], kid[1])
        XCTAssertLessThan(kid[1], kid[2])
        let prdc = try [same, far].map { try NearestNeighbourMetrics.compute(real: real, generated: $0) }
        XCTAssertGreaterThan(prdc[0].precision, 0.6)
        XCTAssertGreaterThan(prdc[0].coverage, 0.8)
        XCTAssertLessThan(prdc[1].precision, prdc[0].precision)
        XCTAssertLessThan(prdc[1].coverage, prdc[0].coverage)
    }

    func testKernelDistanceIsSeededAndUnbiased() throws {
        let x = try gaussianFeatures(count: 300, dimension: 8, seed: 5)
        let y = try gaussianFeatures(count: 250, dimension: 8, seed: 6)
        let a = try KernelDistance.compute(x, y, subsetSize: 50, subsetCount: 10, seed: 7)
        let b = try KernelDistance.compute(x, y, subsetSize: 50, subsetCount: 10, seed: 7)
        let c = try KernelDistance.compute(x, y, subsetSize: 50, subsetCount: 10, seed: 8)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.mean, c.mean)
        XCTAssertGreaterThan(a.standardDeviation, 0)
        // A subset size larger than the sets is capped; with one subset of everything from equal-size sets the
        // estimate is the whole-set MMD^2, whatever the seed.
        let yEqual = try gaussianFeatures(count: 300, dimension: 8, seed: 6)
        let whole = try KernelDistance.compute(x, yEqual, subsetSize: 10_000, subsetCount: 1, seed: 123)
        XCTAssertEqual(whole.subsetSize, 300)
        XCTAssertEqual(whole.mean, try KernelDistance.unbiasedMMDSquared(x, yEqual), accuracy: 1e-12)
        XCTAssertEqual(whole.standardDeviation, 0)
        // Unbiased: can go below zero for two samples of one distribution (a biased estimate never would).
        let estimates = try (0..<8).map { try KernelDistance.unbiasedMMDSquared(gaussianFeatures(count: 30, dimension: 4, seed: 100 + $0),
                                                                                  gaussianFeatures(count: 30, dimension: 4, seed: 200 + $0)) }
        XCTAssertTrue(estimates.contains { $0 < 0 }, "\(estimates)")
    }

    func testIdenticalSetsHavePerfectPrecisionRecallAndCoverage() throws {
        let x = try gaussianFeatures(count: 120, dimension: 6, seed: 11)
        let r = try NearestNeighbourMetrics.compute(real: x, generated: x)
        XCTAssertEqual(r.precision, 1)
        XCTAssertEqual(r.recall, 1)
        XCTAssertEqual(r.coverage, 1)
        // Each real ball holds its own centre and its k = 5 neighbours: density (k + 1) / k.
        XCTAssertEqual(r.density, 6.0 / 5.0, accuracy: 1e-12)
    }

    func testMistakesAreReported() throws {
        XCTAssertThrowsError(try FeatureMatrix(count: 2, dimension: 3, values: [1, 2, 3] as [Double])) {
            XCTAssertTrue("\($0)".contains("do not fill 2 rows of 3"), "\($0)")
        }
        XCTAssertThrowsError(try FeatureMatrix(count: 1, dimension: 2, values: [1, Double.nan])) {
            XCTAssertTrue("\($0)".contains("feature 1 of sample 0 is nan"), "\($0)")
        }
        let a = try gaussianFeatures(count: 10, dimension: 3, seed: 1), b = try gaussianFeatures(count: 10, dimension: 4, seed: 1)
        XCTAssertThrowsError(try FrechetDistance.compute(a, b)) { XCTAssertEqual($0 as? MetricsError, .dimensionMismatch(first: 3, second: 4)) }
        XCTAssertThrowsError(try KernelDistance.compute(a, b)) { XCTAssertEqual($0 as? MetricsError, .dimensionMismatch(first: 3, second: 4)) }
        XCTAssertThrowsError(try NearestNeighbourMetrics.compute(real: a, generated: b))
        XCTAssertThrowsError(try FrechetDistance.compute(a.prefix(1), a)) { XCTAssertTrue("\($0)".contains("at least 2 samples"), "\($0)") }
        XCTAssertThrowsError(try NearestNeighbourMetrics.compute(real: a.prefix(5), generated: a)) {
            XCTAssertTrue("\($0)".contains("more than 5 real samples"), "\($0)")
        }
    }
}
