import Foundation
import SwiftGANKernels

/// Convolutions as three differentiable primitives, each one's gradient made of the other two, so that second
/// derivatives (gradient penalties) go through convolutions like any other op.
///
/// With `A_w` the linear map "convolve with weight `w`":
/// - `convolution(x, w) = A_w x`, with input gradient `A_w^T g` and weight gradient `weightGradient(x, g)`;
/// - `convolutionBackwardData(g, w) = A_w^T g` (this is the transposed convolution);
/// - `convolutionWeightGradient(x, g)`, the weight `W` with `<W, V> = <g, A_V x>` for every `V`.
extension Tensor {
    static func convolutionGeometry(input: [Int], weight: [Int], stride: [Int], padding: [Int], name: String) -> ConvolutionGeometry {
        let spatial = input.count - 2
        precondition(spatial >= 1 && spatial <= 3 && weight.count == input.count,
                     "\(name): input shape \(input) and weight shape \(weight) need rank 3, 4 or 5 each")
        precondition(stride.count == spatial && padding.count == spatial,
                     "\(name): stride \(stride) and padding \(padding) need \(spatial) values for input shape \(input)")
        precondition(weight[1] == input[1],
                     "\(name): input shape \(input) has \(input[1]) channels but weight shape \(weight) expects \(weight[1])")
        let size = Array(input[2...]), kernel = Array(weight[2...])
        let out = ConvolutionGeometry.convolutionOutputSize(inputSize: size, kernelSize: kernel, stride: stride, padding: padding)
        let g = ConvolutionGeometry(batch: input[0], inputChannels: input[1], outputChannels: weight[0], inputSize: size,
                                    outputSize: out, kernelSize: kernel, stride: stride, padding: padding)
        if let problem = g.problem { preconditionFailure("\(name): input shape \(input), weight shape \(weight): \(problem)") }
        return g
    }

    /// Cross-correlation of `input [N, C, spatial...]` with `weight [O, C, kernel...]` (1, 2 or 3 spatial axes).
    public static func convolution(_ input: Tensor, _ weight: Tensor, stride: [Int], padding: [Int]) -> Tensor {
        let g = convolutionGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding, name: "convolution")
        return convolution(input, weight, geometry: g)
    }

    /// Transposed convolution of `input [N, C, spatial...]` with `weight [C, O, kernel...]` (PyTorch's layout for
    /// `ConvTranspose`): the gradient of a convolution with respect to its input. Output size along each axis is
    /// `(in - 1) * stride - 2 * padding + kernel + outputPadding`.
    public static func transposedConvolution(_ input: Tensor, _ weight: Tensor, stride: [Int], padding: [Int],
                                             outputPadding: [Int]? = nil) -> Tensor {
        let g = transposedConvolutionGeometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding,
                                              outputPadding: outputPadding, name: "transposedConvolution")
        return convolutionBackwardData(input, weight, geometry: g)
    }

    /// The convolution whose input gradient is the transposed convolution of `input` with `weight`: it maps the
    /// transposed convolution's output back to its input.
    static func transposedConvolutionGeometry(input: [Int], weight: [Int], stride: [Int], padding: [Int],
                                              outputPadding: [Int]?, name: String) -> ConvolutionGeometry {
        let spatial = input.count - 2
        precondition(spatial >= 1 && spatial <= 3 && weight.count == input.count,
                     "\(name): input shape \(input) and weight shape \(weight) need rank 3, 4 or 5 each")
        precondition(weight[0] == input[1],
                     "\(name): input shape \(input) has \(input[1]) channels but weight shape \(weight) expects \(weight[0])")
        let kernel = Array(weight[2...]), size = Array(input[2...])
        let extra = outputPadding ?? [Int](repeating: 0, count: spatial)
        let out = ConvolutionGeometry.transposedOutputSize(inputSize: size, kernelSize: kernel, stride: stride,
                                                           padding: padding, outputPadding: extra)
        let g = ConvolutionGeometry(batch: input[0], inputChannels: weight[1], outputChannels: weight[0],
                                    inputSize: out, outputSize: size, kernelSize: kernel, stride: stride, padding: padding)
        if let problem = g.problem {
            preconditionFailure("\(name): input shape \(input), weight shape \(weight), output padding \(extra): \(problem)")
        }
        return g
    }

    /// Inference only (records no gradient): `stages` applied in turn to `input`, each a transposed convolution
    /// followed by `activation(x + bias)` per output channel. Equal to the same ops one by one, but the activations
    /// stay in oneDNN's blocked layout between stages and bias and activation take one pass; a DCGAN generator in
    /// evaluation mode, its batch normalization folded into weights and bias, is such a chain.
    public static func transposedConvolutionChain(_ input: Tensor, stages: [TransposedConvolutionStage]) -> Tensor {
        precondition(!stages.isEmpty, "transposedConvolutionChain: no stages")
        var shape = input.shape
        var kernelStages: [TransposedConvolutionChain.Stage] = []
        for stage in stages {
            let g = transposedConvolutionGeometry(input: shape, weight: stage.weight.shape, stride: stage.stride,
                                                  padding: stage.padding, outputPadding: nil, name: "transposedConvolutionChain")
            kernelStages.append(TransposedConvolutionChain.Stage(geometry: g, weight: stage.weight.scalars, bias: stage.bias,
                                                                 activation: stage.activation))
            shape = [g.batch, g.inputChannels] + g.inputSize
        }
        return Tensor(shape: shape, initializingWith: { out, _ in
            TransposedConvolutionChain.run(kernelStages, input: input.storage.pointer, output: out)
        })
    }

    static func convolution(_ x: Tensor, _ w: Tensor, geometry g: ConvolutionGeometry) -> Tensor {
        let shape = [g.batch, g.outputChannels] + g.outputSize
        let y: Tensor
        if keepsBlockedActivations(g) {
            y = activationResult(shape: shape) { plainOutput in
                Convolution.forward(g, input: x.activationOperand, weight: w.storage.pointer, plainOutput: plainOutput)
            }
        } else {
            y = Tensor(shape: shape, initializingWith: { out, _ in
                Convolution.forward(g, input: x.storage.pointer, weight: w.storage.pointer, output: out)
            })
        }
        return recording(y, inputs: [x, w]) { gy in
            [!x.needsGradient(asInput: 0) ? nil : convolutionBackwardData(gy, w, geometry: g),
             !w.needsGradient(asInput: 1) ? nil : convolutionWeightGradient(x, gy, geometry: g)]
        }
    }

    static func convolutionBackwardData(_ gy: Tensor, _ w: Tensor, geometry g: ConvolutionGeometry) -> Tensor {
        let shape = [g.batch, g.inputChannels] + g.inputSize
        let y: Tensor
        if keepsBlockedActivations(g) {
            y = activationResult(shape: shape) { plainOutput in
                Convolution.backwardData(g, gradOutput: gy.activationOperand, weight: w.storage.pointer, plainGradInput: plainOutput)
            }
        } else {
            y = Tensor(shape: shape, initializingWith: { out, _ in
                Convolution.backwardData(g, gradOutput: gy.storage.pointer, weight: w.storage.pointer, gradInput: out)
            })
        }
        return recording(y, inputs: [gy, w]) { upstream in
            [!gy.needsGradient(asInput: 0) ? nil : convolution(upstream, w, geometry: g),
             !w.needsGradient(asInput: 1) ? nil : convolutionWeightGradient(upstream, gy, geometry: g)]
        }
    }

    static func convolutionWeightGradient(_ x: Tensor, _ gy: Tensor, geometry g: ConvolutionGeometry) -> Tensor {
        let y = Tensor(shape: [g.outputChannels, g.inputChannels] + g.kernelSize, initializingWith: { out, _ in
            if keepsBlockedActivations(g) {
                Convolution.backwardWeights(g, input: x.activationOperand, gradOutput: gy.activationOperand, gradWeight: out)
            } else {
                Convolution.backwardWeights(g, input: x.storage.pointer, gradOutput: gy.storage.pointer, gradWeight: out)
            }
        })
        return recording(y, inputs: [x, gy]) { upstream in
            [!x.needsGradient(asInput: 0) ? nil : convolutionBackwardData(gy, upstream, geometry: g),
             !gy.needsGradient(asInput: 1) ? nil : convolution(x, upstream, geometry: g)]
        }
    }

    /// Whether convolutions hand activations to each other in oneDNN's blocked layout (see `BlockedActivation`).
    /// On by default; `SWIFTGAN_BLOCKED_ACTIVATIONS=0` (or `false`, `off`, `no`) turns it off (every activation
    /// plain, as a reference and for measuring what the layout saves).
    nonisolated(unsafe) public static var blockedActivationsEnabled =
        EngineSettings.isOn("SWIFTGAN_BLOCKED_ACTIVATIONS")

    static func keepsBlockedActivations(_ g: ConvolutionGeometry) -> Bool {
        blockedActivationsEnabled && Convolution.acceptsBlockedActivations(g)
    }

    /// The blocked copy of the values, when a convolution left them in that layout for this shape.
    var blockedActivation: BlockedActivation? {
        guard let b = storage.blocked, b.shape == shape else { return nil }
        return b
    }

    /// The operand a convolution pass reads: the blocked copy when there is one, else the plain buffer.
    var activationOperand: ActivationOperand {
        if let b = blockedActivation { return .blocked(b) }
        return .plain(storage.pointer)
    }

    /// A tensor of `shape` from a pass that returns a blocked result, or writes a plain one to the buffer it asks for.
    static func activationResult(shape: [Int], _ run: (() -> UnsafeMutablePointer<Float>) -> BlockedActivation?) -> Tensor {
        var plain: TensorStorage? = nil
        let blocked = run {
            let storage = TensorStorage(uninitializedCount: shape.reduce(1, *))
            plain = storage
            return storage.pointer
        }
        if let blocked { return Tensor(shape: shape, storage: TensorStorage(blocked: blocked)) }
        return Tensor(shape: shape, storage: plain!)
    }

    /// This tensor in `layout`'s blocked layout: its own blocked copy when that is in the same layout, else its
    /// plain values reordered.
    func blocked(like layout: BlockedActivation) -> BlockedActivation {
        if let b = blockedActivation, b.hasSameLayout(as: layout) { return b }
        return BlockedActivation(plain: storage.pointer, sameLayoutAs: layout)
    }
}

/// One stage of `Tensor.transposedConvolutionChain`: a transposed convolution (`weight [in, out, kernel...]`, no output
/// padding), then `activation(x + bias)` per output channel.
public struct TransposedConvolutionStage {
    public typealias Activation = TransposedConvolutionChain.Activation
    public var weight: Tensor
    public var bias: [Float]
    public var stride: [Int]
    public var padding: [Int]
    public var activation: Activation

    public init(weight: Tensor, bias: [Float], stride: [Int], padding: [Int], activation: Activation) {
        precondition(weight.rank >= 3 && bias.count == weight.shape[1],
                     "TransposedConvolutionStage: \(bias.count) biases for weight shape \(weight.shape)")
        self.weight = weight
        self.bias = bias
        self.stride = stride
        self.padding = padding
        self.activation = activation
    }
}
