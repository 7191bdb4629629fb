import XCTest
@testable import SwiftGANKernels

/// The oneDNN kernels against the straight-loop reference, over many shapes, strides and paddings.
final class ConvolutionKernelTests: XCTestCase {
    struct LCG {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
    }

    func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4, _ message: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        var worst: Float = 0
        for i in 0..<min(a.count, b.count) {
            worst = max(worst, abs(a[i] - b[i]) / max(1, abs(b[i])))
        }
        XCTAssertLessThanOrEqual(worst, tolerance, "\(message): worst relative difference \(worst)", file: file, line: line)
    }

    func check(_ g: ConvolutionGeometry, seed: UInt64) {
        XCTAssertNil(g.problem, "\(g)")
        var rng = LCG(state: seed)
        let x = rng.array(g.inputElementCount), w = rng.array(g.weightElementCount), dy = rng.array(g.outputElementCount)
        var fast = [Float](repeating: .nan, count: g.outputElementCount), slow = fast
        Convolution.forward(g, input: x, weight: w, output: &fast)
        ReferenceConvolution.forward(g, input: x, weight: w, output: &slow)
        assertClose(fast, slow, "forward \(g)")

        var fastDx = [Float](repeating: .nan, count: g.inputElementCount), slowDx = fastDx
        Convolution.backwardData(g, gradOutput: dy, weight: w, gradInput: &fastDx)
        ReferenceConvolution.backwardData(g, gradOutput: dy, weight: w, gradInput: &slowDx)
        assertClose(fastDx, slowDx, "backward data \(g)")

        var fastDw = [Float](repeating: .nan, count: g.weightElementCount), slowDw = fastDw
        Convolution.backwardWeights(g, input: x, gradOutput: dy, gradWeight: &fastDw)
        ReferenceConvolution.backwardWeights(g, input: x, gradOutput: dy, gradWeight: &slowDw)
        assertClose(fastDw, slowDw, "backward weights \(g)")
    }

    func geometry(batch: Int, cin: Int, cout: Int, size: [Int], kernel: Int, stride: Int, padding: Int) -> ConvolutionGeometry {
        let r = size.count
        let k = [Int](repeating: kernel, count: r), s = [Int](repeating: stride, count: r), p = [Int](repeating: padding, count: r)
        return ConvolutionGeometry(batch: batch, inputChannels: cin, outputChannels: cout, inputSize: size,
                                   outputSize: ConvolutionGeometry.convolutionOutputSize(inputSize: size, kernelSize: k, stride: s, padding: p),
                                   kernelSize: k, stride: s, padding: p)
    }

    func test2DShapesStridesPaddings() {
        var seed: UInt64 = 1
        for (size, kernel, stride, padding) in [([8, 8], 4, 2, 1), ([7, 9], 3, 1, 1), ([9, 6], 3, 2, 0), ([5, 5], 1, 1, 0),
                                                ([4, 4], 4, 1, 0), ([6, 7], 5, 3, 2), ([16, 16], 4, 2, 1)] {
            for (cin, cout) in [(1, 3), (3, 8), (16, 5)] {
                seed += 1
                check(geometry(batch: 2, cin: cin, cout: cout, size: size, kernel: kernel, stride: stride, padding: padding), seed: seed)
            }
        }
    }

    /// Which layers take the whole-window matrix product (checked against the reference here and by the other tests'
    /// kernel-4-on-4x4 cases).
    func testWholeWindowRoute() {
        XCTAssertTrue(WholeWindowConvolution.applies(to: geometry(batch: 2, cin: 512, cout: 1, size: [4, 4], kernel: 4, stride: 1, padding: 0)))
        XCTAssertTrue(WholeWindowConvolution.applies(to: geometry(batch: 2, cin: 3, cout: 100, size: [4, 4, 4], kernel: 4, stride: 2, padding: 0)))
        XCTAssertFalse(WholeWindowConvolution.applies(to: geometry(batch: 2, cin: 64, cout: 128, size: [32, 32], kernel: 4, stride: 2, padding: 1)))
        XCTAssertFalse(WholeWindowConvolution.applies(to: geometry(batch: 2, cin: 16, cout: 4, size: [4, 4], kernel: 4, stride: 1, padding: 1)))
        check(geometry(batch: 3, cin: 24, cout: 1, size: [4, 4, 4], kernel: 4, stride: 1, padding: 0), seed: 21)
        check(geometry(batch: 5, cin: 7, cout: 9, size: [3, 3], kernel: 3, stride: 1, padding: 0), seed: 22)
    }

    func test1DAnd3D() {
        check(geometry(batch: 3, cin: 2, cout: 4, size: [11], kernel: 3, stride: 2, padding: 1), seed: 7)
        check(geometry(batch: 2, cin: 3, cout: 8, size: [6, 6, 6], kernel: 4, stride: 2, padding: 1), seed: 8)
        check(geometry(batch: 1, cin: 8, cout: 2, size: [5, 4, 3], kernel: 3, stride: 1, padding: 1), seed: 9)
    }

    /// The geometry a transposed convolution with output padding produces: padding after smaller than before.
    func testTransposedConvolutionGeometry() {
        // A transposed conv 4x4 -> 8x8 with kernel 3, stride 2, padding 1, output padding 1.
        let out = ConvolutionGeometry.transposedOutputSize(inputSize: [4, 4], kernelSize: [3, 3], stride: [2, 2], padding: [1, 1],
                                                           outputPadding: [1, 1])
        XCTAssertEqual(out, [8, 8])
        let g = ConvolutionGeometry(batch: 2, inputChannels: 3, outputChannels: 5, inputSize: out, outputSize: [4, 4],
                                    kernelSize: [3, 3], stride: [2, 2], padding: [1, 1])
        XCTAssertEqual(g.paddingAfter, [0, 0])
        check(g, seed: 11)
        // The DCGAN first layer: a 1x1 latent to 4x4.
        let first = ConvolutionGeometry(batch: 3, inputChannels: 4, outputChannels: 6, inputSize: [4, 4], outputSize: [1, 1],
                                        kernelSize: [4, 4], stride: [1, 1], padding: [0, 0])
        check(first, seed: 12)
    }

    /// Forward passes with 128 or more input channels, which take oneDNN's channels-last kernels where it has fast
    /// ones (AVX-512), against the reference: plain buffers, and a blocked input whose result stays blocked; the same
    /// values with the route turned off.
    func testChannelsLastForwardRoute() {
        var seed: UInt64 = 40
        for (cin, cout, size) in [(128, 24, [8, 8]), (136, 16, [6, 6]), (128, 16, [4, 4, 4])] {
            seed += 1
            let g = geometry(batch: 2, cin: cin, cout: cout, size: size, kernel: 4, stride: 2, padding: 1)
            var rng = LCG(state: seed)
            let x = rng.array(g.inputElementCount), w = rng.array(g.weightElementCount)
            var expected = [Float](repeating: .nan, count: g.outputElementCount)
            ReferenceConvolution.forward(g, input: x, weight: w, output: &expected)
            for enabled in [true, false] {
                OneDNN.channelsLastForwardEnabled = enabled
                defer { OneDNN.channelsLastForwardEnabled = true }
                let label = "\(g), channels-last route \(enabled ? "allowed" : "off")"
                var plain = [Float](repeating: .nan, count: g.outputElementCount)
                Convolution.forward(g, input: x, weight: w, output: &plain)
                assertClose(plain, expected, "forward \(label)")
                let blockedInput = BlockedActivation(plain: x, shape: [2, cin] + size, blockWidth: 16)
                var unused = [Float](repeating: .nan, count: g.outputElementCount)
                let result = unused.withUnsafeMutableBufferPointer { buffer in
                    Convolution.forward(g, input: .blocked(blockedInput), weight: w, plainOutput: { buffer.baseAddress! })
                }
                XCTAssertNotNil(result, "a \(cout)-channel result stays blocked: \(label)")
                var values = [Float](repeating: .nan, count: g.outputElementCount)
                result?.copy(toPlain: &values)
                assertClose(values, expected, "forward, blocked input and result, \(label)")
            }
        }
    }

    func testInvalidGeometryIsReported() {
        let bad = ConvolutionGeometry(batch: 1, inputChannels: 1, outputChannels: 1, inputSize: [8, 8], outputSize: [9, 9],
                                      kernelSize: [3, 3], stride: [1, 1], padding: [0, 0])
        XCTAssertNotNil(bad.problem)
    }

    func testGemmAgainstReference() {
        var rng = LCG(state: 3)
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (17, 9, 33), (64, 1, 100)] {
            for ta in [false, true] { for tb in [false, true] {
                let a = rng.array(m * k), b = rng.array(k * n), c0 = rng.array(m * n)
                var slow = c0
                Gemm.referenceMultiply(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, b: b, beta: 2, c: &slow)
                var chosen = c0, openBLAS = c0, oneDNN = c0
                Gemm.multiply(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, b: b, beta: 2, c: &chosen)
                Gemm.multiplyWithOpenBLAS(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, b: b,
                                          beta: 2, c: &openBLAS)
                Gemm.multiplyOnOneDNNThreads(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 0.5, a: a, b: b,
                                             beta: 2, c: &oneDNN)
                assertClose(chosen, slow, "gemm (\(Gemm.library)) \(m)x\(n)x\(k) ta \(ta) tb \(tb)")
                assertClose(openBLAS, slow, "cblas_sgemm \(m)x\(n)x\(k) ta \(ta) tb \(tb)")
                assertClose(oneDNN, slow, "dnnl_sgemm \(m)x\(n)x\(k) ta \(ta) tb \(tb)")
            }}
        }
    }
}
