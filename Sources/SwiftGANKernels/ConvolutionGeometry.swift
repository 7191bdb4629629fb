/// The sizes of one convolution, for 1, 2 or 3 spatial dimensions.
///
/// Convolution here is cross-correlation as in PyTorch: input `[batch, inputChannels, spatial...]`,
/// weight `[outputChannels, inputChannels, kernel...]`, output `[batch, outputChannels, outputSpatial...]`,
/// with `output = (input + paddingBefore + paddingAfter - kernel) / stride + 1` along each axis.
/// `paddingAfter` may differ from `paddingBefore`; it is derived from the three sizes, which lets the same
/// geometry describe a transposed convolution whose output size is not the smallest one possible.
public struct ConvolutionGeometry: Hashable, CustomStringConvertible {
    public var batch: Int
    public var inputChannels: Int
    public var outputChannels: Int
    /// Input spatial size, slowest axis first (`[height, width]` for 2D, `[depth, height, width]` for 3D).
    public var inputSize: [Int]
    /// Output spatial size, same order.
    public var outputSize: [Int]
    public var kernelSize: [Int]
    public var stride: [Int]
    /// Zero padding added before the first input element along each axis.
    public var padding: [Int]

    /// Number of spatial dimensions (1, 2 or 3).
    public var spatialRank: Int { inputSize.count }

    /// Padding after the last element along each axis, implied by the sizes.
    public var paddingAfter: [Int] {
        (0..<spatialRank).map { (outputSize[$0] - 1) * stride[$0] + kernelSize[$0] - inputSize[$0] - padding[$0] }
    }

    public init(batch: Int, inputChannels: Int, outputChannels: Int, inputSize: [Int], outputSize: [Int],
                kernelSize: [Int], stride: [Int], padding: [Int]) {
        self.batch = batch
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    /// The smallest output size of a convolution over `inputSize`: `(in + 2 * padding - kernel) / stride + 1`.
    public static func convolutionOutputSize(inputSize: [Int], kernelSize: [Int], stride: [Int], padding: [Int]) -> [Int] {
        (0..<inputSize.count).map { (inputSize[$0] + 2 * padding[$0] - kernelSize[$0]) / stride[$0] + 1 }
    }

    /// The output size of a transposed convolution: `(in - 1) * stride - 2 * padding + kernel + outputPadding`.
    public static func transposedOutputSize(inputSize: [Int], kernelSize: [Int], stride: [Int], padding: [Int],
                                            outputPadding: [Int]) -> [Int] {
        (0..<inputSize.count).map {
            (inputSize[$0] - 1) * stride[$0] - 2 * padding[$0] + kernelSize[$0] + outputPadding[$0]
        }
    }

    public var inputElementCount: Int { batch * inputChannels * inputSize.reduce(1, *) }
    public var outputElementCount: Int { batch * outputChannels * outputSize.reduce(1, *) }
    public var weightElementCount: Int { outputChannels * inputChannels * kernelSize.reduce(1, *) }

    /// Multiply-adds of one forward pass, times two.
    public var forwardFlops: Double {
        2.0 * Double(batch) * Double(outputChannels) * Double(outputSize.reduce(1, *))
            * Double(inputChannels) * Double(kernelSize.reduce(1, *))
    }

    /// A reason this geometry cannot be computed, or nil when it is valid.
    public var problem: String? {
        let r = spatialRank
        guard (1...3).contains(r) else { return "convolution needs 1 to 3 spatial dimensions, got \(r)" }
        guard outputSize.count == r, kernelSize.count == r, stride.count == r, padding.count == r else {
            return "convolution sizes disagree in rank: \(self)"
        }
        guard batch > 0, inputChannels > 0, outputChannels > 0 else { return "empty convolution: \(self)" }
        for a in 0..<r {
            if inputSize[a] < 1 || outputSize[a] < 1 || kernelSize[a] < 1 || stride[a] < 1 || padding[a] < 0 {
                return "invalid convolution sizes: \(self)"
            }
            // Rows past the last window may go unused (floor division), at most stride - 1 of them;
            // a window lying wholly in the padding is refused.
            let after = paddingAfter[a]
            if after < -(stride[a] - 1) || after > kernelSize[a] - 1 {
                return "output size \(outputSize) does not fit input \(inputSize) with kernel \(kernelSize), stride \(stride), padding \(padding)"
            }
        }
        return nil
    }

    public var description: String {
        "batch \(batch), channels \(inputChannels)->\(outputChannels), size \(inputSize)->\(outputSize), kernel \(kernelSize), stride \(stride), padding \(padding)"
    }
}
