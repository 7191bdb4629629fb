import SwiftGANKernels

/// Batch normalization and leaky ReLU on activations that a convolution left in oneDNN's channel-blocked layout
/// (`BlockedActivation`), so that they reach the next convolution without a reorder. In that layout the channels of
/// a block are the lanes of one SIMD vector at every position, so per-channel sums are lane-wise vector sums. The
/// results keep the layout and its zero padding channels. Equal to the plain-layout kernels up to rounding; the
/// tests compare the two.
enum BlockedOps {
    /// Per-channel `mean`, biased `variance` and `1 / sqrt(variance + epsilon)` over batch and positions; the
    /// padding channels get 0 for all three.
    static func statistics(_ x: BlockedActivation, epsilon: Float) -> (mean: [Float], variance: [Float], inverseStd: [Float]) {
        x.blockWidth == 16 ? statistics(x, epsilon: epsilon, lanes: SIMD16<Float>.self)
                           : statistics(x, epsilon: epsilon, lanes: SIMD8<Float>.self)
    }

    /// `x * a[c] + b[c]` per channel, then a leaky ReLU of that slope when one is given; padding channels 0.
    static func affine(_ x: BlockedActivation, scale a: [Float], shift b: [Float], leakyReluSlope: Float? = nil) -> BlockedActivation {
        x.blockWidth == 16 ? affine(x, scale: a, shift: b, leakyReluSlope: leakyReluSlope, lanes: SIMD16<Float>.self)
                           : affine(x, scale: a, shift: b, leakyReluSlope: leakyReluSlope, lanes: SIMD8<Float>.self)
    }

    /// Per-channel `sum(g)` and `sum(g * (x - mean))` (not yet scaled by the inverse standard deviation).
    static func gradientSums(_ g: BlockedActivation, _ x: BlockedActivation, mean: [Float]) -> (sumG: [Double], sumGCentered: [Double]) {
        x.blockWidth == 16 ? gradientSums(g, x, mean: mean, lanes: SIMD16<Float>.self)
                           : gradientSums(g, x, mean: mean, lanes: SIMD8<Float>.self)
    }

    /// `dx = k (count g - sumG - xhat sumGXhat)` with `k = scale * inverseStd / count`, per channel.
    static func normalizationInputGradient(_ g: BlockedActivation, _ x: BlockedActivation, mean: [Float], inverseStd: [Float],
                                           k: [Float], sumG: [Float], sumGXhat: [Float], count: Float) -> BlockedActivation {
        x.blockWidth == 16
            ? normalizationInputGradient(g, x, mean: mean, inverseStd: inverseStd, k: k, sumG: sumG, sumGXhat: sumGXhat, count: count,
                                         lanes: SIMD16<Float>.self)
            : normalizationInputGradient(g, x, mean: mean, inverseStd: inverseStd, k: k, sumG: sumG, sumGXhat: sumGXhat, count: count,
                                         lanes: SIMD8<Float>.self)
    }

    /// `x > 0 ? x : slope * x` over the whole buffer (padding zeros stay zero).
    static func leakyRelu(_ x: BlockedActivation, slope: Float) -> BlockedActivation {
        let y = BlockedActivation(sameLayoutAs: x)
        Tensor.apply(LeakyRelu(slope: slope), x.pointer, to: y.pointer, count: x.paddedCount)
        return y
    }

    /// `x > 0 ? g : slope * g`, both in the same layout.
    static func leakyReluGradient(_ g: BlockedActivation, at x: BlockedActivation, slope: Float) -> BlockedActivation {
        let y = BlockedActivation(sameLayoutAs: x)
        Tensor.apply(LeakyReluGradient(slope: slope), g.pointer, x.pointer, to: y.pointer, count: x.paddedCount)
        return y
    }

    // MARK: Lane-wise loops, specialized for 8 and 16 channels per block

    @inline(__always)
    static func load<V: SIMD>(_ p: UnsafePointer<Float>, _ as: V.Type) -> V where V.Scalar == Float {
        UnsafeRawPointer(p).loadUnaligned(as: V.self)
    }

    /// Lanes of `channels[block * width ..< block * width + width]`, 0 past the real channels.
    @inline(__always)
    static func lanes<V: SIMD>(_ values: [Float], block: Int, _ as: V.Type) -> V where V.Scalar == Float {
        var v = V()
        let first = block * V.scalarCount
        for lane in 0..<V.scalarCount where first + lane < values.count { v[lane] = values[first + lane] }
        return v
    }

    /// Positions summed in Float lanes before the partial sums move to Double.
    static let chunk = 256

    static func statistics<V: SIMD>(_ x: BlockedActivation, epsilon: Float, lanes _: V.Type)
        -> (mean: [Float], variance: [Float], inverseStd: [Float]) where V.Scalar == Float {
        let (n, blocks, spatial, width, c) = (x.batch, x.blocks, x.spatial, V.scalarCount, x.channels)
        let count = Double(n * spatial)
        var mean = [Float](repeating: 0, count: c), variance = mean, inverseStd = mean
        mean.withUnsafeMutableBufferPointer { meanOut in
            variance.withUnsafeMutableBufferPointer { varianceOut in
                inverseStd.withUnsafeMutableBufferPointer { inverseOut in
                    ParallelRows.forEach(blocks, total: x.paddedCount) { block in
                        var sums = [Double](repeating: 0, count: width)
                        for b in 0..<n {
                            let row = UnsafePointer(x.pointer) + (b * blocks + block) * spatial * width
                            var s = 0
                            while s < spatial {
                                var acc = V()
                                let end = Swift.min(s + chunk, spatial)
                                while s < end { acc += load(row + s * width, V.self); s += 1 }
                                for lane in 0..<width { sums[lane] += Double(acc[lane]) }
                            }
                        }
                        var center = V()
                        for lane in 0..<width { center[lane] = Float(sums[lane] / count) }
                        var squares = [Double](repeating: 0, count: width)
                        for b in 0..<n {
                            let row = UnsafePointer(x.pointer) + (b * blocks + block) * spatial * width
                            var s = 0
                            while s < spatial {
                                var acc = V()
                                let end = Swift.min(s + chunk, spatial)
                                while s < end { let d = load(row + s * width, V.self) - center; acc += d * d; s += 1 }
                                for lane in 0..<width { squares[lane] += Double(acc[lane]) }
                            }
                        }
                        for lane in 0..<width where block * width + lane < c {
                            let channel = block * width + lane
                            let v = squares[lane] / count
                            meanOut[channel] = Float(sums[lane] / count)
                            varianceOut[channel] = Float(v)
                            inverseOut[channel] = Float(1 / (v + Double(epsilon)).squareRoot())
                        }
                    }
                }
            }
        }
        return (mean, variance, inverseStd)
    }

    static func affine<V: SIMD>(_ x: BlockedActivation, scale: [Float], shift: [Float], leakyReluSlope: Float?,
                                lanes _: V.Type) -> BlockedActivation where V.Scalar == Float {
        let y = BlockedActivation(sameLayoutAs: x)
        let (blocks, spatial, width) = (x.blocks, x.spatial, V.scalarCount)
        let (src, dst) = (UnsafePointer(x.pointer), y.pointer)
        ParallelRows.forEach(x.batch * blocks, total: x.paddedCount) { row in
            let a = lanes(scale, block: row % blocks, V.self), b = lanes(shift, block: row % blocks, V.self)
            let base = row * spatial * width
            for s in 0..<spatial {
                let v = load(src + base + s * width, V.self) * a + b
                UnsafeMutableRawPointer(dst + base + s * width).storeBytes(of: v, as: V.self)
            }
            // The activation as a plain loop over the row just written (still in cache): the compiler vectorizes it,
            // where a lane-wise select on the SIMD type above ran one lane at a time (10% of a step's samples).
            if let slope = leakyReluSlope {
                let activation = LeakyRelu(slope: slope), row = dst + base
                for i in 0..<(spatial * width) { row[i] = activation(row[i]) }
            }
        }
        return y
    }

    static func gradientSums<V: SIMD>(_ g: BlockedActivation, _ x: BlockedActivation, mean: [Float], lanes _: V.Type)
        -> (sumG: [Double], sumGCentered: [Double]) where V.Scalar == Float {
        let (n, blocks, spatial, width, c) = (x.batch, x.blocks, x.spatial, V.scalarCount, x.channels)
        var sumG = [Double](repeating: 0, count: c), sumGCentered = sumG
        sumG.withUnsafeMutableBufferPointer { sumGOut in
            sumGCentered.withUnsafeMutableBufferPointer { centeredOut in
                ParallelRows.forEach(blocks, total: 2 * x.paddedCount) { block in
                    let m = lanes(mean, block: block, V.self)
                    var totalG = [Double](repeating: 0, count: width), totalGX = totalG
                    for b in 0..<n {
                        let offset = (b * blocks + block) * spatial * width
                        let gRow = UnsafePointer(g.pointer) + offset, xRow = UnsafePointer(x.pointer) + offset
                        var s = 0
                        while s < spatial {
                            var accG = V(), accGX = V()
                            let end = Swift.min(s + chunk, spatial)
                            while s < end {
                                let gv = load(gRow + s * width, V.self)
                                accG += gv
                                accGX += gv * (load(xRow + s * width, V.self) - m)
                                s += 1
                            }
                            for lane in 0..<width { totalG[lane] += Double(accG[lane]); totalGX[lane] += Double(accGX[lane]) }
                        }
                    }
                    for lane in 0..<width where block * width + lane < c {
                        sumGOut[block * width + lane] = totalG[lane]
                        centeredOut[block * width + lane] = totalGX[lane]
                    }
                }
            }
        }
        return (sumG, sumGCentered)
    }

    static func normalizationInputGradient<V: SIMD>(_ g: BlockedActivation, _ x: BlockedActivation, mean: [Float], inverseStd: [Float],
                                                    k: [Float], sumG: [Float], sumGXhat: [Float], count: Float,
                                                    lanes _: V.Type) -> BlockedActivation where V.Scalar == Float {
        let y = BlockedActivation(sameLayoutAs: x)
        let (blocks, spatial, width) = (x.blocks, x.spatial, V.scalarCount)
        let (gp, xp, dst) = (UnsafePointer(g.pointer), UnsafePointer(x.pointer), y.pointer)
        let total = V(repeating: count)
        ParallelRows.forEach(x.batch * blocks, total: 2 * x.paddedCount) { row in
            let block = row % blocks
            let m = lanes(mean, block: block, V.self), s = lanes(inverseStd, block: block, V.self)
            let kv = lanes(k, block: block, V.self), sg = lanes(sumG, block: block, V.self)
            let sgx = lanes(sumGXhat, block: block, V.self)
            let base = row * spatial * width
            for p in 0..<spatial {
                let offset = base + p * width
                let xhat = (load(xp + offset, V.self) - m) * s
                let v = kv * (total * load(gp + offset, V.self) - sg - xhat * sgx)
                UnsafeMutableRawPointer(dst + offset).storeBytes(of: v, as: V.self)
            }
        }
        return y
    }
}
