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
                OneDNN.convolution(g, pass: .forward, a: input, b: weight, result: output)
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
                OneDNN.convolution(g, pass: .backwardData, a: gradOutput, b: weight, result: gradInput)
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
                OneDNN.convolution(g, pass: .backwardWeights, a: input, b: gradOutput, result: gradWeight)
            }
        }
    }
}
