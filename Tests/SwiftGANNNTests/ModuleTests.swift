import XCTest
import SwiftGANNN

final class Block: Module {
    let conv: Convolution
    let norm: BatchNorm
    let _scratch = Parameter(Tensor.zeros([1]))  // skipped: leading underscore
    init(_ rng: inout SplitMix64) {
        conv = Convolution(inputChannels: 2, outputChannels: 3, kernelSize: 3, padding: 1, using: &rng)
        norm = BatchNorm(featureCount: 3, using: &rng)
    }
}

final class Net: Module {
    let blocks: [Block]
    let head: Linear?
    init(_ rng: inout SplitMix64) {
        blocks = [Block(&rng), Block(&rng)]
        head = Linear(inputSize: 4, outputSize: 1, using: &rng)
    }
}

final class ModuleTests: XCTestCase {
    func testParametersAreFoundWithStableDottedNames() {
        var rng = SplitMix64(seed: 1)
        let net = Net(&rng)
        XCTAssertEqual(net.namedParameters().map { $0.name }, [
            "blocks.0.conv.weight", "blocks.0.conv.bias", "blocks.0.norm.weight", "blocks.0.norm.bias",
            "blocks.0.norm.runningMean", "blocks.0.norm.runningVariance",
            "blocks.1.conv.weight", "blocks.1.conv.bias", "blocks.1.norm.weight", "blocks.1.norm.bias",
            "blocks.1.norm.runningMean", "blocks.1.norm.runningVariance",
            "head.weight", "head.bias",
        ])
        XCTAssertEqual(net.namedTrainableParameters().count, 10)
        XCTAssertEqual(net.trainableScalarCount, 2 * (3 * 2 * 9 + 3 + 3 + 3) + 4 + 1)
    }

    func testStateDictionaryRoundTripAndMismatchReport() throws {
        var rng = SplitMix64(seed: 1)
        let a = Net(&rng), b = Net(&rng)
        XCTAssertNotEqual(a.blocks[0].conv.weight.value.scalars, b.blocks[0].conv.weight.value.scalars)
        try b.load(stateDictionary: a.stateDictionary())
        XCTAssertEqual(a.blocks[0].conv.weight.value.scalars, b.blocks[0].conv.weight.value.scalars)
        XCTAssertTrue(b.blocks[0].conv.weight.value.isTrackingGradient, "loaded trainable values stay differentiable")

        var state = a.stateDictionary()
        state["head.weight"] = Tensor.zeros([2, 4])
        state["extra"] = Tensor.zeros([1])
        state["blocks.1.conv.bias"] = nil
        XCTAssertThrowsError(try b.load(stateDictionary: state)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("head.weight has shape [2, 4], the model needs [1, 4]"), text)
            XCTAssertTrue(text.contains("unexpected extra"), text)
            XCTAssertTrue(text.contains("missing blocks.1.conv.bias"), text)
        }
    }

    func testBatchNormTrainingAndEvaluation() {
        var rng = SplitMix64(seed: 3)
        let norm = BatchNorm(featureCount: 2, using: &rng)
        let x = Tensor.randomNormal(shape: [4, 2, 3, 3], mean: 5, standardDeviation: 3, using: &rng)
        let y = norm(x)
        // Per-channel mean 0 and variance 1 in training.
        let mean = y.mean(alongAxes: [0, 2, 3])
        let variance = y.squared().mean(alongAxes: [0, 2, 3])
        for c in 0..<2 {
            XCTAssertEqual(mean.scalars[c], 0, accuracy: 1e-4)
            XCTAssertEqual(variance.scalars[c], 1, accuracy: 1e-3)
        }
        // Running statistics moved 10% of the way to the batch statistics (unbiased variance).
        let batchMean = x.mean(alongAxes: [0, 2, 3]).scalars
        XCTAssertEqual(norm.runningMean.value.scalars[0], 0.1 * batchMean[0], accuracy: 1e-4)
        let centered = x - x.mean(alongAxes: [0, 2, 3], keepingDimensions: true)
        let unbiased = centered.squared().sum(alongAxes: [0, 2, 3]).scalars[1] / 35
        XCTAssertEqual(norm.runningVariance.value.scalars[1], 0.9 + 0.1 * unbiased, accuracy: 1e-3)
        // Evaluation uses the running statistics.
        norm.setTraining(false)
        let z = norm(x)
        let expected = (x.scalars[0] - norm.runningMean.value.scalars[0]) / (norm.runningVariance.value.scalars[0] + 1e-5).squareRoot()
        XCTAssertEqual(z.scalars[0], expected, accuracy: 1e-4)
    }

    func testBatchNormGradientsFirstAndSecondOrder() throws {
        var rng = SplitMix64(seed: 4)
        let norm = BatchNorm(featureCount: 3, weightInitializer: .normal(mean: 1, standardDeviation: 0.3), using: &rng)
        let x = Tensor.randomNormal(shape: [3, 3, 2, 2], using: &rng)
        let gamma = norm.weight.value.detached, beta = Tensor.randomNormal(shape: [3], using: &rng)
        try GradientCheck(tolerance: 3e-2).check(order: 2, at: [x, gamma, beta]) { xs in
            norm.weight.value = xs[1]
            norm.bias.value = xs[2]
            return norm(xs[0]).tanh()
        }
    }

    func testLayersGradients() throws {
        var rng = SplitMix64(seed: 5)
        let linear = Linear(inputSize: 3, outputSize: 2, using: &rng)
        let x = Tensor.randomNormal(shape: [4, 3], using: &rng)
        try GradientCheck().check(order: 2, at: [x, linear.weight.value.detached]) { xs in
            linear.weight.value = xs[1]
            return linear(xs[0]).tanh()
        }
        let deconv = TransposedConvolution(inputChannels: 2, outputChannels: 3, kernelSize: 4, stride: 2, padding: 1, using: &rng)
        let z = Tensor.randomNormal(shape: [2, 2, 3, 3], using: &rng)
        try GradientCheck().check(order: 2, at: [z]) { deconv($0[0]).tanh() }
        XCTAssertEqual(deconv(z).shape, [2, 3, 6, 6])
    }

    func testBinaryCrossEntropyIsStableAndCorrect() throws {
        let logits = Tensor(shape: [4], scalars: [-1000, -2, 3, 1000])
        let ones = binaryCrossEntropy(logits: logits, label: 1).scalar
        XCTAssertEqual(ones, (1000 + Float(log1p(exp(2.0))) + Float(log1p(exp(-3.0))) + 0) / 4, accuracy: 1e-3)
        XCTAssertTrue(binaryCrossEntropy(logits: logits, label: 0).scalar.isFinite)
        let targets = Tensor(shape: [4], scalars: [0, 1, 0.5, 1])
        let general = binaryCrossEntropy(logits: logits, targets: targets).scalar
        XCTAssertEqual(general, (0 + Float(log1p(exp(2.0))) + (3 + Float(log1p(exp(-3.0))) - 1.5) + 0) / 4, accuracy: 1e-3)
        var rng = SplitMix64(seed: 6)
        let x = Tensor.randomNormal(shape: [5], standardDeviation: 3, using: &rng)
        try GradientCheck().check(order: 2, at: [x]) { binaryCrossEntropy(logits: $0[0], targets: targets.sliced(alongAxis: 0, 0..<1).expanded(to: [5])) }
        let g = gradient(of: binaryCrossEntropy(logits: logits.requiringGradient(), label: 1), wrt: [logits.requiringGradient()])
        XCTAssertEqual(g.count, 1)
    }

    /// 37 values: two 16-wide vector chunks and 5 left over, against the update rule written out per element in
    /// Double; three steps so the moments matter.
    func testAdamVectorAndTailElementsFollowTheRule() {
        let count = 37
        let start = (0..<count).map { Float($0 % 7) * 0.25 - 0.7 }
        let p = Parameter(Tensor(shape: [count], scalars: start))
        let (lr, b1, b2, eps) = (0.01, 0.5, 0.999, 1e-8)
        let adam = Adam(parameters: [("p", p)], learningRate: Float(lr), beta1: Float(b1), beta2: Float(b2), epsilon: Float(eps))
        var w = start.map(Double.init), m = [Double](repeating: 0, count: count), v = m
        for step in 1...3 {
            let g = (0..<count).map { Double(Float(($0 * 5 + step * 3) % 11) * 0.1 - 0.5) }
            adam.update(gradients: [Tensor(shape: [count], scalars: g.map(Float.init))])
            for k in 0..<count {
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                let mHat = m[k] / (1 - pow(b1, Double(step))), vHat = v[k] / (1 - pow(b2, Double(step)))
                w[k] -= lr * mHat / (vHat.squareRoot() + eps)
            }
            for k in 0..<count {
                XCTAssertEqual(Double(p.value.scalars[k]), w[k], accuracy: 1e-5, "step \(step), element \(k)")
            }
        }
    }

    func testAdamMatchesTheUpdateRuleAndRestoresState() throws {
        let p = Parameter(Tensor(shape: [2], scalars: [1, -1]))
        let adam = Adam(parameters: [("p", p)], learningRate: 0.1, beta1: 0.9, beta2: 0.999)
        adam.update(gradients: [Tensor(shape: [2], scalars: [0.5, -2])])
        // First step of Adam moves each value by lr * sign(g) (bias-corrected m / sqrt(v) = g / |g|).
        XCTAssertEqual(p.value.scalars[0], 0.9, accuracy: 1e-5)
        XCTAssertEqual(p.value.scalars[1], -0.9, accuracy: 1e-5)
        let saved = adam.stateDictionary()
        adam.update(gradients: [Tensor(shape: [2], scalars: [1, 1])])
        let afterTwo = p.value.scalars
        let q = Parameter(Tensor(shape: [2], scalars: [0.9, -0.9]))
        let other = Adam(parameters: [("p", q)], learningRate: 0.1, beta1: 0.9, beta2: 0.999)
        try other.load(stateDictionary: saved)
        other.update(gradients: [Tensor(shape: [2], scalars: [1, 1])])
        XCTAssertEqual(q.value.scalars, afterTwo)
        XCTAssertThrowsError(try other.load(stateDictionary: ["step": Tensor(1)]))
    }
}
