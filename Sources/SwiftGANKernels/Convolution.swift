/// Fast convolution kernels (oneDNN), with the same signatures as `ReferenceConvolution`.
///
/// Buffers are plain row-major: input `[N, C, spatial...]`, weight `[O, C, kernel...]`, output `[N, O, spatial...]`.
/// The geometry must be valid (`geometry.problem == nil`); callers check it and report their own error.
public enum Convolution {
    /// `output = conv(input, weight)` (cross-correlation, no bias).
    public static func forward(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>) {
        precondition(g.problem == nil, g.problem ?? "")
        KernelProfile.measure("conv forward \(g.spatialRank)D") {
            OneDNN.convolution(g, pass: .forward, a: input, b: weight, result: output)
        }
    }

    /// The gradient of the forward pass with respect to its input; equals a transposed convolution of `gradOutput`.
    public static func backwardData(_ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    gradInput: UnsafeMutablePointer<Float>) {
        precondition(g.problem == nil, g.problem ?? "")
        KernelProfile.measure("conv backward data \(g.spatialRank)D") {
            OneDNN.convolution(g, pass: .backwardData, a: gradOutput, b: weight, result: gradInput)
        }
    }

    /// The gradient of the forward pass with respect to its weight.
    public static func backwardWeights(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                       gradWeight: UnsafeMutablePointer<Float>) {
        precondition(g.problem == nil, g.problem ?? "")
        KernelProfile.measure("conv backward weights \(g.spatialRank)D") {
            OneDNN.convolution(g, pass: .backwardWeights, a: input, b: gradOutput, result: gradWeight)
        }
    }
}
