import XCTest
import Foundation
@testable import SwiftGANKernels

/// The chained transposed convolutions against the reference loops run stage by stage.
final class TransposedConvolutionChainTests: XCTestCase {
    typealias LCG = ConvolutionKernelTests.LCG

    /// The stage that maps `[batch, cin, size]` to `cout` channels with kernel 4 (stride 1, padding 0 on a 1-wide input,
    /// else stride 2, padding 1), like a DCGAN generator's.
    func stage(batch: Int, cin: Int, cout: Int, size: [Int], activation: TransposedConvolutionChain.Activation,
               rng: inout LCG) -> TransposedConvolutionChain.Stage {
        let r = size.count
        let first = size.allSatisfy { $0 == 1 }
        let k = [Int](repeating: 4, count: r), s = [Int](repeating: first ? 1 : 2, count: r), p = [Int](repeating: first ? 0 : 1, count: r)
        let out = ConvolutionGeometry.transposedOutputSize(inputSize: size, kernelSize: k, stride: s, padding: p,
                                                           outputPadding: [Int](repeating: 0, count: r))
        let g = ConvolutionGeometry(batch: batch, inputChannels: cout, outputChannels: cin, inputSize: out, outputSize: size,
                                    kernelSize: k, stride: s, padding: p)
        return .init(geometry: g, weight: rng.array(g.weightElementCount).map { $0 * 0.3 }, bias: rng.array(cout),
                     activation: activation)
    }

    /// Runs `channels` (first the input's) through a chain and through the reference, stage by stage.
    func check(batch: Int, channels: [Int], spatialRank: Int, seed: UInt64) {
        var rng = LCG(state: seed)
        var size = [Int](repeating: 1, count: spatialRank)
        var stages: [TransposedConvolutionChain.Stage] = []
        for i in 1..<channels.count {
            let s = stage(batch: batch, cin: channels[i - 1], cout: channels[i], size: size,
                          activation: i == channels.count - 1 ? .tanh : .relu, rng: &rng)
            stages.append(s)
            size = s.geometry.inputSize
        }
        let input = rng.array(batch * channels[0])
        var expected = input
        for s in stages {
            let g = s.geometry
            var y = [Float](repeating: .nan, count: g.inputElementCount)
            ReferenceConvolution.backwardData(g, gradOutput: expected, weight: s.weight, gradInput: &y)
            let spatial = g.inputSize.reduce(1, *)
            for i in 0..<y.count {
                let v = y[i] + s.bias[(i / spatial) % g.inputChannels]
                y[i] = s.activation == .relu ? max(v, 0) : tanhf(v)
            }
            expected = y
        }
        var actual = [Float](repeating: .nan, count: expected.count)
        TransposedConvolutionChain.run(stages, input: input, output: &actual)
        var worst: Float = 0
        for i in 0..<expected.count { worst = max(worst, abs(actual[i] - expected[i]) / max(1, abs(expected[i]))) }
        XCTAssertLessThanOrEqual(worst, 1e-4, "channels \(channels), rank \(spatialRank): worst relative difference \(worst)")
        // The comparison means something: most outputs differ from each other (not clipped to 0 or ±1).
        XCTAssertGreaterThan(Set(expected).count, expected.count / 2)
    }

    /// Channel counts that are multiples of 8 (the blocked layout between stages), others (padded blocks or plain
    /// buffers), one output channel and three.
    func testTwoDimensionalChainsMatchTheReference() {
        check(batch: 3, channels: [20, 32, 16, 1], spatialRank: 2, seed: 1)
        check(batch: 2, channels: [7, 12, 5, 3], spatialRank: 2, seed: 2)
        check(batch: 1, channels: [100, 64, 32, 16, 8, 3], spatialRank: 2, seed: 3)
    }

    /// A chain whose fourth activation (64 x 128 x 32 x 32 values, 32 MiB) goes through `KernelMemory`'s pool of
    /// large buffers: run again with the buffers the first run gave back, it gives the same images, and the pool holds
    /// them afterwards. A buffer handed back while still in use would change the second run's result.
    func testChainReusesLargeBuffersAndGivesTheSameResult() {
        var rng = LCG(state: 6)
        let batch = 64
        let first = stage(batch: batch, cin: 8, cout: 256, size: [1, 1], activation: .relu, rng: &rng)
        let middle = stage(batch: batch, cin: 256, cout: 128, size: first.geometry.inputSize, activation: .relu, rng: &rng)
        let second = stage(batch: batch, cin: 128, cout: 128, size: middle.geometry.inputSize, activation: .relu, rng: &rng)
        let third = stage(batch: batch, cin: 128, cout: 128, size: second.geometry.inputSize, activation: .relu, rng: &rng)
        let last = stage(batch: batch, cin: 128, cout: 1, size: third.geometry.inputSize, activation: .tanh, rng: &rng)
        XCTAssertGreaterThanOrEqual(third.geometry.inputElementCount * 4, KernelMemory.poolThreshold)
        let stages = [first, middle, second, third, last]
        let input = rng.array(batch * 8)
        KernelMemory.pool.empty()
        var once = [Float](repeating: .nan, count: last.geometry.inputElementCount)
        TransposedConvolutionChain.run(stages, input: input, output: &once)
        XCTAssertGreaterThan(KernelMemory.pool.keptBytes, 0, "the large buffers were given back to the pool")
        var twice = [Float](repeating: .nan, count: once.count)
        TransposedConvolutionChain.run(stages, input: input, output: &twice)
        XCTAssertEqual(once, twice)
        XCTAssertTrue(once.allSatisfy { $0.isFinite })
        XCTAssertGreaterThan(Set(once).count, 1000, "the images are not constant")
        KernelMemory.pool.empty()
    }

    func testThreeDimensionalChainMatchesTheReference() {
        check(batch: 2, channels: [10, 16, 8, 1], spatialRank: 3, seed: 4)
    }

    /// Bias and activation in each layout the chain walks (whichever ones this machine's oneDNN picks), against the
    /// plain computation; padding channels of a block stay 0.
    func testBiasAndActivationInEveryLayout() {
        var rng = LCG(state: 5)
        let (n, c, spatial) = (2, 13, 6)
        let plain = rng.array(n * c * spatial), bias = rng.array(c)
        for activation in [TransposedConvolutionChain.Activation.relu, .tanh] {
            let expected = plain.indices.map { i -> Float in
                let v = plain[i] + bias[(i / spatial) % c]
                return activation == .relu ? max(v, 0) : tanhf(v)
            }
            for layout in [TransposedConvolutionChain.Layout.plain, .channelsLast, .blocked(8), .blocked(16)] {
                // Where plain element (b, ch, s) lives in `layout`, and how many values that layout holds.
                let width: Int
                if case .blocked(let w) = layout { width = w } else { width = 1 }
                let blocks = (c + width - 1) / width
                func offset(_ b: Int, _ ch: Int, _ s: Int) -> Int {
                    switch layout {
                    case .plain: return (b * c + ch) * spatial + s
                    case .channelsLast: return (b * spatial + s) * c + ch
                    case .blocked: return ((b * blocks + ch / width) * spatial + s) * width + ch % width
                    }
                }
                let count = layout == .channelsLast || layout == .plain ? plain.count : n * blocks * width * spatial
                var buffer = [Float](repeating: 0, count: count)
                for b in 0..<n { for ch in 0..<c { for s in 0..<spatial { buffer[offset(b, ch, s)] = plain[(b * c + ch) * spatial + s] } } }
                buffer.withUnsafeMutableBufferPointer {
                    TransposedConvolutionChain.applyBiasAndActivation($0.baseAddress!, layout: layout, batch: n, channels: c,
                                                                      spatial: spatial, bias: bias, activation: activation)
                }
                var back = [Float](repeating: .nan, count: plain.count)
                for b in 0..<n { for ch in 0..<c { for s in 0..<spatial { back[(b * c + ch) * spatial + s] = buffer[offset(b, ch, s)] } } }
                for i in 0..<plain.count {
                    XCTAssertEqual(back[i], expected[i], accuracy: 1e-6, "\(layout) \(activation) at \(i)")
                }
                XCTAssertEqual(buffer.filter { $0 != 0 }.count, expected.filter { $0 != 0 }.count,
                               "\(layout) \(activation): padding stays 0")
            }
        }
    }

    /// Bias and activation read from a blocked buffer and written plain (the stage before one that reads plain values).
    func testBiasAndActivationFromBlockedToPlain() {
        var rng = LCG(state: 6)
        let (n, c, spatial) = (2, 13, 6)
        let plain = rng.array(n * c * spatial), bias = rng.array(c)
        for activation in [TransposedConvolutionChain.Activation.relu, .tanh] {
            let expected = plain.indices.map { i -> Float in
                let v = plain[i] + bias[(i / spatial) % c]
                return activation == .relu ? max(v, 0) : tanhf(v)
            }
            for width in [8, 16] {
                let blocks = (c + width - 1) / width
                var blocked = [Float](repeating: 0, count: n * blocks * width * spatial)
                for b in 0..<n { for ch in 0..<c { for s in 0..<spatial {
                    blocked[((b * blocks + ch / width) * spatial + s) * width + ch % width] = plain[(b * c + ch) * spatial + s]
                } } }
                var result = [Float](repeating: .nan, count: plain.count)
                result.withUnsafeMutableBufferPointer {
                    TransposedConvolutionChain.applyBiasAndActivation(from: blocked, width: width, toPlain: $0.baseAddress!, batch: n,
                                                                      channels: c, spatial: spatial, bias: bias, activation: activation)
                }
                for i in 0..<plain.count {
                    XCTAssertEqual(result[i], expected[i], accuracy: 1e-6, "width \(width) \(activation) at \(i)")
                }
            }
        }
    }
}
