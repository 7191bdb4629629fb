import Foundation

/// A lookup table of learned vectors, one per class: `[count, dimension]`.
public final class Embedding: Module {
    public let weight: Parameter

    public init<G: RandomNumberGenerator>(count: Int, dimension: Int, initializer: Initializer? = nil, using generator: inout G) {
        let chosen = initializer ?? .normal(mean: 0, standardDeviation: 1 / Float(max(dimension, 1)).squareRoot())
        weight = Parameter(chosen.make(shape: [count, dimension], fanIn: dimension, using: &generator))
    }

    /// The vectors of `indices`, shape `[indices.count, dimension]`.
    public func callAsFunction(_ indices: [Int]) -> Tensor {
        let count = weight.value.shape[0]
        for i in indices {
            precondition(i >= 0 && i < count, "Embedding: class \(i) is out of range for \(count) classes")
        }
        return weight.value.gathering(rows: indices)
    }
}

/// A layer whose behaviour differs between training and evaluation (batch statistics, power iteration).
public protocol TrainingModeSwitchable: AnyObject {
    var isTraining: Bool { get set }
}

/// Spectral normalization (Miyato et al. 2018): divides a weight by an estimate of its largest singular value,
/// `sigma = u^T W v`, where `u` and `v` come from one step of power iteration per training call. Both vectors are part
/// of the model's state (saved in checkpoints) and are constants to autodiff; in evaluation they are left unchanged,
/// so the layer is then exactly `W / (u^T W v)`.
public final class SpectralNorm: Module, TrainingModeSwitchable {
    /// The left singular vector estimate, shape `[rows]` (the weight's first axis).
    public let u: Parameter
    /// The right singular vector estimate, shape `[columns]` (the product of the weight's other axes).
    public let v: Parameter
    public var isTraining = true

    public init<G: RandomNumberGenerator>(rows: Int, columns: Int, using generator: inout G) {
        u = Parameter(SpectralNorm.normalized(Tensor.randomNormal(shape: [rows], using: &generator)), trainable: false)
        v = Parameter(SpectralNorm.normalized(Tensor.randomNormal(shape: [columns], using: &generator)), trainable: false)
    }

    /// `weight / sigma`, differentiable in the weight.
    public func callAsFunction(_ weight: Tensor) -> Tensor {
        let rows = weight.shape[0], columns = weight.scalarCount / max(rows, 1)
        precondition(rows == u.value.scalarCount && columns == v.value.scalarCount,
                     "SpectralNorm: weight shape \(weight.shape) does not match vectors of \(u.value.scalarCount) and \(v.value.scalarCount)")
        let matrix = weight.reshaped(to: [rows, columns])
        if isTraining {
            GradientRecording.withoutRecording {
                let w = matrix.detached
                let nextV = SpectralNorm.normalized(Tensor.matmul(w, u.value.reshaped(to: [rows, 1]), transposeA: true))
                let nextU = SpectralNorm.normalized(Tensor.matmul(w, nextV))
                v.value = nextV.reshaped(to: [columns])
                u.value = nextU.reshaped(to: [rows])
            }
        }
        let uColumn = u.value.reshaped(to: [rows, 1]), vColumn = v.value.reshaped(to: [columns, 1])
        let sigma = Tensor.matmul(Tensor.matmul(uColumn, matrix, transposeA: true), vColumn).reshaped(to: [])
        return weight / sigma
    }

    static func normalized(_ x: Tensor) -> Tensor {
        let norm = Swift.max(x.squared().sum().scalar.squareRoot(), 1e-12)
        return x / norm
    }
}

/// Batch normalization whose scale and shift are chosen per sample by its class (de Vries et al. 2017;
/// as used by Miyato and Koyama 2018): normalize without affine, then `gamma[y] * x + beta[y]`.
public final class ConditionalBatchNorm: Module, TrainingModeSwitchable {
    /// Per-class scale `[classes, C]`, initialized to ones.
    public let scale: Embedding
    /// Per-class shift `[classes, C]`, initialized to zeros.
    public let shift: Embedding
    public let runningMean: Parameter
    public let runningVariance: Parameter
    public let momentum: Float
    public let epsilon: Float
    public var isTraining = true

    public init<G: RandomNumberGenerator>(featureCount: Int, classCount: Int, momentum: Float = 0.1, epsilon: Float = 1e-5,
                                          using generator: inout G) {
        scale = Embedding(count: classCount, dimension: featureCount, initializer: .ones, using: &generator)
        shift = Embedding(count: classCount, dimension: featureCount, initializer: .zeros, using: &generator)
        runningMean = Parameter(Tensor.zeros([featureCount]), trainable: false)
        runningVariance = Parameter(Tensor.ones([featureCount]), trainable: false)
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public func callAsFunction(_ input: Tensor, labels: [Int]) -> Tensor {
        let c = runningMean.value.scalarCount
        precondition(input.rank >= 2 && input.shape[1] == c && labels.count == input.shape[0],
                     "ConditionalBatchNorm: input shape \(input.shape) needs \(c) channels and one label per sample (got \(labels.count))")
        let perSample = [input.shape[0], c] + [Int](repeating: 1, count: input.rank - 2)
        let normalized: Tensor
        if isTraining {
            let count = input.scalarCount / c
            let result = input.batchNormalized(scale: Tensor.ones([c]), shift: Tensor.zeros([c]), epsilon: epsilon)
            GradientRecording.withoutRecording {
                let unbiased = result.variance * (Float(count) / Float(max(count - 1, 1)))
                runningMean.value = runningMean.value * (1 - momentum) + result.mean * momentum
                runningVariance.value = runningVariance.value * (1 - momentum) + unbiased * momentum
            }
            normalized = result.output
        } else {
            let broadcast = [1, c] + [Int](repeating: 1, count: input.rank - 2)
            let inverseStd = GradientRecording.withoutRecording { 1 / (runningVariance.value + epsilon).squareRoot() }
            normalized = (input - runningMean.value.reshaped(to: broadcast)) * inverseStd.reshaped(to: broadcast)
        }
        return normalized * scale(labels).reshaped(to: perSample) + shift(labels).reshaped(to: perSample)
    }
}

/// The hinge loss of the discriminator (Lim and Ye 2017; Miyato et al. 2018): `mean(relu(1 - D(x))) + mean(relu(1 + D(G(z))))`.
public func hingeDiscriminatorLoss(realLogits: Tensor, fakeLogits: Tensor) -> Tensor {
    (1 - realLogits).relu().mean() + (1 + fakeLogits).relu().mean()
}

/// The hinge loss of the generator: `-mean(D(G(z)))`.
public func hingeGeneratorLoss(fakeLogits: Tensor) -> Tensor {
    -fakeLogits.mean()
}
