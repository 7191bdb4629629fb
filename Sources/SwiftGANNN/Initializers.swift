import Foundation

/// How a layer's weights start.
public enum Initializer {
    /// Normal with the given mean and standard deviation; DCGAN uses `normal(mean: 0, standardDeviation: 0.02)`.
    case normal(mean: Float, standardDeviation: Float)
    /// Uniform in `[-bound, bound]`.
    case uniform(bound: Float)
    /// PyTorch's default for linear and convolution weights: uniform in `±1 / sqrt(fanIn)`.
    case fanInUniform
    /// All zeros.
    case zeros
    /// All ones.
    case ones

    /// DCGAN's initialization (Radford et al. 2015): weights from N(0, 0.02).
    public static let dcgan = Initializer.normal(mean: 0, standardDeviation: 0.02)

    /// A tensor of `shape`; `fanIn` is the number of inputs each output sees.
    public func make<G: RandomNumberGenerator>(shape: [Int], fanIn: Int, using generator: inout G) -> Tensor {
        switch self {
        case .normal(let mean, let std):
            return Tensor.randomNormal(shape: shape, mean: mean, standardDeviation: std, using: &generator)
        case .uniform(let bound):
            return Tensor.randomUniform(shape: shape, lowerBound: -bound, upperBound: bound, using: &generator)
        case .fanInUniform:
            let bound = 1 / Float(max(fanIn, 1)).squareRoot()
            return Tensor.randomUniform(shape: shape, lowerBound: -bound, upperBound: bound, using: &generator)
        case .zeros:
            return Tensor.zeros(shape)
        case .ones:
            return Tensor.ones(shape)
        }
    }
}
