import Foundation

/// Fast convolution kernels (oneDNN, or one matrix product for `WholeWindowConvolution`'s shapes), with the same
/// signatures as `ReferenceConvolution`.
///
/// Buffers are plain row-major: input `[N, C, spatial...]`, weight `[O, C, kernel...]`, output `[N, O, spatial...]`.
/// The geometry must be valid (`geometry.problem == nil`); callers check it and report their own error.
public enum Convolution {
    /// Profile names: the matrix-product route when it is taken, and under `SWIFTGAN_PROFILE=shapes` the layer's shape.
    static func label(_ g: ConvolutionGeometry, wholeWindow: Bool) -> String {
        let via = wholeWindow ? " (whole-window GEMM)" : ""
        guard KernelProfile.byShape else { return via }
        return via + " \(g.inputChannels)x\(g.inputSize) -> \(g.outputChannels)x\(g.outputSize) (\(String(format: "%.2f", g.forwardFlops / 1e9)) GFLOP)"
    }

    /// `output = conv(input, weight)` (cross-correlation, no bias).
    public static func forward(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>) {
        precondition(g.problem == nil, g.problem ?? "")
        let wholeWindow = WholeWindowConvolution.applies(to: g)
        KernelProfile.measure("conv forward \(g.spatialRank)D" + label(g, wholeWindow: wholeWindow)) {
            if wholeWindow {
                WholeWindowConvolution.forward(g, input: input, weight: weight, output: output)
            } else {
                OneDNN.convolution(g, pass: .forward, a: .plain(input), weights: weight, output: .plain(UnsafeMutableRawPointer(output)))
            }
        }
    }

    /// The gradient of the forward pass with respect to its input; equals a transposed convolution of `gradOutput`.
    public static func backwardData(_ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    gradInput: UnsafeMutablePointer<Float>) {
        precondition(g.problem == nil, g.problem ?? "")
        let wholeWindow = WholeWindowConvolution.applies(to: g)
        KernelProfile.measure("conv backward data \(g.spatialRank)D" + label(g, wholeWindow: wholeWindow)) {
            if wholeWindow {
                WholeWindowConvolution.backwardData(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput)
            } else {
                OneDNN.convolution(g, pass: .backwardData, a: .plain(gradOutput), weights: weight,
                                   output: .plain(UnsafeMutableRawPointer(gradInput)))
            }
        }
    }

    /// The gradient of the forward pass with respect to its weight.
    public static func backwardWeights(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                       gradWeight: UnsafeMutablePointer<Float>) {
        precondition(g.problem == nil, g.problem ?? "")
        let wholeWindow = WholeWindowConvolution.applies(to: g)
        KernelProfile.measure("conv backward weights \(g.spatialRank)D" + label(g, wholeWindow: wholeWindow)) {
            if wholeWindow {
                WholeWindowConvolution.backwardWeights(g, input: input, gradOutput: gradOutput, gradWeight: gradWeight)
            } else {
                OneDNN.convolution(g, pass: .backwardWeights, a: .plain(input), gradOutput: .plain(gradOutput),
                                   output: .plain(UnsafeMutableRawPointer(gradWeight)))
            }
        }
    }

    // MARK: Activations that stay in oneDNN's layout

    /// Whether the passes for `g` take and give `BlockedActivation`s: all shapes except the whole-window ones, which
    /// run as one matrix product on plain buffers.
    public static func acceptsBlockedActivations(_ g: ConvolutionGeometry) -> Bool {
        g.problem == nil && !WholeWindowConvolution.applies(to: g)
    }

    /// `forward`, with the input plain or blocked; the output is returned blocked when oneDNN chose a channel-blocked
    /// layout for it, and written to the buffer `plainOutput` gives otherwise (then the result is nil).
    public static func forward(_ g: ConvolutionGeometry, input: ActivationOperand, weight: UnsafePointer<Float>,
                               plainOutput: () -> UnsafeMutablePointer<Float>) -> BlockedActivation? {
        precondition(acceptsBlockedActivations(g), "Convolution: \(g) does not take blocked activations")
        return KernelProfile.measure("conv forward \(g.spatialRank)D" + label(g, wholeWindow: false)) {
            withoutActuallyEscaping(plainOutput) { plainOutput in
                OneDNN.convolution(g, pass: .forward, a: input, weights: weight, output: .blockedOrPlain(plainOutput))
            }
        }
    }

    /// `backwardData`, with the output gradient plain or blocked; the input gradient as `forward` returns its output.
    public static func backwardData(_ g: ConvolutionGeometry, gradOutput: ActivationOperand, weight: UnsafePointer<Float>,
                                    plainGradInput: () -> UnsafeMutablePointer<Float>) -> BlockedActivation? {
        precondition(acceptsBlockedActivations(g), "Convolution: \(g) does not take blocked activations")
        return KernelProfile.measure("conv backward data \(g.spatialRank)D" + label(g, wholeWindow: false)) {
            withoutActuallyEscaping(plainGradInput) { plainGradInput in
                OneDNN.convolution(g, pass: .backwardData, a: gradOutput, weights: weight, output: .blockedOrPlain(plainGradInput))
            }
        }
    }

    /// `backwardWeights`, with the input and output gradient each plain or blocked.
    public static func backwardWeights(_ g: ConvolutionGeometry, input: ActivationOperand, gradOutput: ActivationOperand,
                                       gradWeight: UnsafeMutablePointer<Float>) {
        precondition(acceptsBlockedActivations(g), "Convolution: \(g) does not take blocked activations")
        KernelProfile.measure("conv backward weights \(g.spatialRank)D" + label(g, wholeWindow: false)) {
            _ = OneDNN.convolution(g, pass: .backwardWeights, a: input, gradOutput: gradOutput,
                                   output: .plain(UnsafeMutableRawPointer(gradWeight)))
        }
    }
}

/// An activation operand of a convolution pass: a plain row-major `[N, C, spatial...]` buffer or a blocked one.
public enum ActivationOperand {
    case plain(UnsafePointer<Float>)
    case blocked(BlockedActivation)
}
