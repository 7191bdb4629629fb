import XCTest
@testable import SwiftGANTensor
import SwiftGANKernels

/// The ops that work on activations in oneDNN's blocked layout give what the plain-layout ops give.
final class BlockedLayoutTests: XCTestCase {
    /// The same values as `t`, held only in the blocked layout of `width` channels per block.
    func blockedCopy(_ t: Tensor, width: Int) -> Tensor {
        let blocked = t.withUnsafeBufferPointer { BlockedActivation(plain: $0.baseAddress!, shape: t.shape, blockWidth: width) }
        let copy = Tensor(shape: t.shape, storage: TensorStorage(blocked: blocked))
        XCTAssertNotNil(copy.blockedActivation)
        return copy
    }

    func assertClose(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-4, _ message: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, message, file: file, line: line)
        let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, "\(message): worst relative difference \(worst)", file: file, line: line)
    }

    /// Batch normalization's output, its statistics and all three gradients, from a blocked input (and a blocked or
    /// plain output gradient) against the plain input; 20 channels leave padding in the last block.
    func testBatchNormalization() {
        var rng = SplitMix64(seed: 5)
        for shape in [[4, 20, 3, 5], [2, 16, 2, 3, 2], [3, 8, 7]] {
            let c = shape[1]
            let x = Tensor.randomNormal(shape: shape, mean: 0.5, standardDeviation: 2, using: &rng)
            let gamma = Tensor.randomNormal(shape: [c], mean: 1, standardDeviation: 0.3, using: &rng)
            let beta = Tensor.randomNormal(shape: [c], using: &rng)
            let seed = Tensor.randomNormal(shape: shape, using: &rng)
            func run(_ input: Tensor, _ seed: Tensor) -> (y: Tensor, mean: Tensor, variance: Tensor, grads: [Tensor]) {
                let xs = input.requiringGradient(), gs = gamma.requiringGradient(), bs = beta.requiringGradient()
                let result = xs.batchNormalized(scale: gs, shift: bs, epsilon: 1e-5)
                let grads = gradient(of: result.output, wrt: [xs, gs, bs], seed: seed)
                return (result.output, result.mean, result.variance, grads)
            }
            let plain = run(x, seed)
            XCTAssertNil(plain.y.blockedActivation)
            for width in [8, 16] {
                for blockedSeed in [false, true] {
                    let label = "\(shape) width \(width), \(blockedSeed ? "blocked" : "plain") gradient"
                    let blocked = run(blockedCopy(x, width: width), blockedSeed ? blockedCopy(seed, width: width) : seed)
                    XCTAssertNotNil(blocked.y.blockedActivation, label)
                    XCTAssertNotNil(blocked.grads[0].blockedActivation, label)
                    assertClose(blocked.y, plain.y, "output \(label)")
                    assertClose(blocked.mean, plain.mean, "mean \(label)")
                    assertClose(blocked.variance, plain.variance, "variance \(label)")
                    for (i, name) in ["input", "scale", "shift"].enumerated() {
                        assertClose(blocked.grads[i], plain.grads[i], tolerance: 2e-4, "\(name) gradient \(label)")
                    }
                    if let b = blocked.y.blockedActivation { assertZeroPadding(b, label) }
                    if let b = blocked.grads[0].blockedActivation { assertZeroPadding(b, label + " (input gradient)") }
                }
            }
        }
    }

    /// The fused normalization and leaky ReLU on a blocked input against the plain one.
    func testFusedBatchNormThenLeakyRelu() {
        var rng = SplitMix64(seed: 9)
        let x = Tensor.randomNormal(shape: [4, 20, 3, 5], mean: 0.5, standardDeviation: 2, using: &rng)
        let gamma = Tensor.randomNormal(shape: [20], mean: 1, standardDeviation: 0.3, using: &rng)
        let beta = Tensor.randomNormal(shape: [20], using: &rng)
        let seed = Tensor.randomNormal(shape: x.shape, using: &rng)
        func run(_ input: Tensor) -> [Tensor] {
            let params = [input, gamma, beta].map { $0.requiringGradient() }
            let y = params[0].batchNormalizedThenLeakyRelu(scale: params[1], shift: params[2], epsilon: 1e-5, slope: 0.2).output
            return [y] + gradient(of: y, wrt: params, seed: seed)
        }
        let plain = run(x)
        for width in [8, 16] {
            let blocked = run(blockedCopy(x, width: width))
            XCTAssertNotNil(blocked[0].blockedActivation)
            for (i, name) in ["output", "input gradient", "scale gradient", "shift gradient"].enumerated() {
                assertClose(blocked[i], plain[i], tolerance: 2e-4, "\(name), width \(width)")
            }
            assertZeroPadding(blocked[0].blockedActivation!, "output, width \(width)")
        }
    }

    func testLeakyReluAndItsGradient() {
        var rng = SplitMix64(seed: 6)
        let x = Tensor.randomNormal(shape: [3, 20, 4, 4], using: &rng)
        let seed = Tensor.randomNormal(shape: x.shape, using: &rng)
        func run(_ input: Tensor, _ seed: Tensor) -> (Tensor, Tensor) {
            let xs = input.requiringGradient()
            let y = xs.leakyRelu(slope: 0.2)
            return (y, gradient(of: y, wrt: [xs], seed: seed)[0])
        }
        let (y, dx) = run(x, seed)
        for width in [8, 16] {
            for blockedSeed in [false, true] {
                let (by, bdx) = run(blockedCopy(x, width: width), blockedSeed ? blockedCopy(seed, width: width) : seed)
                XCTAssertNotNil(by.blockedActivation)
                XCTAssertNotNil(bdx.blockedActivation)
                assertClose(by, y, "output, width \(width)")
                assertClose(bdx, dx, "gradient, width \(width), blocked seed \(blockedSeed)")
                assertZeroPadding(by.blockedActivation!, "output, width \(width)")
            }
        }
        // Plain input, blocked gradient: the result follows the gradient's layout.
        let (_, mixed) = run(x, blockedCopy(seed, width: 16))
        assertClose(mixed, dx, "plain input, blocked gradient")
    }

    /// A discriminator-like block (convolution, batch norm, leaky ReLU, convolution) gives the same values and
    /// gradients with activations kept blocked between the ops as with every activation plain.
    func testLayerChainMatchesThePlainLayout() {
        var rng = SplitMix64(seed: 7)
        let x = Tensor.randomNormal(shape: [4, 3, 16, 16], using: &rng)
        let w1 = Tensor.randomNormal(shape: [20, 3, 4, 4], standardDeviation: 0.2, using: &rng)
        let w2 = Tensor.randomNormal(shape: [24, 20, 4, 4], standardDeviation: 0.2, using: &rng)
        let w3 = Tensor.randomNormal(shape: [8, 24, 4, 4], standardDeviation: 0.2, using: &rng)
        let gamma = Tensor.randomNormal(shape: [24], mean: 1, standardDeviation: 0.2, using: &rng)
        let beta = Tensor.randomNormal(shape: [24], using: &rng)
        func run() -> [Tensor] {
            let params = [x, w1, w2, w3, gamma, beta].map { $0.requiringGradient() }
            let h1 = Tensor.convolution(params[0], params[1], stride: [2, 2], padding: [1, 1]).leakyRelu(slope: 0.2)
            let h2 = Tensor.convolution(h1, params[2], stride: [2, 2], padding: [1, 1])
                .batchNormalized(scale: params[4], shift: params[5], epsilon: 1e-5).output.leakyRelu(slope: 0.2)
            // Back up with a transposed convolution, as in a generator, and down to one position per channel (the
            // whole-window route, which reads plain values); h2 gets gradients from both.
            let h3 = Tensor.transposedConvolution(h2, params[2], stride: [2, 2], padding: [1, 1]).relu()
            let h4 = Tensor.convolution(h2, params[3], stride: [1, 1], padding: [0, 0])
            let loss = (h3 * h3).mean() + (h4 * h4).mean()
            // oneDNN picks a blocked layout for these shapes on every x86 CPU it has fast kernels for.
            XCTAssertEqual(h1.blockedActivation != nil, Tensor.blockedActivationsEnabled)
            XCTAssertEqual(h2.blockedActivation != nil, Tensor.blockedActivationsEnabled)
            return [loss] + gradient(of: loss, wrt: params)
        }
        let saved = Tensor.blockedActivationsEnabled
        defer { Tensor.blockedActivationsEnabled = saved }
        Tensor.blockedActivationsEnabled = false
        let plain = run()
        Tensor.blockedActivationsEnabled = true
        let blocked = run()
        for (i, name) in ["loss", "x", "w1", "w2", "w3", "gamma", "beta"].enumerated() {
            assertClose(blocked[i], plain[i], tolerance: 2e-4, name)
        }
    }

    /// Writing to a tensor held in the blocked layout writes its plain values and drops the blocked copy, so later
    /// ops see the write.
    func testWritingDropsTheBlockedCopy() {
        var rng = SplitMix64(seed: 8)
        let x = Tensor.randomNormal(shape: [2, 16, 4, 4], using: &rng)
        var copy = blockedCopy(x, width: 16)
        copy.withUnsafeMutableBufferPointer { $0[0] = 100 }
        XCTAssertNil(copy.blockedActivation)
        XCTAssertEqual(copy.scalars[0], 100)
        XCTAssertEqual(copy.leakyRelu(slope: 0.2).scalars[0], 100)
        XCTAssertEqual(Array(copy.scalars[1...]), Array(x.scalars[1...]))
    }

    func assertZeroPadding(_ b: BlockedActivation, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        var nonzero = 0
        for n in 0..<b.batch {
            for ch in b.channels..<(b.blocks * b.blockWidth) {
                for p in 0..<b.spatial where b.pointer[((n * b.blocks + ch / b.blockWidth) * b.spatial + p) * b.blockWidth + ch % b.blockWidth] != 0 {
                    nonzero += 1
                }
            }
        }
        XCTAssertEqual(nonzero, 0, message + ": padding channels", file: file, line: line)
    }
}
