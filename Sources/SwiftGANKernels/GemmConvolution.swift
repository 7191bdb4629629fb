/// Convolutions that oneDNN's blocked kernels handle badly, done as matrix products on the plain buffers
/// with no reorders:
/// - whole window: the kernel covers the whole unpadded input and the output is one position per channel (a DCGAN
///   discriminator's last layer, and in transposed form the generator's first). The convolution is then exactly one
///   matrix product `[batch, C * kernel] x [C * kernel, O]` (OpenBLAS, which runs such small products on the calling
///   thread); oneDNN pads the single output channel to a block of 8 or 16 and spends milliseconds on a few thousand
///   multiply-adds.
/// - few input channels (an image or volume layer, 1 to 4 channels): im2col/col2im around one matrix product for
///   the whole batch (oneDNN's sgemm, on the same OpenMP threads as its convolutions, so OpenBLAS's own threads do
///   not wake to compete with them). oneDNN would pad the channels to a block of 8 or 16 (up to 16 times the work)
///   and reorder the layer's large activation in and out on every call.
/// Same signatures and results as `ReferenceConvolution` (the kernel tests check both routes against it).
enum GemmConvolution {
    enum Route { case wholeWindow, fewChannels }

    /// Channel counts up to this take the im2col route.
    static let fewChannelLimit = 4

    /// The route for `g`, or nil when oneDNN's kernels are the better choice.
    static func route(for g: ConvolutionGeometry) -> Route? {
        if g.inputSize == g.kernelSize && g.padding.allSatisfy({ $0 == 0 }) && g.outputSize.allSatisfy({ $0 == 1 }) {
            return .wholeWindow
        }
        return g.inputChannels <= fewChannelLimit ? .fewChannels : nil
    }

    /// Rows of the im2col matrix: input channels times kernel positions.
    static func windowSize(_ g: ConvolutionGeometry) -> Int { g.inputChannels * g.kernelSize.reduce(1, *) }

    static func forward(_ g: ConvolutionGeometry, route: Route, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>) {
        let ck = windowSize(g)
        switch route {
        case .wholeWindow:
            // y[N, O] = x[N, CK] * W[O, CK]^T
            Gemm.multiply(transposeA: false, transposeB: true, m: g.batch, n: g.outputChannels, k: ck,
                                         a: input, b: weight, c: output)
        case .fewChannels:
            // One product for the whole batch (many small ones would each wait for both threads):
            // Y[O, N * P] = W[O, CK] * cols[CK, N * P], then Y's [O, N, P] order turned into the output's [N, O, P].
            let np = g.batch * g.outputSize.reduce(1, *)
            withBuffer(ck * np) { cols in
                im2colBatch(g, input: input, columns: cols)
                withBuffer(g.outputChannels * np) { y in
                    Gemm.multiplyOnOneDNNThreads(transposeA: false, transposeB: false, m: g.outputChannels, n: np, k: ck,
                                                 a: weight, b: cols, c: y)
                    swapBatchAndChannels(y, into: output, outer: g.outputChannels, inner: g.batch, run: np / g.batch)
                }
            }
        }
    }

    static func backwardData(_ g: ConvolutionGeometry, route: Route, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             gradInput: UnsafeMutablePointer<Float>) {
        let ck = windowSize(g)
        switch route {
        case .wholeWindow:
            // dx[N, CK] = dy[N, O] * W[O, CK]
            Gemm.multiply(transposeA: false, transposeB: false, m: g.batch, n: ck, k: g.outputChannels,
                                         a: gradOutput, b: weight, c: gradInput)
        case .fewChannels:
            // cols[CK, N * P] = W[O, CK]^T * dy[O, N * P], then each column's values added back where they came from.
            let np = g.batch * g.outputSize.reduce(1, *)
            withBuffer(g.outputChannels * np) { dy in
                swapBatchAndChannels(gradOutput, into: dy, outer: g.batch, inner: g.outputChannels, run: np / g.batch)
                withBuffer(ck * np) { cols in
                    Gemm.multiplyOnOneDNNThreads(transposeA: true, transposeB: false, m: ck, n: np, k: g.outputChannels,
                                                 a: weight, b: dy, c: cols)
                    col2imAddBatch(g, columns: cols, gradInput: gradInput)
                }
            }
        }
    }

    static func backwardWeights(_ g: ConvolutionGeometry, route: Route, input: UnsafePointer<Float>, gradOutput: UnsafePointer<Float>,
                                gradWeight: UnsafeMutablePointer<Float>) {
        let ck = windowSize(g)
        switch route {
        case .wholeWindow:
            // dW[O, CK] = dy[N, O]^T * x[N, CK]
            Gemm.multiply(transposeA: true, transposeB: false, m: g.outputChannels, n: ck, k: g.batch,
                                         a: gradOutput, b: input, c: gradWeight)
        case .fewChannels:
            // dW[O, CK] = dy[O, N * P] * cols[CK, N * P]^T
            let np = g.batch * g.outputSize.reduce(1, *)
            withBuffer(g.outputChannels * np) { dy in
                swapBatchAndChannels(gradOutput, into: dy, outer: g.batch, inner: g.outputChannels, run: np / g.batch)
                withBuffer(ck * np) { cols in
                    im2colBatch(g, input: input, columns: cols)
                    Gemm.multiplyOnOneDNNThreads(transposeA: false, transposeB: true, m: g.outputChannels, n: ck, k: np,
                                                 a: dy, b: cols, c: gradWeight)
                }
            }
        }
    }

    static func withBuffer(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> Void) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        body(buffer)
    }

    /// `[outer, inner, run]` to `[inner, outer, run]`: a batch's `[N, C, P]` and `[C, N, P]` orders, either way.
    static func swapBatchAndChannels(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>,
                                     outer: Int, inner: Int, run: Int) {
        for a in 0..<outer {
            for b in 0..<inner {
                (target + (b * outer + a) * run).update(from: source + (a * inner + b) * run, count: run)
            }
        }
    }

    /// The im2col matrix of the whole batch: `columns[row, n * P + position]`.
    static func im2colBatch(_ g: ConvolutionGeometry, input: UnsafePointer<Float>, columns: UnsafeMutablePointer<Float>) {
        let p = g.outputSize.reduce(1, *), np = g.batch * p, inSample = g.inputChannels * g.inputSize.reduce(1, *)
        for n in 0..<g.batch {
            let sample = input + n * inSample, target = columns + n * p
            forEachWindowEntry(g) { row, position, index in
                target[row * np + position] = index.map { sample[$0] } ?? 0
            }
        }
    }

    /// Adds each `columns[row, n * P + position]` to the input value it was taken from (`gradInput` is overwritten).
    static func col2imAddBatch(_ g: ConvolutionGeometry, columns: UnsafePointer<Float>, gradInput: UnsafeMutablePointer<Float>) {
        let p = g.outputSize.reduce(1, *), np = g.batch * p, inSample = g.inputChannels * g.inputSize.reduce(1, *)
        gradInput.initialize(repeating: 0, count: g.inputElementCount)
        for n in 0..<g.batch {
            let sample = gradInput + n * inSample, source = columns + n * p
            forEachWindowEntry(g) { row, position, index in
                if let i = index { sample[i] += source[row * np + position] }
            }
        }
    }

    /// Visits every (window row, output position) pair of one sample: `body(row, position, inputIndex)` with
    /// `inputIndex` nil where the window lies in the padding. Rows are ordered as the weight's `[C, kernel...]`,
    /// positions as the output's spatial order.
    @inline(__always)
    static func forEachWindowEntry(_ g: ConvolutionGeometry, _ body: (Int, Int, Int?) -> Void) {
        let d = ReferenceConvolution.Dims(g)
        var row = 0
        for c in 0..<g.inputChannels {
            for kd in 0..<d.kD { for kh in 0..<d.kH { for kw in 0..<d.kW {
                var position = 0
                for od in 0..<d.outD {
                    let id = od * d.sD - d.pD + kd
                    for oh in 0..<d.outH {
                        let ih = oh * d.sH - d.pH + kh
                        let rowInside = id >= 0 && id < d.inD && ih >= 0 && ih < d.inH
                        let base = ((c * d.inD + id) * d.inH + ih) * d.inW
                        for ow in 0..<d.outW {
                            let iw = ow * d.sW - d.pW + kw
                            body(row, position, rowInside && iw >= 0 && iw < d.inW ? base + iw : nil)
                            position += 1
                        }
                    }
                }
                row += 1
            }}}
        }
    }
}
