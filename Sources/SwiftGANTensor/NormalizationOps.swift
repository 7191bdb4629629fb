import Foundation
import SwiftGANKernels

/// Batch normalization in training mode as one differentiable op with fused kernels.
///
/// The first-order backward pass runs a fused kernel (two passes over the data). When the backward pass is being
/// recorded (`createGraph: true`, for gradient penalties), the gradient is instead taken through the same
/// computation written with ordinary tensor ops (`batchNormalizedReference`), so it can be differentiated again.
extension Tensor {
    /// The result of `batchNormalized(scale:shift:epsilon:)`.
    public struct BatchNormalization {
        /// `(x - mean) / sqrt(variance + epsilon) * scale + shift`, per channel.
        public var output: Tensor
        /// Per-channel batch mean, shape `[C]` (a constant).
        public var mean: Tensor
        /// Per-channel biased batch variance, shape `[C]` (a constant).
        public var variance: Tensor
    }

    /// Normalizes each channel (axis 1) over the batch and every spatial axis, then applies `scale` and `shift`
    /// (each of shape `[C]`).
    public func batchNormalized(scale: Tensor, shift: Tensor, epsilon: Float) -> BatchNormalization {
        batchNormalized(scale: scale, shift: shift, epsilon: epsilon, leakyReluSlope: nil)
    }

    /// `batchNormalized(scale:shift:epsilon:)` followed by `leakyRelu(slope:)` (`slope` 0: ReLU) in one pass: the
    /// normalized values before the activation are never stored, and the activation's gradient is taken from the
    /// output (for a slope of 0 or more, the output is positive exactly where its input is).
    public func batchNormalizedThenLeakyRelu(scale: Tensor, shift: Tensor, epsilon: Float, slope: Float) -> BatchNormalization {
        precondition(slope >= 0, "batchNormalizedThenLeakyRelu: slope \(slope) must be 0 or more")
        return batchNormalized(scale: scale, shift: shift, epsilon: epsilon, leakyReluSlope: slope)
    }

    func batchNormalized(scale: Tensor, shift: Tensor, epsilon: Float, leakyReluSlope slope: Float?) -> BatchNormalization {
        let (n, c, spatial) = batchNormLayout("batchNormalized")
        precondition(scale.shape == [c] && shift.shape == [c],
                     "batchNormalized: scale \(scale.shape) and shift \(shift.shape) must be [\(c)] for input shape \(shape)")
        let count = n * spatial
        precondition(count > 1, "batchNormalized: needs more than one value per channel, input shape \(shape)")
        let gamma = scale.storage.pointer, beta = shift.storage.pointer
        let y: Tensor
        let meanValues: [Float], varianceValues: [Float], inverseStd: [Float]
        if let blocked = blockedActivation {
            (meanValues, varianceValues, inverseStd) = BlockedOps.statistics(blocked, epsilon: epsilon)
            let a = (0..<c).map { inverseStd[$0] * gamma[$0] }
            let b = (0..<c).map { beta[$0] - meanValues[$0] * a[$0] }
            y = Tensor(shape: shape, storage: TensorStorage(blocked: BlockedOps.affine(blocked, scale: a, shift: b, leakyReluSlope: slope)))
        } else {
            (meanValues, varianceValues, inverseStd) = plainBatchStatistics(epsilon: epsilon)
            let x = storage.pointer
            y = Tensor(shape: shape, initializingWith: { out, total in
                ParallelRows.forEach(n * c, total: total) { row in
                    let ch = row % c
                    let a = inverseStd[ch] * gamma[ch], shiftValue = beta[ch] - meanValues[ch] * a
                    let src = x + row * spatial, dst = out + row * spatial
                    if let slope {
                        let activation = LeakyRelu(slope: slope)
                        for i in 0..<spatial { dst[i] = activation(src[i] * a + shiftValue) }
                    } else {
                        for i in 0..<spatial { dst[i] = src[i] * a + shiftValue }
                    }
                }
            })
        }
        let input = self
        let output = Tensor.recording(y, inputs: [self, scale, shift]) { g in
            if GradientRecording.isEnabled {
                // Recorded backward: differentiate the op-by-op version, which can be differentiated again.
                var reference = input.batchNormalizedReference(scale: scale, shift: shift, epsilon: epsilon)
                if let slope { reference = reference.leakyRelu(slope: slope) }
                return gradient(of: reference, wrt: [input, scale, shift], seed: g, createGraph: true).map { Optional($0) }
            }
            // Through the activation first: its input is positive where its output is.
            let gNormalized = slope.map { Tensor.leakyReluGradient(g, at: y, slope: $0) } ?? g
            let grads = Tensor.batchNormBackward(input: input, gradient: gNormalized, scale: scale, mean: meanValues,
                                                 inverseStd: inverseStd)
            return [grads.input, grads.scale, grads.shift]
        }
        return BatchNormalization(output: output, mean: Tensor(shape: [c], scalars: meanValues),
                                  variance: Tensor(shape: [c], scalars: varianceValues))
    }

    /// The same normalization written with ordinary differentiable tensor ops: the reference for the fused kernels,
    /// and the path taken when a recorded backward pass needs second derivatives.
    public func batchNormalizedReference(scale: Tensor, shift: Tensor, epsilon: Float) -> Tensor {
        let (_, c, _) = batchNormLayout("batchNormalizedReference")
        let axes = [0] + Array(2..<rank)
        let broadcast = [1, c] + [Int](repeating: 1, count: rank - 2)
        let mean = self.mean(alongAxes: axes, keepingDimensions: true)
        let centered = self - mean
        let variance = centered.squared().mean(alongAxes: axes, keepingDimensions: true)
        return centered / (variance + epsilon).squareRoot() * scale.reshaped(to: broadcast) + shift.reshaped(to: broadcast)
    }

    func batchNormLayout(_ name: String) -> (batch: Int, channels: Int, spatial: Int) {
        precondition(rank >= 2, "\(name): input shape \(shape) needs a batch and a channel axis")
        return (shape[0], shape[1], shape[2...].reduce(1, *))
    }

    /// Per-channel mean, biased variance and `1 / sqrt(variance + epsilon)` of a plain `[N, C, spatial...]` tensor.
    func plainBatchStatistics(epsilon: Float) -> (mean: [Float], variance: [Float], inverseStd: [Float]) {
        let (n, c, spatial) = batchNormLayout("batchNormalized")
        let count = n * spatial
        var meanValues = [Float](repeating: 0, count: c), inverseStd = [Float](repeating: 0, count: c)
        var varianceValues = [Float](repeating: 0, count: c)
        let x = storage.pointer
        meanValues.withUnsafeMutableBufferPointer { means in
            varianceValues.withUnsafeMutableBufferPointer { variances in
                inverseStd.withUnsafeMutableBufferPointer { inverses in
                    // One channel per row of the parallel loop: its values are `n` runs of `spatial`.
                    ParallelRows.forEach(c, total: n * c * spatial) { ch in
                        var sum = 0.0
                        for b in 0..<n { sum += RowReduction.sum(x + (b * c + ch) * spatial, spatial) }
                        let mean = sum / Double(count)
                        var squares = 0.0
                        for b in 0..<n {
                            squares += RowReduction.sumOfSquaredDeviations(x + (b * c + ch) * spatial, spatial, from: Float(mean))
                        }
                        let variance = squares / Double(count)
                        means[ch] = Float(mean)
                        variances[ch] = Float(variance)
                        inverses[ch] = Float(1 / (variance + Double(epsilon)).squareRoot())
                    }
                }
            }
        }
        return (meanValues, varianceValues, inverseStd)
    }

    /// Fused first-order backward: with `xhat = (x - mean) * inverseStd` and per-channel sums of `g` and `g * xhat`,
    /// `dx = scale * inverseStd / M * (M g - sum(g) - xhat * sum(g xhat))`, `dscale = sum(g xhat)`, `dshift = sum(g)`.
    static func batchNormBackward(input: Tensor, gradient g: Tensor, scale: Tensor, mean: [Float], inverseStd: [Float])
        -> (input: Tensor, scale: Tensor, shift: Tensor) {
        let (n, c, spatial) = input.batchNormLayout("batchNormBackward")
        let gamma = scale.storage.pointer
        let count = Float(n * spatial)
        if let layout = input.blockedActivation ?? g.blockedActivation {
            // Both operands in the blocked layout (the one not in it is reordered once).
            let xb = input.blocked(like: layout), gb = g.blocked(like: layout)
            let sums = BlockedOps.gradientSums(gb, xb, mean: mean)
            let sumG = sums.sumG.map { Float($0) }
            let sumGXhat = (0..<c).map { Float(sums.sumGCentered[$0] * Double(inverseStd[$0])) }
            let k = (0..<c).map { gamma[$0] * inverseStd[$0] / count }
            let dx = BlockedOps.normalizationInputGradient(gb, xb, mean: mean, inverseStd: inverseStd, k: k, sumG: sumG,
                                                           sumGXhat: sumGXhat, count: count)
            return (Tensor(shape: input.shape, storage: TensorStorage(blocked: dx)), Tensor(shape: [c], scalars: sumGXhat),
                    Tensor(shape: [c], scalars: sumG))
        }
        let x = input.storage.pointer, gp = g.storage.pointer
        var sumG = [Double](repeating: 0, count: c), sumGX = [Double](repeating: 0, count: c)
        sumG.withUnsafeMutableBufferPointer { sumsG in
            sumGX.withUnsafeMutableBufferPointer { sumsGX in
                ParallelRows.forEach(c, total: 2 * n * c * spatial) { ch in
                    var a = 0.0, centered = 0.0
                    for b in 0..<n {
                        let offset = (b * c + ch) * spatial
                        a += RowReduction.sum(gp + offset, spatial)
                        centered += RowReduction.dotWithDeviations(gp + offset, x + offset, spatial, from: mean[ch])
                    }
                    sumsG[ch] = a
                    sumsGX[ch] = centered * Double(inverseStd[ch])
                }
            }
        }
        let dx = Tensor(shape: input.shape, initializingWith: { out, total in
            ParallelRows.forEach(n * c, total: 2 * total) { row in
                let ch = row % c
                let xr = x + row * spatial, gr = gp + row * spatial, dst = out + row * spatial
                let m = mean[ch], s = inverseStd[ch]
                let k = gamma[ch] * s / count
                let meanG = Float(sumG[ch]), meanGX = Float(sumGX[ch])
                for i in 0..<spatial {
                    let xhat = (xr[i] - m) * s
                    dst[i] = k * (count * gr[i] - meanG - xhat * meanGX)
                }
            }
        })
        return (dx, Tensor(shape: [c], scalars: sumGX.map { Float($0) }), Tensor(shape: [c], scalars: sumG.map { Float($0) }))
    }
}

extension Tensor {
    /// `x * scale[c] + shift[c]` for each channel `c` of axis 1, then `max(_, 0)` when `relu` is true, in one pass
    /// split over the cores: batch normalization in evaluation mode (folded into one scale and shift per channel)
    /// fused with the ReLU that follows it. A constant: use it only where no gradient is needed (sampling); the
    /// differentiable path is `x * scale + shift` with broadcasting.
    public func channelAffine(scale: [Float], shift: [Float], relu: Bool) -> Tensor {
        let (n, c, spatial) = batchNormLayout("channelAffine")
        precondition(scale.count == c && shift.count == c, "channelAffine: \(scale.count) scales and \(shift.count) shifts for \(c) channels")
        let x = storage.pointer
        return Tensor(shape: shape, initializingWith: { out, total in
            ParallelRows.forEach(n * c, total: total) { row in
                let a = scale[row % c], b = shift[row % c]
                let src = x + row * spatial, dst = out + row * spatial
                if relu {
                    for i in 0..<spatial { dst[i] = Swift.max(src[i] * a + b, 0) }
                } else {
                    for i in 0..<spatial { dst[i] = src[i] * a + b }
                }
            }
        })
    }
}

/// Sums over one contiguous run of values in 16 float lanes (so the loop vectorizes; a single running sum cannot be
/// reordered and runs one add at a time), each run's total carried on in `Double` by the caller.
enum RowReduction {
    @inline(__always)
    static func load(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
        UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
    }

    /// `sum(p[0..<count])`.
    @inline(__always)
    static func sum(_ p: UnsafePointer<Float>, _ count: Int) -> Double {
        var lanes = SIMD16<Float>(), i = 0
        while i + 16 <= count { lanes += load(p, i); i += 16 }
        var total = Double(lanes.sum())
        while i < count { total += Double(p[i]); i += 1 }
        return total
    }

    /// `sum((p[i] - center)^2)`.
    @inline(__always)
    static func sumOfSquaredDeviations(_ p: UnsafePointer<Float>, _ count: Int, from center: Float) -> Double {
        var lanes = SIMD16<Float>(), i = 0
        let c = SIMD16<Float>(repeating: center)
        while i + 16 <= count { let d = load(p, i) - c; lanes += d * d; i += 16 }
        var total = Double(lanes.sum())
        while i < count { let d = Double(p[i] - center); total += d * d; i += 1 }
        return total
    }

    /// `sum(g[i] * (x[i] - center))`.
    @inline(__always)
    static func dotWithDeviations(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int, from center: Float) -> Double {
        var lanes = SIMD16<Float>(), i = 0
        let c = SIMD16<Float>(repeating: center)
        while i + 16 <= count { lanes += load(g, i) * (load(x, i) - c); i += 16 }
        var total = Double(lanes.sum())
        while i < count { total += Double(g[i] * (x[i] - center)); i += 1 }
        return total
    }
}
