/// Convolutions whose kernel covers the whole unpadded input, so that the output is one position per channel: a
/// DCGAN discriminator's last layer, and in transposed form the generator's first. Each pass is then exactly one
/// matrix product (`[batch, C * kernel] x [C * kernel, O]`) on the plain buffers, done by oneDNN's sgemm on the
/// same threads as the convolutions around it. oneDNN's convolution would pad a single output channel to a block of
/// 8 or 16 and reorder the operands: on a loaded machine it took 5-19 ms per call for a few thousand multiply-adds.
/// On an idle machine the whole training step was measured no faster or slower for it.
///
/// Same signatures and results as `ReferenceConvolution` (the kernel tests check it against the reference).
enum WholeWindowConvolution {
    static func applies(to g: ConvolutionGeometry) -> Bool {
        g.inputSize == g.kernelSize && g.padding.allSatisfy { $0 == 0 } && g.outputSize.allSatisfy { $0 == 1 }
    }

    /// Input channels times kernel positions: the length of one sample's flattened input.
    static func windowSize(_ g: ConvolutionGeometry) -> Int { g.inputChannels * g.kernelSize.reduce(1, *) }

    /// y[N, O] = x[N, CK] * W[O, CK]^T
    static func forward(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>) {
        Gemm.multiplyOnOneDNNThreads(transposeA: false, transposeB: true, m: g.batch, n: g.outputChannels, k: windowSize(g),
                      a: input, b: weight, c: output)
    }

    /// dx[N, CK] = dy[N, O] * W[O, CK]
    static func backwardData(_ g: ConvolutionGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             gradInput: UnsafeMutablePointer<Float>) {
        Gemm.multiplyOnOneDNNThreads(transposeA: false, transposeB: false, m: g.batch, n: windowSize(g), k: g.outputChannels,
                      a: gradOutput, b: weight, c: gradInput)
    }

    /// dW[O, CK] = dy[N, O]^T * x[N, CK]
    static func backwardWeights(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                gradWeight: UnsafeMutablePointer<Float>) {
        Gemm.multiplyOnOneDNNThreads(transposeA: true, transposeB: false, m: g.outputChannels, n: windowSize(g), k: g.batch,
                      a: gradOutput, b: input, c: gradWeight)
    }
}
