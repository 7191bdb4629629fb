import XCTest
import Foundation
@testable import SwiftGANMetrics

/// One case of `Fixtures/metrics_reference.json` (written by `scripts/fixtures/make_metrics_reference.py`).
struct ReferenceCase: Decodable {
    struct Subset: Decodable {
        let real: [Int]
        let generated: [Int]
    }
    let name: String
    let dimension: Int
    let realCount: Int
    let generatedCount: Int
    let real: [Double]
    let generated: [Double]
    let frechetDistance: Double
    let mmd2Full: Double
    let kidSubsets: [Subset]
    let kidMean: Double
    let kidStd: Double
    let precision: Double
    let recall: Double
    let density: Double
    let coverage: Double

    func matrices() throws -> (FeatureMatrix, FeatureMatrix) {
        (try FeatureMatrix(count: realCount, dimension: dimension, values: real),
         try FeatureMatrix(count: generatedCount, dimension: dimension, values: generated))
    }
}

struct ReferenceFile: Decodable {
    let generator: String
    let cases: [ReferenceCase]
}

func loadReference() throws -> ReferenceFile {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/metrics_reference.json")
    let decoder = JSONDecoder()
    decoder.keyDecodingStrategy = .convertFromSnakeCase
    return try decoder.decode(ReferenceFile.self, from: Data(contentsOf: url))
}

/// `|a - b| <= tolerance * max(|b|, 1e-12)`.
func assertRelative(_ a: Double, _ b: Double, _ tolerance: Double, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertLessThanOrEqual(abs(a - b), tolerance * max(abs(b), 1e-12), "\(message): \(a) vs reference \(b)", file: file, line: line)
}

final class MetricsReferenceTests: XCTestCase {
    func testFixtureHasEveryCase() throws {
        let reference = try loadReference()
        XCTAssertEqual(reference.cases.map(\.name), ["small", "correlated", "relu", "same_distribution"])
        XCTAssertTrue(reference.generator.contains("scipy"))
    }

    func testFrechetDistanceMatchesSciPy() throws {
        for c in try loadReference().cases {
            let (real, generated) = try c.matrices()
            assertRelative(try FrechetDistance.compute(real, generated), c.frechetDistance, 1e-8, "\(c.name) Frechet distance")
            // Symmetric in its arguments.
            assertRelative(try FrechetDistance.compute(generated, real), c.frechetDistance, 1e-8, "\(c.name) Frechet distance, swapped")
        }
    }

    func testKernelDistanceMatchesNumPy() throws {
        for c in try loadReference().cases {
            let (real, generated) = try c.matrices()
            assertRelative(try KernelDistance.unbiasedMMDSquared(real, generated), c.mmd2Full, 1e-9, "\(c.name) MMD^2 on the whole sets")
            let result = try KernelDistance.compute(real, generated, subsets: c.kidSubsets.map { ($0.real, $0.generated) })
            assertRelative(result.mean, c.kidMean, 1e-9, "\(c.name) KID mean")
            assertRelative(result.standardDeviation, c.kidStd, 1e-9, "\(c.name) KID std")
            XCTAssertEqual(result.subsetCount, c.kidSubsets.count)
            XCTAssertEqual(result.subsetSize, c.kidSubsets[0].real.count)
        }
    }

    func testPrecisionRecallDensityCoverageMatchNumPy() throws {
        for c in try loadReference().cases {
            let (real, generated) = try c.matrices()
            let r = try NearestNeighbourMetrics.compute(real: real, generated: generated)
            XCTAssertEqual(r.precision, c.precision, accuracy: 1e-12, "\(c.name) precision")
            XCTAssertEqual(r.recall, c.recall, accuracy: 1e-12, "\(c.name) recall")
            XCTAssertEqual(r.density, c.density, accuracy: 1e-12, "\(c.name) density")
            XCTAssertEqual(r.coverage, c.coverage, accuracy: 1e-12, "\(c.name) coverage")
            XCTAssertEqual(r.precisionRecallNeighbours, 3)
            XCTAssertEqual(r.densityCoverageNeighbours, 5)
        }
    }

    func testSmallBlocksGiveTheSameNeighbours() throws {
        // Distance blocks of 7 rows (many partial blocks) must find the same radii as one big block.
        let c = try loadReference().cases[1]
        let (real, _) = try c.matrices()
        var blocked: [[Double]] = Array(repeating: [], count: real.count)
        DenseAlgebra.forEachDistanceBlock(real, real, blockRows: 7) { start, rows, d in
            for r in 0..<rows {
                var row = Array(d[(r * real.count)..<((r + 1) * real.count)])
                row.remove(at: start + r)
                blocked[start + r] = Array(row.sorted().prefix(5))
            }
        }
        let whole = NearestNeighbourMetrics.nearestNeighbourDistances(real, k: 5)
        for i in 0..<real.count {
            for j in 0..<5 { XCTAssertEqual(whole[i][j], blocked[i][j], accuracy: 1e-9 * max(1, whole[i][j])) }
        }
    }
}
