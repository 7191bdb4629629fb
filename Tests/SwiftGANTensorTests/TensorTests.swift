import XCTest
import SwiftGANTensor

final class TensorTests: XCTestCase {
    func testCopyOnWriteKeepsValueSemantics() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
        var b = a
        XCTAssertTrue(a.sharesStorage(with: b))
        b.withUnsafeMutableBufferPointer { $0[0] = 10 }
        XCTAssertFalse(a.sharesStorage(with: b))
        XCTAssertEqual(a.scalars, [1, 2, 3, 4])
        XCTAssertEqual(b.scalars, [10, 2, 3, 4])
    }

    func testBroadcastValues() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let col = Tensor(shape: [2, 1], scalars: [10, 20])
        XCTAssertEqual((a + col).scalars, [11, 12, 13, 24, 25, 26])
        XCTAssertEqual((a * Tensor(shape: [3], scalars: [1, 0, -1])).scalars, [1, 0, -3, 4, 0, -6])
        XCTAssertEqual((Tensor(3) - a).scalars, [2, 1, 0, -1, -2, -3])
    }

    func testReductionsAndShapes() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(a.sum().scalar, 21)
        XCTAssertEqual(a.sum(alongAxes: [0]).scalars, [5, 7, 9])
        XCTAssertEqual(a.sum(alongAxes: [1], keepingDimensions: true).shape, [2, 1])
        XCTAssertEqual(a.mean(alongAxes: [1]).scalars, [2, 5])
        XCTAssertEqual(a.transposed().scalars, [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(a.sliced(alongAxis: 1, 1..<3).scalars, [2, 3, 5, 6])
        XCTAssertEqual(Tensor.concatenate([a, a.sliced(alongAxis: 1, 0..<1)], alongAxis: 1).scalars, [1, 2, 3, 1, 4, 5, 6, 4])
        XCTAssertEqual(a.reshaped(to: [3, -1]).shape, [3, 2])
        XCTAssertEqual(a.padded(alongAxis: 0, before: 1, after: 0).scalars, [0, 0, 0, 1, 2, 3, 4, 5, 6])
        let x = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
        let p = x.permuted([2, 0, 1])
        XCTAssertEqual(p.shape, [4, 2, 3])
        XCTAssertEqual(p.scalars[0..<6].map { $0 }, [0, 4, 8, 12, 16, 20])
    }

    func testMatmulValues() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 1], scalars: [1, 0, -1])
        XCTAssertEqual(Tensor.matmul(a, b).scalars, [-2, -2])
        XCTAssertEqual(Tensor.matmul(a, a, transposeB: true).scalars, [14, 32, 32, 77])
    }

    func testStableFunctionsAtExtremes() {
        let x = Tensor(shape: [4], scalars: [-1000, -30, 30, 1000])
        XCTAssertEqual(x.softplus().scalars[3], 1000)
        XCTAssertEqual(x.softplus().scalars[0], 0)
        XCTAssertTrue(x.sigmoid().scalars.allSatisfy { $0.isFinite })
        XCTAssertEqual(x.sigmoid().scalars[0], 0, accuracy: 1e-12)
        XCTAssertEqual(x.sigmoid().scalars[3], 1)
    }

    func testRandomIsSeededAndHasTheRightMoments() {
        var r1 = SplitMix64(seed: 5), r2 = SplitMix64(seed: 5)
        let a = Tensor.randomNormal(shape: [10001], mean: 1, standardDeviation: 2, using: &r1)
        let b = Tensor.randomNormal(shape: [10001], mean: 1, standardDeviation: 2, using: &r2)
        XCTAssertEqual(a.scalars, b.scalars)
        XCTAssertEqual(a.mean().scalar, 1, accuracy: 0.1)
        XCTAssertEqual((a - 1).squared().mean().scalar.squareRoot(), 2, accuracy: 0.1)
        let u = Tensor.randomUniform(shape: [10000], lowerBound: -1, upperBound: 3, using: &r1)
        XCTAssertGreaterThanOrEqual(u.scalars.min()!, -1)
        XCTAssertLessThan(u.scalars.max()!, 3)
        XCTAssertEqual(u.mean().scalar, 1, accuracy: 0.1)
    }

    func testGradientOfUnusedInputIsZeroAndDetachStopsGradients() {
        let x = Tensor(shape: [2], scalars: [1, 2]).requiringGradient()
        let y = Tensor(shape: [2], scalars: [3, 4]).requiringGradient()
        let g = gradient(of: (x * x.detached).sum(), wrt: [x, y])
        XCTAssertEqual(g[0].scalars, [1, 2])
        XCTAssertEqual(g[1].scalars, [0, 0])
    }

    func testGradientAccumulatesOverSharedUse() {
        let x = Tensor(shape: [1], scalars: [3]).requiringGradient()
        let y = x * x * x  // 3x^2 = 27
        let dx = gradient(of: y.sum(), wrt: [x], createGraph: true)[0]
        XCTAssertEqual(dx.scalar, 27, accuracy: 1e-4)
        let ddx = gradient(of: dx.sum(), wrt: [x])[0]  // 6x = 18
        XCTAssertEqual(ddx.scalar, 18, accuracy: 1e-4)
    }
}
