import XCTest
import SwiftGANNN

final class ConditioningTests: XCTestCase {
    /// The largest singular value by many power-iteration steps (the test's own yardstick).
    func largestSingularValue(_ w: Tensor) -> Float {
        let m = w.reshaped(to: [w.shape[0], -1])
        var v = Tensor.ones([m.shape[1], 1])
        for _ in 0..<500 {
            v = Tensor.matmul(m, Tensor.matmul(m, v), transposeA: true)
            v = v / v.squared().sum().scalar.squareRoot()
        }
        return Tensor.matmul(m, v).squared().sum().scalar.squareRoot()
    }

    func testSpectralNormalizationBringsTheLargestSingularValueToOne() {
        var rng = SplitMix64(seed: 1)
        let conv = Convolution(inputChannels: 3, outputChannels: 6, kernelSize: 3, spectralNormalization: true,
                               initializer: .normal(mean: 0, standardDeviation: 1), using: &rng)
        XCTAssertGreaterThan(largestSingularValue(conv.weight.value), 1.2, "the raw weight is not already normalized")
        let x = Tensor.randomNormal(shape: [2, 3, 5, 5], using: &rng)
        for _ in 0..<30 { _ = conv(x) }  // power iteration converges over training calls
        let normalized = conv.spectralNorm!(conv.weight.value.detached)
        XCTAssertEqual(largestSingularValue(normalized), 1, accuracy: 0.02)
        XCTAssertTrue(conv.namedParameters().map { $0.name }.contains("spectralNorm.u"), "u is saved with the model")
        XCTAssertTrue(conv.namedParameters().map { $0.name }.contains("spectralNorm.v"), "v is saved with the model")
        XCTAssertFalse(conv.namedTrainableParameters().map { $0.name }.contains("spectralNorm.u"))
        // Evaluation leaves u unchanged.
        conv.setTraining(false)
        let before = conv.spectralNorm!.u.value.scalars
        _ = conv(x)
        XCTAssertEqual(conv.spectralNorm!.u.value.scalars, before)
    }

    func testSpectralNormalizationGradients() throws {
        var rng = SplitMix64(seed: 2)
        let linear = Linear(inputSize: 4, outputSize: 3, spectralNormalization: true, using: &rng)
        let x = Tensor.randomNormal(shape: [5, 4], using: &rng)
        for _ in 0..<5 { _ = linear(x) }
        linear.setTraining(false)  // fixed u, so finite differences see one function
        try GradientCheck().check(order: 2, at: [x, linear.weight.value.detached]) { xs in
            linear.weight.value = xs[1]
            return linear(xs[0]).tanh()
        }
    }

    func testConditionalBatchNormUsesEachSamplesClass() throws {
        var rng = SplitMix64(seed: 3)
        let norm = ConditionalBatchNorm(featureCount: 2, classCount: 3, using: &rng)
        norm.scale.weight.value = Tensor(shape: [3, 2], scalars: [1, 1, 2, 2, -1, 3])
        norm.shift.weight.value = Tensor(shape: [3, 2], scalars: [0, 0, 5, 5, 0, 1])
        let x = Tensor.randomNormal(shape: [4, 2, 3, 3], using: &rng)
        let labels = [0, 1, 2, 1]
        let y = norm(x, labels: labels)
        let plain = x.batchNormalizedReference(scale: Tensor.ones([2]), shift: Tensor.zeros([2]), epsilon: 1e-5)
        // Sample 1 (class 1): 2 * x_hat + 5 on both channels; sample 2 (class 2): channel 1 is 3 * x_hat + 1.
        let i = 1 * 18 + 4, j = 2 * 18 + 9 + 2
        XCTAssertEqual(y.scalars[i], 2 * plain.scalars[i] + 5, accuracy: 1e-4)
        XCTAssertEqual(y.scalars[j], 3 * plain.scalars[j] + 1, accuracy: 1e-4)
        let scale = norm.scale.weight.value.detached, shift = norm.shift.weight.value.detached
        try GradientCheck(tolerance: 3e-2).check(order: 2, at: [x, scale, shift]) { xs in
            norm.scale.weight.value = xs[1]
            norm.shift.weight.value = xs[2]
            return norm(xs[0], labels: labels).tanh()
        }
    }

    func testHingeLosses() {
        let real = Tensor(shape: [3], scalars: [2, 0.5, -1])
        let fake = Tensor(shape: [2], scalars: [-3, 0])
        // relu(1 - real) = [0, 0.5, 2] -> mean 5/6; relu(1 + fake) = [0, 1] -> mean 0.5.
        XCTAssertEqual(hingeDiscriminatorLoss(realLogits: real, fakeLogits: fake).scalar, 5.0 / 6 + 0.5, accuracy: 1e-6)
        XCTAssertEqual(hingeGeneratorLoss(fakeLogits: fake).scalar, 1.5, accuracy: 1e-6)
    }
}
