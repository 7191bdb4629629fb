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
        let (n, c, spatial) = batchNormLayout("batchNormalized")
        precondition(scale.shape == [c] && shift.shape == [c],
                     "batchNormalized: scale \(scale.shape) and shift \(shift.shape) must be [\(c)] for input shape \(shape)")
        let count = n * spatial
        precondition(count > 1, "batchNormalized: needs more than one value per channel, input shape \(shape)")
        var meanValues = [Float](repeating: 0, count: c), inverseStd = [Float](repeating: 0, count: c)
        var varianceValues = [Float](repeating: 0, count: c)
        let x = storage.pointer
        for ch in 0..<c {
            var sum = 0.0
            for b in 0..<n {
                let row = x + (b * c + ch) * spatial
                for i in 0..<spatial { sum += Double(row[i]) }
            }
            let mean = sum / Double(count)
            var squares = 0.0
            for b in 0..<n {
                let row = x + (b * c + ch) * spatial
                for i in 0..<spatial { let d = Double(row[i]) - mean; squares += d * d }
            }
            let variance = squares / Double(count)
            meanValues[ch] = Float(mean)
            varianceValues[ch] = Float(variance)
            inverseStd[ch] = Float(1 / (variance + Double(epsilon)).squareRoot())
        }
        let gamma = scale.storage.pointer, beta = shift.storage.pointer
        let y = Tensor(shape: shape, initializingWith: { out, _ in
            for b in 0..<n {
                for ch in 0..<c {
                    let a = inverseStd[ch] * gamma[ch], shiftValue = beta[ch] - meanValues[ch] * a
                    let src = x + (b * c + ch) * spatial, dst = out + (b * c + ch) * spatial
                    for i in 0..<spatial { dst[i] = src[i] * a + shiftValue }
                }
            }
        })
        let input = self
        let output = Tensor.recording(y, inputs: [self, scale, shift]) { g in
            if GradientRecording.isEnabled {
                // Recorded backward: differentiate the op-by-op version, which can be differentiated again.
                let reference = input.batchNormalizedReference(scale: scale, shift: shift, epsilon: epsilon)
                return gradient(of: reference, wrt: [input, scale, shift], seed: g, createGraph: true).map { Optional($0) }
            }
            let grads = Tensor.batchNormBackward(input: input, gradient: g, scale: scale, mean: meanValues, inverseStd: inverseStd)
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

    /// Fused first-order backward: with `xhat = (x - mean) * inverseStd` and per-channel sums of `g` and `g * xhat`,
    /// `dx = scale * inverseStd / M * (M g - sum(g) - xhat * sum(g xhat))`, `dscale = sum(g xhat)`, `dshift = sum(g)`.
    static func batchNormBackward(input: Tensor, gradient g: Tensor, scale: Tensor, mean: [Float], inverseStd: [Float])
        -> (input: Tensor, scale: Tensor, shift: Tensor) {
        let (n, c, spatial) = input.batchNormLayout("batchNormBackward")
        let x = input.storage.pointer, gp = g.storage.pointer, gamma = scale.storage.pointer
        var sumG = [Double](repeating: 0, count: c), sumGX = [Double](repeating: 0, count: c)
        for b in 0..<n {
            for ch in 0..<c {
                let xr = x + (b * c + ch) * spatial, gr = gp + (b * c + ch) * spatial
                let m = mean[ch], s = inverseStd[ch]
                var a = 0.0, bsum = 0.0
                for i in 0..<spatial {
                    a += Double(gr[i])
                    bsum += Double(gr[i] * (xr[i] - m) * s)
                }
                sumG[ch] += a
                sumGX[ch] += bsum
            }
        }
        let count = Float(n * spatial)
        let dx = Tensor(shape: input.shape, initializingWith: { out, _ in
            for b in 0..<n {
                for ch in 0..<c {
                    let xr = x + (b * c + ch) * spatial, gr = gp + (b * c + ch) * spatial, dst = out + (b * c + ch) * spatial
                    let m = mean[ch], s = inverseStd[ch]
                    let k = gamma[ch] * s / count
                    let meanG = Float(sumG[ch]), meanGX = Float(sumGX[ch])
                    for i in 0..<spatial {
                        let xhat = (xr[i] - m) * s
                        dst[i] = k * (count * gr[i] - meanG - xhat * meanGX)
                    }
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
