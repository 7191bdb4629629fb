import XCTest
@testable import SwiftGANNN

/// The one-pass evaluation-mode batch normalization (with its ReLU) against the differentiable op-by-op path.
final class EvaluationFusionTests: XCTestCase {
    func testChannelAffineMatchesAPlainLoop() {
        var rng = SplitMix64(seed: 4)
        // A small tensor (one chunk) and one over 2^20 values (split over the cores), odd sizes.
        for shape in [[3, 5, 7], [9, 13, 97, 97]] {
            let x = Tensor.randomNormal(shape: shape, using: &rng)
            let c = shape[1], spatial = shape[2...].reduce(1, *)
            let scale = (0..<c).map { Float($0) * 0.3 - 1 }, shift = (0..<c).map { Float($0) * -0.1 + 0.2 }
            for relu in [false, true] {
                let y = x.channelAffine(scale: scale, shift: shift, relu: relu).scalars
                let xs = x.scalars
                var worst: Float = 0
                for i in xs.indices {
                    let ch = (i / spatial) % c
                    var expected = xs[i] * scale[ch] + shift[ch]
                    if relu { expected = max(expected, 0) }
                    worst = max(worst, abs(y[i] - expected))
                }
                XCTAssertEqual(worst, 0, "\(shape) relu \(relu)")
            }
        }
    }

    func testEvaluationBatchNormFusedPathEqualsTheDifferentiablePath() {
        var rng = SplitMix64(seed: 8)
        let norm = BatchNorm(featureCount: 6, weightInitializer: .normal(mean: 1, standardDeviation: 0.5), using: &rng)
        norm.bias.value = Tensor.randomNormal(shape: [6], using: &rng)
        norm.runningMean.value = Tensor.randomNormal(shape: [6], using: &rng)
        norm.runningVariance.value = Tensor.randomUniform(shape: [6], lowerBound: 0.2, upperBound: 3, using: &rng)
        norm.isTraining = false
        let x = Tensor.randomNormal(shape: [4, 6, 5, 3], using: &rng)
        let recorded = norm(x), recordedReLU = norm.normalizedThenReLU(x)
        let fused = GradientRecording.withoutRecording { norm(x) }
        let fusedReLU = GradientRecording.withoutRecording { norm.normalizedThenReLU(x) }
        for (a, b) in [(recorded, fused), (recordedReLU, fusedReLU)] {
            XCTAssertEqual(a.shape, b.shape)
            let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThan(worst, 1e-5)
        }
        XCTAssertTrue(fusedReLU.scalars.allSatisfy { $0 >= 0 })
        XCTAssertTrue(recordedReLU.scalars.contains { $0 == 0 } && recordedReLU.scalars.contains { $0 > 0 })
        // In training mode the fused path is not taken: batch statistics are used.
        norm.isTraining = true
        let training = GradientRecording.withoutRecording { norm.normalizedThenReLU(x) }
        XCTAssertGreaterThan(zip(training.scalars, fusedReLU.scalars).map { abs($0 - $1) }.max() ?? 0, 1e-3)
    }
}
