/// Straight-loop convolutions: slow, obviously correct, the yardstick for the fast kernels.
///
/// All three share one loop over (batch, output channel, output position, input channel, kernel position),
/// visiting each input-weight-output triple that the convolution connects.
public enum ReferenceConvolution {
    /// Padded 3D view of a geometry (2D and 1D get unit leading axes).
    struct Dims {
        var inD = 1, inH = 1, inW = 1, outD = 1, outH = 1, outW = 1
        var kD = 1, kH = 1, kW = 1, sD = 1, sH = 1, sW = 1, pD = 0, pH = 0, pW = 0
        init(_ g: ConvolutionGeometry) {
            let r = g.spatialRank
            func pick(_ a: [Int], _ i: Int, _ fallback: Int) -> Int { i >= 0 ? a[i] : fallback }
            // Axis index into the arrays for depth, height, width.
            let dI = r - 3, hI = r - 2, wI = r - 1
            inD = pick(g.inputSize, dI, 1); inH = pick(g.inputSize, hI, 1); inW = g.inputSize[wI]
            outD = pick(g.outputSize, dI, 1); outH = pick(g.outputSize, hI, 1); outW = g.outputSize[wI]
            kD = pick(g.kernelSize, dI, 1); kH = pick(g.kernelSize, hI, 1); kW = g.kernelSize[wI]
            sD = pick(g.stride, dI, 1); sH = pick(g.stride, hI, 1); sW = g.stride[wI]
            pD = pick(g.padding, dI, 0); pH = pick(g.padding, hI, 0); pW = g.padding[wI]
        }
    }

    /// Calls `body(inputIndex, weightIndex, outputIndex)` for every connected triple.
    @inline(__always)
    static func forEachConnection(_ g: ConvolutionGeometry, _ body: (Int, Int, Int) -> Void) {
        let d = Dims(g)
        let inSpatial = d.inD * d.inH * d.inW, outSpatial = d.outD * d.outH * d.outW, kSpatial = d.kD * d.kH * d.kW
        for n in 0..<g.batch {
            for oc in 0..<g.outputChannels {
                for od in 0..<d.outD { for oh in 0..<d.outH { for ow in 0..<d.outW {
                    let outIndex = (n * g.outputChannels + oc) * outSpatial + (od * d.outH + oh) * d.outW + ow
                    for ic in 0..<g.inputChannels {
                        for kd in 0..<d.kD {
                            let id = od * d.sD - d.pD + kd
                            if id < 0 || id >= d.inD { continue }
                            for kh in 0..<d.kH {
                                let ih = oh * d.sH - d.pH + kh
                                if ih < 0 || ih >= d.inH { continue }
                                for kw in 0..<d.kW {
                                    let iw = ow * d.sW - d.pW + kw
                                    if iw < 0 || iw >= d.inW { continue }
                                    let inIndex = (n * g.inputChannels + ic) * inSpatial + (id * d.inH + ih) * d.inW + iw
                                    let wIndex = (oc * g.inputChannels + ic) * kSpatial + (kd * d.kH + kh) * d.kW + kw
                                    body(inIndex, wIndex, outIndex)
                                }
                            }
                        }
                    }
                }}}
            }
        }
    }

    /// `output = conv(input, weight)`.
    public static func forward(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>) {
        output.initialize(repeating: 0, count: g.outputElementCount)
        forEachConnection(g) { i, w, o in output[o] += input[i] * weight[w] }
    }

    /// `gradInput = conv^T(gradOutput, weight)`: the input gradient, which is also a transposed convolution.
    public static func backwardData(_ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    gradInput: UnsafeMutablePointer<Float>) {
        gradInput.initialize(repeating: 0, count: g.inputElementCount)
        forEachConnection(g) { i, w, o in gradInput[i] += gradOutput[o] * weight[w] }
    }

    /// `gradWeight[o, i, k] = sum over batch and positions of gradOutput * input`.
    public static func backwardWeights(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                       gradWeight: UnsafeMutablePointer<Float>) {
        gradWeight.initialize(repeating: 0, count: g.weightElementCount)
        forEachConnection(g) { i, w, o in gradWeight[w] += gradOutput[o] * input[i] }
    }
}
