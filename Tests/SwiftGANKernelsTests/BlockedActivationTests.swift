import XCTest
@testable import SwiftGANKernels

/// oneDNN's channel-blocked layout as `BlockedActivation` holds it, and the convolution passes that read and write it.
final class BlockedActivationTests: XCTestCase {
    func values(_ n: Int, seed: Int) -> [Float] {
        (0..<n).map { Float(($0 * 7919 + seed * 104729) % 2001 - 1000) / 1000 }
    }

    /// Element (n, c, position) sits at `((n * blocks + c / W) * spatial + position) * W + c % W`; padding channels are 0;
    /// copying back gives the plain values.
    func testLayoutPaddingAndRoundTrip() {
        for shape in [[2, 20, 3, 5], [3, 5, 7], [1, 9, 2, 3, 2], [2, 16, 4, 4]] {
            for width in [8, 16] {
                let plain = values(shape.reduce(1, *), seed: shape.count + width)
                let blocked = BlockedActivation(plain: plain, shape: shape, blockWidth: width)
                XCTAssertEqual(blocked.blockWidth, width)
                let (n, c, spatial, blocks) = (shape[0], shape[1], shape[2...].reduce(1, *), (shape[1] + width - 1) / width)
                XCTAssertEqual(blocked.paddedCount, n * blocks * spatial * width)
                var mismatches = 0, nonzeroPadding = 0
                for b in 0..<n {
                    for ch in 0..<(blocks * width) {
                        for p in 0..<spatial {
                            let value = blocked.pointer[((b * blocks + ch / width) * spatial + p) * width + ch % width]
                            if ch >= c {
                                if value != 0 { nonzeroPadding += 1 }
                            } else if value != plain[(b * c + ch) * spatial + p] {
                                mismatches += 1
                            }
                        }
                    }
                }
                XCTAssertEqual(mismatches, 0, "\(shape) width \(width)")
                XCTAssertEqual(nonzeroPadding, 0, "\(shape) width \(width)")
                var back = [Float](repeating: .nan, count: plain.count)
                blocked.copy(toPlain: &back)
                XCTAssertEqual(back, plain, "\(shape) width \(width)")
            }
        }
    }

    /// Each pass gives the same values with blocked operands (in oneDNN's layout, or in another width it reorders
    /// from) as with plain ones, and a blocked result has zero padding channels (20 and 12 channels are not whole
    /// blocks); an input gradient of 1 or 3 channels comes back plain.
    func testConvolutionPassesWithBlockedOperands() {
        for (cin, cout, size) in [(20, 12, [8, 8]), (16, 32, [6, 6]), (12, 20, [4, 4, 4]), (3, 16, [8, 8]), (1, 8, [5, 5, 5])] {
            let r = size.count
            let k = [Int](repeating: 3, count: r), s = [Int](repeating: 1, count: r), p = [Int](repeating: 1, count: r)
            let g = ConvolutionGeometry(batch: 2, inputChannels: cin, outputChannels: cout, inputSize: size,
                                        outputSize: ConvolutionGeometry.convolutionOutputSize(inputSize: size, kernelSize: k, stride: s, padding: p),
                                        kernelSize: k, stride: s, padding: p)
            XCTAssertTrue(Convolution.acceptsBlockedActivations(g))
            let x = values(g.inputElementCount, seed: 1), w = values(g.weightElementCount, seed: 2), dy = values(g.outputElementCount, seed: 3)
            let xShape = [2, cin] + size, yShape = [2, cout] + g.outputSize
            var y = [Float](repeating: .nan, count: g.outputElementCount)
            Convolution.forward(g, input: x, weight: w, output: &y)
            var dx = [Float](repeating: .nan, count: g.inputElementCount)
            Convolution.backwardData(g, gradOutput: dy, weight: w, gradInput: &dx)
            var dw = [Float](repeating: .nan, count: g.weightElementCount)
            Convolution.backwardWeights(g, input: x, gradOutput: dy, gradWeight: &dw)

            for width in [8, 16] {
                let bx = BlockedActivation(plain: x, shape: xShape, blockWidth: width)
                let bdy = BlockedActivation(plain: dy, shape: yShape, blockWidth: width)
                let label = "\(g) from width \(width)"

                var plainOut = [Float](repeating: .nan, count: g.outputElementCount)
                let out = plainOut.withUnsafeMutableBufferPointer { buffer in
                    Convolution.forward(g, input: .blocked(bx), weight: w, plainOutput: { buffer.baseAddress! })
                }
                assertResult(out, plain: plainOut, expected: y, "forward \(label)")

                var plainDx = [Float](repeating: .nan, count: g.inputElementCount)
                let outDx = plainDx.withUnsafeMutableBufferPointer { buffer in
                    Convolution.backwardData(g, gradOutput: .blocked(bdy), weight: w, plainGradInput: { buffer.baseAddress! })
                }
                assertResult(outDx, plain: plainDx, expected: dx, "backward data \(label)")

                var blockedDw = [Float](repeating: .nan, count: g.weightElementCount)
                Convolution.backwardWeights(g, input: .blocked(bx), gradOutput: .blocked(bdy), gradWeight: &blockedDw)
                assertClose(blockedDw, dw, "backward weights \(label)")
                var mixedDw = [Float](repeating: .nan, count: g.weightElementCount)
                x.withUnsafeBufferPointer { xp in
                    Convolution.backwardWeights(g, input: .plain(xp.baseAddress!), gradOutput: .blocked(bdy), gradWeight: &mixedDw)
                }
                assertClose(mixedDw, dw, "backward weights, plain input \(label)")
            }
        }
    }

    func assertResult(_ blocked: BlockedActivation?, plain: [Float], expected: [Float], _ message: String,
                      file: StaticString = #filePath, line: UInt = #line) {
        guard let blocked else {
            assertClose(plain, expected, message + " (plain result)", file: file, line: line)
            return
        }
        var values = [Float](repeating: .nan, count: expected.count)
        blocked.copy(toPlain: &values)
        assertClose(values, expected, message, file: file, line: line)
        let (n, c, spatial, width, blocks) = (blocked.batch, blocked.channels, blocked.spatial, blocked.blockWidth, blocked.blocks)
        var nonzeroPadding = 0
        for b in 0..<n {
            for ch in c..<(blocks * width) {
                for p in 0..<spatial where blocked.pointer[((b * blocks + ch / width) * spatial + p) * width + ch % width] != 0 {
                    nonzeroPadding += 1
                }
            }
        }
        XCTAssertEqual(nonzeroPadding, 0, message + ": padding channels", file: file, line: line)
    }

    func assertClose(_ a: [Float], _ b: [Float], _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1e-4, "\(message): worst relative difference \(worst)", file: file, line: line)
    }

    /// Every row is visited exactly once, whether the loop runs on one thread or on the team.
    func testParallelRowsVisitsEachRowOnce() {
        let saved = KernelThreads.current
        defer { KernelThreads.set(saved) }
        for threads in [1, 2, 3] {
            KernelThreads.set(threads)
            for rows in [0, 1, 2, 3, 7, 1000] {
                for total in [10, 1 << 20] {
                    var visits = [Int](repeating: 0, count: rows)
                    visits.withUnsafeMutableBufferPointer { counts in
                        ParallelRows.forEach(rows, total: total) { row in counts[row] += 1 }
                    }
                    XCTAssertEqual(visits, [Int](repeating: 1, count: rows), "\(rows) rows, \(threads) threads, total \(total)")
                }
            }
        }
    }
}
