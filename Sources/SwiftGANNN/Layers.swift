/// A fully connected layer: `y = x W^T + b` for `x` of shape `[batch, inputSize]`.
public final class Linear: Layer {
    /// Shape `[outputSize, inputSize]`.
    public let weight: Parameter
    /// Shape `[outputSize]`, or nil without a bias.
    public let bias: Parameter?

    /// Present when the weight is spectrally normalized.
    public let spectralNorm: SpectralNorm?

    public init<G: RandomNumberGenerator>(inputSize: Int, outputSize: Int, bias: Bool = true, spectralNormalization: Bool = false,
                                          initializer: Initializer = .fanInUniform, using generator: inout G) {
        weight = Parameter(initializer.make(shape: [outputSize, inputSize], fanIn: inputSize, using: &generator))
        self.bias = bias ? Parameter(Initializer.fanInUniform.make(shape: [outputSize], fanIn: inputSize, using: &generator)) : nil
        spectralNorm = spectralNormalization ? SpectralNorm(rows: outputSize, columns: inputSize, using: &generator) : nil
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let w = spectralNorm.map { $0(weight.value) } ?? weight.value
        let y = Tensor.matmul(input, w, transposeB: true)
        return bias.map { y + $0.value } ?? y
    }
}

/// A convolution over 1, 2 or 3 spatial axes: input `[N, C, spatial...]`, weight `[O, C, kernel...]`.
public final class Convolution: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: [Int]
    public let padding: [Int]
    /// Present when the weight is spectrally normalized.
    public let spectralNorm: SpectralNorm?

    /// - Parameters:
    ///   - spatialRank: 2 for images, 3 for voxel grids, 1 for sequences.
    public init<G: RandomNumberGenerator>(spatialRank: Int = 2, inputChannels: Int, outputChannels: Int, kernelSize: Int,
                                          stride: Int = 1, padding: Int = 0, bias: Bool = true, spectralNormalization: Bool = false,
                                          initializer: Initializer = .fanInUniform, using generator: inout G) {
        let kernel = [Int](repeating: kernelSize, count: spatialRank)
        let fanIn = inputChannels * kernel.reduce(1, *)
        weight = Parameter(initializer.make(shape: [outputChannels, inputChannels] + kernel, fanIn: fanIn, using: &generator))
        self.bias = bias ? Parameter(Initializer.fanInUniform.make(shape: [outputChannels], fanIn: fanIn, using: &generator)) : nil
        self.stride = [Int](repeating: stride, count: spatialRank)
        self.padding = [Int](repeating: padding, count: spatialRank)
        spectralNorm = spectralNormalization ? SpectralNorm(rows: outputChannels, columns: fanIn, using: &generator) : nil
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let w = spectralNorm.map { $0(weight.value) } ?? weight.value
        let y = Tensor.convolution(input, w, stride: stride, padding: padding)
        return bias.map { y + $0.value.reshaped(to: [1, -1] + [Int](repeating: 1, count: stride.count)) } ?? y
    }
}

/// A transposed convolution ("deconvolution"), the upsampling layer of image generators.
/// Weight `[inputChannels, outputChannels, kernel...]` as in PyTorch's `ConvTranspose`.
public final class TransposedConvolution: Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: [Int]
    public let padding: [Int]
    public let outputPadding: [Int]

    public init<G: RandomNumberGenerator>(spatialRank: Int = 2, inputChannels: Int, outputChannels: Int, kernelSize: Int,
                                          stride: Int = 1, padding: Int = 0, outputPadding: Int = 0, bias: Bool = true,
                                          initializer: Initializer = .fanInUniform, using generator: inout G) {
        let kernel = [Int](repeating: kernelSize, count: spatialRank)
        // PyTorch computes the fan-in of a transposed convolution from weight.shape[1] * kernel.
        let fanIn = outputChannels * kernel.reduce(1, *)
        weight = Parameter(initializer.make(shape: [inputChannels, outputChannels] + kernel, fanIn: fanIn, using: &generator))
        self.bias = bias ? Parameter(Initializer.fanInUniform.make(shape: [outputChannels], fanIn: fanIn, using: &generator)) : nil
        self.stride = [Int](repeating: stride, count: spatialRank)
        self.padding = [Int](repeating: padding, count: spatialRank)
        self.outputPadding = [Int](repeating: outputPadding, count: spatialRank)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let y = Tensor.transposedConvolution(input, weight.value, stride: stride, padding: padding, outputPadding: outputPadding)
        return bias.map { y + $0.value.reshaped(to: [1, -1] + [Int](repeating: 1, count: stride.count)) } ?? y
    }
}

/// 2D convolution, the common case: `Conv2D(inputChannels:outputChannels:kernelSize:stride:padding:)`.
public typealias Conv2D = Convolution
/// 2D transposed convolution.
public typealias ConvTranspose2D = TransposedConvolution

/// Batch normalization over every axis but the channel axis (1): works for `[N, C]`, `[N, C, H, W]` and
/// `[N, C, D, H, W]`.
///
/// Training uses the batch's mean and (biased) variance and updates running averages with `momentum`
/// (the unbiased variance, as PyTorch does); evaluation uses the running averages.
public final class BatchNorm: Layer, TrainingModeSwitchable {
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVariance: Parameter
    public let momentum: Float
    public let epsilon: Float
    /// Batch statistics (true) or running averages (false); see `Module.setTraining(_:)`.
    public var isTraining = true

    public init<G: RandomNumberGenerator>(featureCount: Int, momentum: Float = 0.1, epsilon: Float = 1e-5,
                                          weightInitializer: Initializer = .ones, using generator: inout G) {
        weight = Parameter(weightInitializer.make(shape: [featureCount], fanIn: 1, using: &generator))
        bias = Parameter(Tensor.zeros([featureCount]))
        runningMean = Parameter(Tensor.zeros([featureCount]), trainable: false)
        runningVariance = Parameter(Tensor.ones([featureCount]), trainable: false)
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        precondition(input.rank >= 2 && input.shape[1] == weight.value.scalarCount,
                     "BatchNorm: input shape \(input.shape) does not have \(weight.value.scalarCount) channels on axis 1")
        let broadcastShape = [1, input.shape[1]] + [Int](repeating: 1, count: input.rank - 2)
        if !isTraining {
            if !GradientRecording.isRecording { return evaluationAffine(input, relu: false) }
            // y = x * a + b per channel, with a = gamma / sqrt(runningVariance + eps), b = beta - runningMean * a.
            let inverseStd = GradientRecording.withoutRecording { 1 / (runningVariance.value + epsilon).squareRoot() }
            let a = weight.value * inverseStd
            let b = bias.value - runningMean.value * a
            return input * a.reshaped(to: broadcastShape) + b.reshaped(to: broadcastShape)
        }
        return trainingForward(input, leakyReluSlope: nil)
    }

    /// Normalization with the batch's statistics, updating the running ones; with a slope, the leaky ReLU after it
    /// in the same pass (`Tensor.batchNormalizedThenLeakyRelu`).
    func trainingForward(_ input: Tensor, leakyReluSlope slope: Float?) -> Tensor {
        let count = input.scalarCount / input.shape[1]
        precondition(count > 1, "BatchNorm: training needs more than one value per channel, input shape \(input.shape)")
        let result = slope.map { input.batchNormalizedThenLeakyRelu(scale: weight.value, shift: bias.value, epsilon: epsilon, slope: $0) }
            ?? input.batchNormalized(scale: weight.value, shift: bias.value, epsilon: epsilon)
        GradientRecording.withoutRecording {
            let m = momentum
            let unbiased = result.variance * (Float(count) / Float(count - 1))
            runningMean.value = runningMean.value * (1 - m) + result.mean * m
            runningVariance.value = runningVariance.value * (1 - m) + unbiased * m
        }
        return result.output
    }
}

extension BatchNorm {
    /// `relu(self(input))`; in evaluation mode without gradient recording (sampling) the normalization, folded into
    /// one scale and shift per channel, and the ReLU run as one pass.
    public func normalizedThenReLU(_ input: Tensor) -> Tensor {
        normalizedThenLeakyRelu(input, slope: 0)
    }

    /// `self(input).leakyRelu(slope:)` (`slope` 0 or more); in training mode as one op (the normalized values
    /// before the activation are not kept), in evaluation mode without gradient recording with a ReLU fused too.
    public func normalizedThenLeakyRelu(_ input: Tensor, slope: Float) -> Tensor {
        if !isTraining && !GradientRecording.isRecording && slope == 0 { return evaluationAffine(input, relu: true) }
        guard isTraining && slope >= 0 else { return self(input).leakyRelu(slope: slope) }
        precondition(input.rank >= 2 && input.shape[1] == weight.value.scalarCount,
                     "BatchNorm: input shape \(input.shape) does not have \(weight.value.scalarCount) channels on axis 1")
        return trainingForward(input, leakyReluSlope: slope)
    }

    /// The evaluation-mode normalization as one scale and shift per channel: `x * a + b` with
    /// `a = gamma / sqrt(runningVariance + eps)`, `b = beta - runningMean * a`.
    public var evaluationScaleAndShift: (scale: [Float], shift: [Float]) {
        let gamma = weight.value.scalars, beta = bias.value.scalars
        let mean = runningMean.value.scalars, variance = runningVariance.value.scalars
        let scale = (0..<gamma.count).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        let shift = (0..<gamma.count).map { beta[$0] - mean[$0] * scale[$0] }
        return (scale, shift)
    }

    /// `x * a + b` per channel (see `evaluationScaleAndShift`), as a constant, in one pass.
    func evaluationAffine(_ input: Tensor, relu: Bool) -> Tensor {
        precondition(input.rank >= 2 && input.shape[1] == weight.value.scalarCount,
                     "BatchNorm: input shape \(input.shape) does not have \(weight.value.scalarCount) channels on axis 1")
        let (scale, shift) = evaluationScaleAndShift
        return input.channelAffine(scale: scale, shift: shift, relu: relu)
    }
}

/// 2D batch normalization (`[N, C, H, W]`).
public typealias BatchNorm2D = BatchNorm

/// `max(x, 0)`.
public final class ReLU: Layer {
    public init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.relu() }
}

/// `x` where positive, `slope * x` elsewhere.
public final class LeakyReLU: Layer {
    public let slope: Float
    public init(slope: Float = 0.2) { self.slope = slope }
    public func callAsFunction(_ input: Tensor) -> Tensor { input.leakyRelu(slope: slope) }
}

/// Hyperbolic tangent.
public final class Tanh: Layer {
    public init() {}
    public func callAsFunction(_ input: Tensor) -> Tensor { input.tanh() }
}

/// Layers applied one after another.
public final class Sequential: Layer {
    public let layers: [any Layer]
    public init(_ layers: [any Layer]) { self.layers = layers }
    public func callAsFunction(_ input: Tensor) -> Tensor { layers.reduce(input) { $1($0) } }
}
