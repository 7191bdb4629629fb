import XCTest
import SwiftGANTensor

/// Every differentiable op against finite differences, first and second order.
final class GradientTests: XCTestCase {
    var rng = SplitMix64(seed: 7)

    func random(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor.randomNormal(shape: shape, standardDeviation: scale, using: &rng)
    }

    /// Values kept away from zero, for ops with a kink or a pole there.
    func awayFromZero(_ shape: [Int]) -> Tensor {
        random(shape).map { $0 >= 0 ? $0 + 0.2 : $0 - 0.2 }
    }

    func positive(_ shape: [Int]) -> Tensor { random(shape).map { abs($0) + 0.5 } }

    func assertGradients(_ name: String, order: Int = 2, _ inputs: [Tensor], tolerance: Float = 2e-2,
                         file: StaticString = #filePath, line: UInt = #line, _ f: @escaping ([Tensor]) -> Tensor) {
        do {
            try GradientCheck(tolerance: tolerance).check(order: order, at: inputs, f)
        } catch {
            XCTFail("\(name): \(error)", file: file, line: line)
        }
    }

    func testArithmeticWithBroadcasting() {
        for (sa, sb) in [([3, 4], [3, 4]), ([2, 3, 4], [4]), ([2, 1, 4], [3, 1]), ([5], []), ([2, 3, 1, 1], [1, 3, 4, 5])] {
            assertGradients("add \(sa) \(sb)", [random(sa), random(sb)]) { $0[0] + $0[1] }
            assertGradients("sub \(sa) \(sb)", [random(sa), random(sb)]) { $0[0] - $0[1] }
            assertGradients("mul \(sa) \(sb)", [random(sa), random(sb)]) { $0[0] * $0[1] }
            assertGradients("div \(sa) \(sb)", [random(sa), positive(sb)]) { $0[0] / $0[1] }
        }
        assertGradients("neg", [random([3, 2])]) { -$0[0] }
        assertGradients("affine", [random([3, 2])]) { $0[0] * 3 + 1 - 0.5 * $0[0] }
        assertGradients("scalar minus", [random([4])]) { 2 - $0[0] / 4 }
        assertGradients("scalar over tensor", [positive([4])]) { 3 / $0[0] }
    }

    func testElementwiseFunctions() {
        assertGradients("exp", [random([3, 4], scale: 0.5)]) { $0[0].exp() }
        assertGradients("log", [positive([3, 4])]) { $0[0].log() }
        assertGradients("sqrt", [positive([3, 4])]) { $0[0].squareRoot() }
        assertGradients("squared", [random([3, 4])]) { $0[0].squared() }
        assertGradients("tanh", [random([3, 4])]) { $0[0].tanh() }
        assertGradients("sigmoid", [random([3, 4], scale: 2)]) { $0[0].sigmoid() }
        assertGradients("softplus", [random([3, 4], scale: 2)]) { $0[0].softplus() }
        assertGradients("relu", [awayFromZero([3, 4])]) { $0[0].relu() * $0[0] }
        assertGradients("leaky relu", [awayFromZero([3, 4])]) { $0[0].leakyRelu(slope: 0.2) * $0[0] }
        assertGradients("clamped", [awayFromZero([3, 4]) * 2]) { $0[0].clamped(to: -1...1) * $0[0] }
    }

    func testReductionsAndBroadcasts() {
        assertGradients("sum all", [random([3, 4])]) { $0[0].sum() * $0[0].sum() }
        assertGradients("sum axes", [random([2, 3, 4])]) { $0[0].sum(alongAxes: [0, 2]).squared() }
        assertGradients("sum keep", [random([2, 3, 4])]) { $0[0].sum(alongAxes: [1], keepingDimensions: true) * $0[0] }
        assertGradients("mean", [random([2, 3, 4])]) { $0[0].mean(alongAxes: [0, 2, 1]) * $0[0] }
        assertGradients("mean negative axis", [random([2, 3, 4])]) { $0[0].mean(alongAxes: [-1]).squared() }
        assertGradients("expand", [random([3, 1])]) { $0[0].expanded(to: [2, 3, 4]).squared() }
        assertGradients("sum to shape", [random([2, 3, 4])]) { $0[0].sum(toShape: [3, 1]).squared() }
    }

    func testShapeOps() {
        assertGradients("reshape", [random([2, 6])]) { $0[0].reshaped(to: [3, -1]).squared() }
        assertGradients("permute", [random([2, 3, 4])]) { $0[0].permuted([2, 0, 1]) * Tensor(shape: [4, 2, 3], scalars: (0..<24).map(Float.init)) }
        assertGradients("transpose", [random([2, 3])]) { $0[0].transposed().squared() }
        assertGradients("slice", [random([3, 5, 2])]) { $0[0].sliced(alongAxis: 1, 1..<4).squared() }
        assertGradients("pad", [random([3, 2])]) { $0[0].padded(alongAxis: 0, before: 1, after: 2).squared() }
        assertGradients("concatenate", [random([2, 3]), random([2, 1]), random([2, 2])]) {
            Tensor.concatenate($0, alongAxis: 1).squared()
        }
    }

    func testMatmul() {
        for ta in [false, true] { for tb in [false, true] {
            let a = random(ta ? [4, 3] : [3, 4]), b = random(tb ? [5, 4] : [4, 5])
            assertGradients("matmul ta \(ta) tb \(tb)", [a, b]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb).squared() }
        }}
    }

    func testConvolutions() {
        assertGradients("conv2d s1 p1", [random([2, 3, 5, 5]), random([4, 3, 3, 3], scale: 0.3)]) {
            Tensor.convolution($0[0], $0[1], stride: [1, 1], padding: [1, 1]).squared()
        }
        assertGradients("conv2d s2 p1 k4", [random([2, 2, 8, 8]), random([3, 2, 4, 4], scale: 0.3)]) {
            Tensor.convolution($0[0], $0[1], stride: [2, 2], padding: [1, 1]).squared()
        }
        assertGradients("conv1d", [random([2, 2, 9]), random([3, 2, 3], scale: 0.3)]) {
            Tensor.convolution($0[0], $0[1], stride: [2], padding: [0]).tanh()
        }
        assertGradients("conv3d", [random([1, 2, 4, 4, 4]), random([2, 2, 3, 3, 3], scale: 0.3)]) {
            Tensor.convolution($0[0], $0[1], stride: [1, 1, 1], padding: [1, 1, 1]).squared()
        }
        assertGradients("transposed conv2d k4 s2 p1", [random([2, 3, 4, 4]), random([3, 2, 4, 4], scale: 0.3)]) {
            Tensor.transposedConvolution($0[0], $0[1], stride: [2, 2], padding: [1, 1]).squared()
        }
        assertGradients("transposed conv2d output padding", [random([2, 3, 3, 3]), random([3, 2, 3, 3], scale: 0.3)]) {
            Tensor.transposedConvolution($0[0], $0[1], stride: [2, 2], padding: [1, 1], outputPadding: [1, 1]).squared()
        }
        assertGradients("transposed conv3d", [random([1, 2, 2, 2, 2]), random([2, 3, 4, 4, 4], scale: 0.3)]) {
            Tensor.transposedConvolution($0[0], $0[1], stride: [2, 2, 2], padding: [1, 1, 1]).squared()
        }
        assertGradients("transposed conv from 1x1", [random([2, 4, 1, 1]), random([4, 3, 4, 4], scale: 0.3)]) {
            Tensor.transposedConvolution($0[0], $0[1], stride: [1, 1], padding: [0, 0]).squared()
        }
    }

    /// A gradient penalty as R1 uses it: the squared norm of dD/dx, differentiated with respect to the weights.
    func testSecondDerivativeThroughConvolutionMatchesFiniteDifferences() throws {
        let x = random([2, 2, 6, 6])
        let w = random([3, 2, 3, 3], scale: 0.3)
        let penalty: (Tensor) -> Tensor = { weight in
            let input = x.requiringGradient()
            let d = Tensor.convolution(input, weight, stride: [2, 2], padding: [1, 1]).tanh().sum()
            let dx = gradient(of: d, wrt: [input], createGraph: true)[0]
            return dx.squared().sum()
        }
        let tracked = w.requiringGradient()
        let analytic = gradient(of: penalty(tracked), wrt: [tracked])[0]
        XCTAssertGreaterThan(analytic.squared().sum().scalar, 0, "the penalty must depend on the weights")
        // Finite differences along a few coordinates.
        for index in [0, 7, 20, 53] {
            var plus = w, minus = w
            plus.withUnsafeMutableBufferPointer { $0[index] += 1e-2 }
            minus.withUnsafeMutableBufferPointer { $0[index] -= 1e-2 }
            let numeric = (penalty(plus).scalar - penalty(minus).scalar) / 2e-2
            XCTAssertEqual(analytic.scalars[index], numeric, accuracy: 2e-2 * max(1, abs(numeric)), "weight \(index)")
        }
    }
}

final class GradientCheckSelfTests: XCTestCase {
    /// The checker must catch a wrong gradient: `detached` hides half of the derivative of `x * x`.
    func testCheckerRejectsAWrongGradient() {
        var rng = SplitMix64(seed: 1)
        let x = Tensor.randomNormal(shape: [4], using: &rng)
        XCTAssertThrowsError(try GradientCheck().check(order: 1, at: [x]) { $0[0] * $0[0].detached })
        XCTAssertNoThrow(try GradientCheck().check(order: 1, at: [x]) { $0[0] * $0[0] })
    }

    /// Second order is checked too: `x * d^2 - (2/3) x^3` with `d` a detached copy of `x` has the value `x^3 / 3`
    /// and the right first derivative `x^2`, but its recorded gradient is constant, so its second derivative is wrong.
    func testCheckerRejectsAWrongSecondDerivative() {
        var rng = SplitMix64(seed: 2)
        let x = Tensor.randomNormal(shape: [4], using: &rng)
        let f: ([Tensor]) -> Tensor = { xs in
            let x = xs[0]
            return x * x.detached * x.detached - (x.squared() * x * (2 / 3)).detached
        }
        XCTAssertNoThrow(try GradientCheck().check(order: 1, at: [x], f))
        XCTAssertThrowsError(try GradientCheck().check(order: 2, at: [x], f))
    }
}

/// The fused batch-normalization kernels against the same computation written with ordinary ops.
final class BatchNormalizationKernelTests: XCTestCase {
    func testFusedForwardAndBackwardMatchTheReference() {
        var rng = SplitMix64(seed: 11)
        for shape in [[4, 3], [3, 5, 4, 4], [2, 2, 3, 2, 2], [64, 8, 4, 4]] {
            let c = shape[1]
            let x = Tensor.randomNormal(shape: shape, mean: 2, standardDeviation: 3, using: &rng).requiringGradient()
            let gamma = Tensor.randomNormal(shape: [c], mean: 1, standardDeviation: 0.3, using: &rng).requiringGradient()
            let beta = Tensor.randomNormal(shape: [c], using: &rng).requiringGradient()
            let seed = Tensor.randomNormal(shape: shape, using: &rng)
            let fused = x.batchNormalized(scale: gamma, shift: beta, epsilon: 1e-5)
            let reference = x.batchNormalizedReference(scale: gamma, shift: beta, epsilon: 1e-5)
            assertClose(fused.output.scalars, reference.scalars, "forward \(shape)")
            let fusedGrads = gradient(of: fused.output, wrt: [x, gamma, beta], seed: seed)
            let referenceGrads = gradient(of: reference, wrt: [x, gamma, beta], seed: seed)
            for (k, name) in ["input", "scale", "shift"].enumerated() {
                assertClose(fusedGrads[k].scalars, referenceGrads[k].scalars, "\(name) gradient \(shape)")
            }
            // Batch statistics as returned.
            let axes = [0] + Array(2..<shape.count)
            assertClose(fused.mean.scalars, x.detached.mean(alongAxes: axes).scalars, "mean \(shape)")
        }
    }

    func testFusedBatchNormFirstAndSecondOrder() throws {
        var rng = SplitMix64(seed: 12)
        let x = Tensor.randomNormal(shape: [3, 2, 2, 2], using: &rng)
        let gamma = Tensor.randomNormal(shape: [2], mean: 1, standardDeviation: 0.3, using: &rng)
        let beta = Tensor.randomNormal(shape: [2], using: &rng)
        try GradientCheck(tolerance: 3e-2).check(order: 2, at: [x, gamma, beta]) {
            $0[0].batchNormalized(scale: $0[1], shift: $0[2], epsilon: 1e-5).output.tanh()
        }
    }

    /// Batch normalization fused with the leaky ReLU after it: against the two ops one after the other, and against
    /// finite differences to first and second order (values kept away from the kink at 0).
    func testFusedBatchNormThenLeakyRelu() throws {
        var rng = SplitMix64(seed: 13)
        let x = Tensor.randomNormal(shape: [3, 2, 2, 2], using: &rng)
        let gamma = Tensor.randomNormal(shape: [2], mean: 1, standardDeviation: 0.3, using: &rng)
        let beta = Tensor.randomNormal(shape: [2], using: &rng)
        for slope: Float in [0, 0.2] {
            let fused = x.batchNormalizedThenLeakyRelu(scale: gamma, shift: beta, epsilon: 1e-5, slope: slope)
            let separate = x.batchNormalized(scale: gamma, shift: beta, epsilon: 1e-5)
            assertClose(fused.output.scalars, separate.output.leakyRelu(slope: slope).scalars, "output, slope \(slope)")
            assertClose(fused.mean.scalars, separate.mean.scalars, "mean")
            let seed = Tensor.randomNormal(shape: x.shape, using: &rng)
            let params = [x, gamma, beta].map { $0.requiringGradient() }
            let fusedGrads = gradient(of: params[0].batchNormalizedThenLeakyRelu(scale: params[1], shift: params[2], epsilon: 1e-5,
                                                                                slope: slope).output, wrt: params, seed: seed)
            let separateGrads = gradient(of: params[0].batchNormalized(scale: params[1], shift: params[2], epsilon: 1e-5).output
                                            .leakyRelu(slope: slope), wrt: params, seed: seed)
            for i in 0..<3 { assertClose(fusedGrads[i].scalars, separateGrads[i].scalars, "gradient \(i), slope \(slope)") }
        }
        try GradientCheck(tolerance: 3e-2).check(order: 2, at: [x, gamma, beta]) {
            $0[0].batchNormalizedThenLeakyRelu(scale: $0[1], shift: $0[2], epsilon: 1e-5, slope: 0.2).output.tanh()
        }
    }

    func assertClose(_ a: [Float], _ b: [Float], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThan(worst, 1e-4, "\(message): worst relative difference \(worst)", file: file, line: line)
    }
}

final class IndexingTests: XCTestCase {
    func testGatherValuesAndGradients() throws {
        let table = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(table.gathering(rows: [2, 0, 2]).scalars, [5, 6, 1, 2, 5, 6])
        // Repeated rows accumulate their gradients.
        let tracked = table.requiringGradient()
        let g = gradient(of: tracked.gathering(rows: [2, 0, 2]).sum(), wrt: [tracked])[0]
        XCTAssertEqual(g.scalars, [1, 1, 0, 0, 2, 2])
        var rng = SplitMix64(seed: 3)
        let x = Tensor.randomNormal(shape: [4, 3], using: &rng)
        try GradientCheck().check(order: 2, at: [x]) { $0[0].gathering(rows: [3, 1, 1, 0]).squared() }
        let rows = Tensor.randomNormal(shape: [4, 3], using: &rng)
        try GradientCheck().check(order: 2, at: [rows]) { $0[0].scatterAdding(rows: [2, 2, 0, 1], rowCount: 5).squared() }
    }
}
