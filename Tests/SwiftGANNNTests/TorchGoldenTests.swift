import Foundation
import XCTest
import SwiftGANNN

/// Compares SwiftGAN's ops, layers, losses and optimizer with values computed by PyTorch (float32, CPU).
///
/// The fixture `Fixtures/torch_golden.json` is written by `scripts/fixtures/make_torch_golden.py`, which stores the
/// inputs it draws next to PyTorch's results, so this test needs no PyTorch. Each test quotes the PyTorch call that
/// produced its expected values. Gradients are of `sum(y * r)` with a stored random `r`, so `dL/dy = r`.
///
/// An element passes when `|actual - expected| <= tolerance * max(|expected|, 1e-2 * max|expected|)`: relative,
/// except for elements far below the tensor's scale (sums of products that nearly cancel), which are held to the
/// tensor's scale instead.
final class TorchGoldenTests: XCTestCase {
    struct Entry: Decodable {
        let shape: [Int]
        let values: [Float]
    }

    struct Fixture: Decodable {
        let tensors: [String: Entry]
    }

    static let fixture: [String: Entry] = {
        let url = Bundle.module.url(forResource: "torch_golden", withExtension: "json", subdirectory: "Fixtures")
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures").appendingPathComponent("torch_golden.json")
        do {
            return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url)).tensors
        } catch {
            XCTFail("cannot read \(url.path): \(error)")
            return [:]
        }
    }()

    /// The stored tensor `name` (for example `conv_k4s2p1.x`).
    func golden(_ name: String, file: StaticString = #filePath, line: UInt = #line) -> Tensor {
        guard let e = Self.fixture[name] else {
            XCTFail("torch_golden.json has no tensor \(name)", file: file, line: line)
            return Tensor(0)
        }
        return Tensor(shape: e.shape, scalars: e.values)
    }

    /// Checks `actual` against the stored tensor `name`; returns the largest error in units of the tolerance's scale.
    @discardableResult
    func assertMatches(_ actual: Tensor, _ name: String, tolerance: Float = 1e-4,
                       file: StaticString = #filePath, line: UInt = #line) -> Float {
        let expected = golden(name, file: file, line: line)
        guard actual.shape == expected.shape else {
            XCTFail("\(name): shape \(actual.shape), PyTorch gives \(expected.shape)", file: file, line: line)
            return .infinity
        }
        let a = actual.scalars, e = expected.scalars
        let floor = 1e-2 * (e.map { abs($0) }.max() ?? 0)
        var worst: Float = 0, worstIndex = 0, maxAbs: Float = 0
        for i in 0..<e.count {
            let diff = abs(a[i] - e[i])
            guard diff.isFinite else { worst = .infinity; worstIndex = i; break }
            maxAbs = max(maxAbs, diff)
            let err = diff / max(abs(e[i]), floor, .leastNormalMagnitude)
            if err > worst { worst = err; worstIndex = i }
        }
        print("golden \(name): max scaled error \(worst), max abs error \(maxAbs)")
        if !(worst <= tolerance) {
            XCTFail("\(name): element \(worstIndex) is \(a[worstIndex]), PyTorch gives \(e[worstIndex]) "
                    + "(scaled error \(worst) > \(tolerance))", file: file, line: line)
        }
        return worst
    }

    // MARK: - Convolutions

    /// `sum(y * r)` and its gradients for `y = conv2d(x, w)` without bias.
    func checkConvolution(_ c: String, stride: Int, padding: Int) {
        let x = golden("\(c).x").requiringGradient(), w = golden("\(c).w").requiringGradient()
        let y = Tensor.convolution(x, w, stride: [stride, stride], padding: [padding, padding])
        assertMatches(y, "\(c).y")
        let g = gradient(of: (y * golden("\(c).r")).sum(), wrt: [x, w])
        assertMatches(g[0], "\(c).dx")
        assertMatches(g[1], "\(c).dw")
    }

    func testConvolutionKernel4Stride2Padding1() {
        // y = F.conv2d(x, w, stride=2, padding=1), x [2,3,8,6], w [5,3,4,4];
        // dx, dw = torch.autograd.grad((y * r).sum(), [x, w])
        checkConvolution("conv_k4s2p1", stride: 2, padding: 1)
    }

    func testConvolutionKernel3Stride1Padding1() {
        // y = F.conv2d(x, w, stride=1, padding=1), x [2,3,6,5], w [4,3,3,3];
        // dx, dw = torch.autograd.grad((y * r).sum(), [x, w])
        checkConvolution("conv_k3s1p1", stride: 1, padding: 1)
    }

    /// `sum(y * r)` and its gradients for `y = conv_transpose2d(x, w)` without bias.
    func checkTransposedConvolution(_ c: String, stride: Int, padding: Int, outputPadding: Int) {
        let x = golden("\(c).x").requiringGradient(), w = golden("\(c).w").requiringGradient()
        let y = Tensor.transposedConvolution(x, w, stride: [stride, stride], padding: [padding, padding],
                                             outputPadding: [outputPadding, outputPadding])
        assertMatches(y, "\(c).y")
        let g = gradient(of: (y * golden("\(c).r")).sum(), wrt: [x, w])
        assertMatches(g[0], "\(c).dx")
        assertMatches(g[1], "\(c).dw")
    }

    func testTransposedConvolutionKernel4Stride2Padding1() {
        // y = F.conv_transpose2d(x, w, stride=2, padding=1), x [2,4,3,4], w [4,3,4,4] -> y [2,3,6,8];
        // dx, dw = torch.autograd.grad((y * r).sum(), [x, w])
        checkTransposedConvolution("convT_k4s2p1", stride: 2, padding: 1, outputPadding: 0)
    }

    func testTransposedConvolutionFromOneByOne() {
        // DCGAN's first generator layer: y = F.conv_transpose2d(x, w, stride=1, padding=0),
        // x [2,4,1,1], w [4,6,4,4] -> y [2,6,4,4]; dx, dw = torch.autograd.grad((y * r).sum(), [x, w])
        checkTransposedConvolution("convT_k4s1p0", stride: 1, padding: 0, outputPadding: 0)
    }

    func testTransposedConvolutionWithOutputPadding() {
        // y = F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), x [2,3,4,3], w [3,2,3,3] -> y [2,2,8,6];
        // dx, dw = torch.autograd.grad((y * r).sum(), [x, w])
        checkTransposedConvolution("convT_k3s2p1op1", stride: 2, padding: 1, outputPadding: 1)
    }

    // MARK: - Second order

    func testGradientPenaltyAndItsWeightGradient() {
        // out = torch.tanh(F.conv2d(x, w, stride=2, padding=1)).sum(), x [2,3,8,7], w [4,3,4,4]
        // (gx,) = torch.autograd.grad(out, [x], create_graph=True)
        // penalty = gx.pow(2).sum(); (dpdw,) = torch.autograd.grad(penalty, [w])
        let x = golden("r1.x").requiringGradient(), w = golden("r1.w").requiringGradient()
        let out = Tensor.convolution(x, w, stride: [2, 2], padding: [1, 1]).tanh().sum()
        let gx = gradient(of: out, wrt: [x], createGraph: true)[0]
        assertMatches(gx, "r1.gx")
        let penalty = (gx * gx).sum()
        assertMatches(penalty, "r1.penalty")
        assertMatches(gradient(of: penalty, wrt: [w])[0], "r1.dpdw")
    }

    // MARK: - Batch normalization

    func checkBatchNorm(_ c: String) {
        var rng = SplitMix64(seed: 1)
        let channels = golden("\(c).weight").scalarCount
        let norm = BatchNorm(featureCount: channels, momentum: 0.1, epsilon: 1e-5, using: &rng)
        norm.weight.value = golden("\(c).weight")
        norm.bias.value = golden("\(c).bias")
        norm.runningMean.value = golden("\(c).running_mean0")
        norm.runningVariance.value = golden("\(c).running_var0")
        let x = golden("\(c).x").requiringGradient()
        let y = norm(x)
        assertMatches(y, "\(c).y")
        let g = gradient(of: (y * golden("\(c).r")).sum(), wrt: [x, norm.weight.value, norm.bias.value])
        assertMatches(g[0], "\(c).dx")
        assertMatches(g[1], "\(c).dweight")
        assertMatches(g[2], "\(c).dbias")
        assertMatches(norm.runningMean.value, "\(c).running_mean")
        assertMatches(norm.runningVariance.value, "\(c).running_var")
        norm.setTraining(false)
        assertMatches(norm(x), "\(c).y_eval")
    }

    func testBatchNorm2D() {
        // bn = torch.nn.BatchNorm2d(3) (momentum 0.1, eps 1e-5) with weight, bias, running_mean, running_var set;
        // bn.train(); y = bn(x), x [4,3,5,4]; dx, dweight, dbias = torch.autograd.grad((y * r).sum(), [x, bn.weight, bn.bias]);
        // bn.running_mean, bn.running_var after that call; bn.eval(); y_eval = bn(x)
        checkBatchNorm("bn2d")
    }

    func testBatchNorm1D() {
        // The same with bn = torch.nn.BatchNorm1d(5) and x [8,5].
        checkBatchNorm("bn1d")
    }

    // MARK: - Loss

    func testBinaryCrossEntropyWithLogits() {
        // loss = F.binary_cross_entropy_with_logits(logits, targets) (reduction "mean"), logits include ±30 and ±100,
        // targets 0, 1 and 0.5; (dlogits,) = torch.autograd.grad(loss, [logits])
        let logits = golden("bce.logits").requiringGradient()
        let loss = binaryCrossEntropy(logits: logits, targets: golden("bce.targets"))
        assertMatches(loss, "bce.loss")
        assertMatches(gradient(of: loss, wrt: [logits])[0], "bce.dlogits")
    }

    func testBinaryCrossEntropyAgainstConstantLabels() {
        // loss = F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label)) for label 1.0 and 0.0;
        // (dlogits,) = torch.autograd.grad(loss, [logits])
        for label in [1, 0] {
            let logits = golden("bce.logits").requiringGradient()
            let loss = binaryCrossEntropy(logits: logits, label: Float(label))
            assertMatches(loss, "bce_label\(label).loss")
            assertMatches(gradient(of: loss, wrt: [logits])[0], "bce_label\(label).dlogits")
        }
    }

    // MARK: - Optimizer

    func testAdamThreeSteps() {
        // opt = torch.optim.Adam([p0, p1], lr=0.01, betas=(0.5, 0.999), eps=1e-8); for each step:
        // p0.grad, p1.grad = g0, g1; opt.step()  (g1 of order 1e-3 with one 1e-9 entry, so eps matters; g0[0,0] = 0)
        let p0 = Parameter(golden("adam.p0")), p1 = Parameter(golden("adam.p1"))
        let adam = Adam(parameters: [(name: "p0", parameter: p0), (name: "p1", parameter: p1)],
                        learningRate: 0.01, beta1: 0.5, beta2: 0.999, epsilon: 1e-8)
        for step in 1...3 {
            adam.update(gradients: [golden("adam.step\(step).g0"), golden("adam.step\(step).g1")])
            assertMatches(p0.value, "adam.step\(step).p0")
            assertMatches(p1.value, "adam.step\(step).p1")
        }
    }

    // MARK: - Activations

    func testActivations() {
        // y = F.leaky_relu(x, 0.2), F.relu(x), torch.tanh(x), torch.sigmoid(x), F.softplus(x) on x including ±100, ±30,
        // ±20.5 (softplus's threshold) and 0; (dx,) = torch.autograd.grad((y * r).sum(), [x])
        let cases: [(String, (Tensor) -> Tensor)] = [
            ("leaky_relu", { $0.leakyRelu(slope: 0.2) }), ("relu", { $0.relu() }), ("tanh", { $0.tanh() }),
            ("sigmoid", { $0.sigmoid() }), ("softplus", { $0.softplus() }),
        ]
        for (name, f) in cases {
            let x = golden("act.x").requiringGradient()
            let y = f(x)
            assertMatches(y, "act.\(name).y")
            assertMatches(gradient(of: (y * golden("act.r")).sum(), wrt: [x])[0], "act.\(name).dx")
        }
    }

    // MARK: - Matrix products and layers with bias

    func testMatmulTransposed() {
        // y = a @ b.T, a [3,4], b [5,4]; and y = a.T @ b, a [4,3], b [4,5];
        // da, db = torch.autograd.grad((y * r).sum(), [a, b])
        for (c, ta, tb) in [("matmul_bT", false, true), ("matmul_aT", true, false)] {
            let a = golden("\(c).a").requiringGradient(), b = golden("\(c).b").requiringGradient()
            let y = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
            assertMatches(y, "\(c).y")
            let g = gradient(of: (y * golden("\(c).r")).sum(), wrt: [a, b])
            assertMatches(g[0], "\(c).da")
            assertMatches(g[1], "\(c).db")
        }
    }

    func testLinearLayer() {
        // y = F.linear(x, w, bias), x [3,5], w [4,5]; dx, dw, dbias = torch.autograd.grad((y * r).sum(), [x, w, bias])
        var rng = SplitMix64(seed: 2)
        let layer = Linear(inputSize: 5, outputSize: 4, using: &rng)
        layer.weight.value = golden("linear.w")
        layer.bias?.value = golden("linear.bias")
        checkLayer(layer, "linear", weight: layer.weight, bias: layer.bias)
    }

    func testConvolutionLayerWithBias() {
        // y = F.conv2d(x, w, bias, stride=2, padding=1), x [2,3,8,6], w [5,3,4,4];
        // dx, dw, dbias = torch.autograd.grad((y * r).sum(), [x, w, bias])
        var rng = SplitMix64(seed: 3)
        let layer = Conv2D(inputChannels: 3, outputChannels: 5, kernelSize: 4, stride: 2, padding: 1, using: &rng)
        layer.weight.value = golden("conv_layer.w")
        layer.bias?.value = golden("conv_layer.bias")
        checkLayer(layer, "conv_layer", weight: layer.weight, bias: layer.bias)
    }

    func testTransposedConvolutionLayerWithBias() {
        // y = F.conv_transpose2d(x, w, bias, stride=2, padding=1), x [2,4,3,4], w [4,3,4,4];
        // dx, dw, dbias = torch.autograd.grad((y * r).sum(), [x, w, bias])
        var rng = SplitMix64(seed: 4)
        let layer = ConvTranspose2D(inputChannels: 4, outputChannels: 3, kernelSize: 4, stride: 2, padding: 1, using: &rng)
        layer.weight.value = golden("convT_layer.w")
        layer.bias?.value = golden("convT_layer.bias")
        checkLayer(layer, "convT_layer", weight: layer.weight, bias: layer.bias)
    }

    func checkLayer(_ layer: some Layer, _ c: String, weight: Parameter, bias: Parameter?,
                    file: StaticString = #filePath, line: UInt = #line) {
        guard let bias = bias else { return XCTFail("\(c): layer has no bias", file: file, line: line) }
        let x = golden("\(c).x").requiringGradient()
        let y = layer(x)
        assertMatches(y, "\(c).y", file: file, line: line)
        let g = gradient(of: (y * golden("\(c).r")).sum(), wrt: [x, weight.value, bias.value])
        assertMatches(g[0], "\(c).dx", file: file, line: line)
        assertMatches(g[1], "\(c).dw", file: file, line: line)
        assertMatches(g[2], "\(c).dbias", file: file, line: line)
    }
}
