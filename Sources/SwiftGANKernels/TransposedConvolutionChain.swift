import CDNNL
import Foundation

/// Transposed convolutions run one after another for inference, each followed by a per-channel bias and an
/// activation: a DCGAN generator in evaluation mode, with its batch normalization folded into the weights and bias.
///
/// Unlike `Convolution.backwardData` called stage by stage, the activations stay in the layout oneDNN's kernels
/// chose (8 or 16 channels interleaved) from one stage to the next, and bias and activation are applied in place on
/// that buffer in one pass; a whole-window stage (the first, from 1x1 latent vectors) is one matrix product on plain
/// buffers (`WholeWindowConvolution`).
public enum TransposedConvolutionChain {
    public enum Activation: Sendable { case relu, tanh }

    public struct Stage {
        /// The convolution whose backward-data pass is this stage's transposed convolution (as
        /// `Tensor.transposedConvolution` describes it): its `outputChannels`/`outputSize` are the stage's input and its
        /// `inputChannels`/`inputSize` the stage's output.
        public var geometry: ConvolutionGeometry
        /// `[stage input channels, stage output channels, kernel...]`, plain row-major.
        public var weight: [Float]
        /// One value per stage output channel.
        public var bias: [Float]
        public var activation: Activation

        public init(geometry: ConvolutionGeometry, weight: [Float], bias: [Float], activation: Activation) {
            precondition(geometry.problem == nil, geometry.problem ?? "")
            precondition(weight.count == geometry.weightElementCount,
                         "TransposedConvolutionChain: \(weight.count) weights for \(geometry)")
            precondition(bias.count == geometry.inputChannels,
                         "TransposedConvolutionChain: \(bias.count) biases for \(geometry.inputChannels) output channels")
            self.geometry = geometry
            self.weight = weight
            self.bias = bias
            self.activation = activation
        }
    }

    /// Runs `stages` on `input` (plain `[batch, channels, spatial...]`, the first stage's input) and writes the last
    /// stage's output, plain, to `output`.
    public static func run(_ stages: [Stage], input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        precondition(!stages.isEmpty, "TransposedConvolutionChain: no stages")
        for (a, b) in zip(stages, stages.dropFirst()) {
            precondition(a.geometry.batch == b.geometry.batch && a.geometry.inputChannels == b.geometry.outputChannels
                            && a.geometry.inputSize == b.geometry.outputSize,
                         "TransposedConvolutionChain: a stage's output (\(a.geometry)) is not the next one's input (\(b.geometry))")
        }
        KernelProfile.measure("transposed convolution chain \(stages[0].geometry.spatialRank)D") {
            OneDNN.transposedConvolutionChain(stages, input: input, output: output)
        }
    }

    /// `activation(x + bias[channel])` in place over a buffer in one of the layouts the chain walks.
    static func applyBiasAndActivation(_ buffer: UnsafeMutablePointer<Float>, layout: Layout, batch: Int, channels: Int,
                                       spatial: Int, bias: [Float], activation: Activation) {
        if layout == .channelsLast {
            // [N, spatial..., C]: one row of C channels per position.
            let rows = batch * spatial
            ParallelRows.forEach(rows, total: rows * channels) { row in
                let base = buffer + row * channels
                switch activation {
                case .relu: for c in 0..<channels { base[c] = Swift.max(base[c] + bias[c], 0) }
                case .tanh: for c in 0..<channels { base[c] = tanhf(base[c] + bias[c]) }
                }
            }
            return
        }
        let width: Int
        if case .blocked(let w) = layout { width = w } else { width = 1 }
        let blocks = (channels + width - 1) / width
        let rows = batch * blocks
        // Padding channels of a block get 0, so they stay 0 under ReLU and tanh.
        let padded = bias + [Float](repeating: 0, count: blocks * width - channels)
        ParallelRows.forEach(rows, total: rows * spatial * width) { row in
            let block = row % blocks
            let base = buffer + row * spatial * width
            if width == 1 {
                let shift = padded[block]
                switch activation {
                case .relu: for s in 0..<spatial { base[s] = Swift.max(base[s] + shift, 0) }
                case .tanh: for s in 0..<spatial { base[s] = tanhf(base[s] + shift) }
                }
                return
            }
            // [spatial, width] per row: SIMD8 groups of channels.
            let raw = UnsafeMutableRawPointer(base)
            // Groups holding only padding channels stay 0 (ReLU and tanh keep 0), so they are skipped.
            let realGroups = min(width, channels - block * width + 7) / 8
            for group in 0..<realGroups {
                let first = block * width + group * 8
                let shift = SIMD8<Float>(padded[first..<(first + 8)])
                switch activation {
                case .relu:
                    let zero = SIMD8<Float>(repeating: 0)
                    for s in 0..<spatial {
                        let offset = (s * width + group * 8) * 4
                        let v = raw.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) + shift
                        raw.storeBytes(of: v.replacing(with: zero, where: v .< zero), toByteOffset: offset, as: SIMD8<Float>.self)
                    }
                case .tanh:
                    let lanes = min(8, channels - first)
                    for s in 0..<spatial {
                        for lane in 0..<lanes { base[s * width + group * 8 + lane] = tanhf(base[s * width + group * 8 + lane] + shift[lane]) }
                    }
                }
            }
        }
    }

    /// `activation(x + bias[channel])` from a blocked buffer (`width` channels per block) into a plain one.
    static func applyBiasAndActivation(from source: UnsafePointer<Float>, width: Int, toPlain destination: UnsafeMutablePointer<Float>,
                                       batch: Int, channels: Int, spatial: Int, bias: [Float], activation: Activation) {
        let blocks = (channels + width - 1) / width
        ParallelRows.forEach(batch * blocks, total: batch * blocks * spatial * width) { row in
            let (n, block) = (row / blocks, row % blocks)
            let src = source + row * spatial * width
            // One plain channel row at a time, written in order; the block's rows are read from cache.
            for lane in 0..<min(width, channels - block * width) {
                let channel = block * width + lane
                let shift = bias[channel]
                let dst = destination + (n * channels + channel) * spatial
                switch activation {
                case .relu: for p in 0..<spatial { dst[p] = Swift.max(src[p * width + lane] + shift, 0) }
                case .tanh: for p in 0..<spatial { dst[p] = tanhf(src[p * width + lane] + shift) }
                }
            }
        }
    }

    /// How a stage's output buffer is laid out: plain `[N, C, spatial...]`, channels last `[N, spatial..., C]`, or
    /// oneDNN's blocked `nC(d)hwXc` (`[N, ceil(C / X), spatial..., X]` with X = 8 or 16, padding channels zero).
    enum Layout: Equatable { case plain, channelsLast, blocked(Int) }
}

extension OneDNN {
    /// The layouts `TransposedConvolutionChain` applies bias and activation in without reordering, as oneDNN tags.
    static func chainLayouts(rank: Int) -> [(TransposedConvolutionChain.Layout, dnnl_format_tag_t)] {
        switch rank {
        case 3: return [(.plain, dnnl_ncw), (.channelsLast, dnnl_nwc), (.blocked(8), dnnl_nCw8c), (.blocked(16), dnnl_nCw16c)]
        case 4: return [(.plain, dnnl_nchw), (.channelsLast, dnnl_nhwc), (.blocked(8), dnnl_nChw8c), (.blocked(16), dnnl_nChw16c)]
        default: return [(.plain, dnnl_ncdhw), (.channelsLast, dnnl_ndhwc), (.blocked(8), dnnl_nCdhw8c), (.blocked(16), dnnl_nCdhw16c)]
        }
    }

    static func transposedConvolutionChain(_ stages: [TransposedConvolutionChain.Stage], input: UnsafePointer<Float>,
                                           output: UnsafeMutablePointer<Float>) {
        let scratch = Scratch()
        let first = stages[0].geometry
        // The buffer holding the current stage's input, and its layout; owned buffers are freed once used.
        var currentMD = memoryDesc([first.batch, first.outputChannels] + first.outputSize,
                                   tag: plainTag(rank: first.spatialRank + 2, isWeight: false))
        var current = scratch.memory(&currentMD, handle: UnsafeMutableRawPointer(mutating: input))
        var owned: UnsafeMutableRawPointer? = nil

        func wait() { check(dnnl_stream_wait(context.stream), "stream wait") }
        // Buffers come from KernelMemory, which keeps the large ones for the next call; `sizes` remembers their sizes.
        var sizes: [UnsafeMutableRawPointer: Int] = [:]
        func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
            let p = KernelMemory.allocate(byteCount: byteCount)
            sizes[p] = byteCount
            return p
        }
        func release(_ p: UnsafeMutableRawPointer?) {
            guard let p, let size = sizes.removeValue(forKey: p) else { return }
            KernelMemory.deallocate(p, byteCount: size)
        }
        func newBuffer(_ md: UnsafePointer<dnnl_memory_desc_t>) -> (dnnl_memory_t, UnsafeMutableRawPointer) {
            let p = allocate(byteCount: dnnl_memory_desc_get_size(md))
            return (scratch.memory(md, handle: p), p)
        }

        // Each stage's primitive, made up front so that a stage knows the layout the next one wants. A last stage with
        // a few output channels (an image) writes them plain (`writesGradInputPlain`).
        let descriptors: [dnnl_primitive_desc_t?] = stages.enumerated().map { index, stage in
            let g = stage.geometry
            if WholeWindowConvolution.applies(to: g) { return nil }
            return backwardDataDescriptor(g, forward: forwardDescriptor(g, scratch: scratch), scratch: scratch,
                                          plainGradInput: index == stages.count - 1 && writesGradInputPlain(g))
        }
        /// Whether stage `index` reads its input plain.
        func wantsPlainInput(_ index: Int) -> Bool {
            guard index < stages.count, let pd = descriptors[index] else { return false }
            let g = stages[index].geometry
            var plain = memoryDesc([g.batch, g.outputChannels] + g.outputSize, tag: plainTag(rank: g.spatialRank + 2, isWeight: false))
            return dnnl_memory_desc_equal(&plain, query(pd, dnnl_query_diff_dst_md)) != 0
        }

        for (index, stage) in stages.enumerated() {
            let g = stage.geometry
            let s = shapes(g)
            let isLast = index == stages.count - 1
            if WholeWindowConvolution.applies(to: g) {
                // The first stage from 1x1 latent vectors: one matrix product on plain buffers (see WholeWindowConvolution).
                var plainInputMD = memoryDesc(s.dst, tag: plainTag(rank: s.dst.count, isWeight: false))
                var inputHandle: UnsafeMutableRawPointer? = nil
                var reordered: UnsafeMutableRawPointer? = nil
                if dnnl_memory_desc_equal(&currentMD, &plainInputMD) != 0 {
                    check(dnnl_memory_get_data_handle(current, &inputHandle), "data handle")
                } else {
                    let (m, p) = newBuffer(&plainInputMD)
                    scratch.reorder(from: current, &currentMD, to: m, &plainInputMD)
                    wait()
                    (inputHandle, reordered) = (p, p)
                }
                let target = isLast ? output : allocate(byteCount: g.inputElementCount * 4).assumingMemoryBound(to: Float.self)
                stage.weight.withUnsafeBufferPointer { w in
                    WholeWindowConvolution.backwardData(g, gradOutput: inputHandle!.assumingMemoryBound(to: Float.self),
                                                 weight: w.baseAddress!, gradInput: target)
                }
                release(reordered)
                release(owned)
                owned = nil
                TransposedConvolutionChain.applyBiasAndActivation(target, layout: .plain, batch: g.batch, channels: g.inputChannels,
                                                                  spatial: g.inputSize.reduce(1, *), bias: stage.bias,
                                                                  activation: stage.activation)
                if !isLast {
                    currentMD = memoryDesc(s.src, tag: plainTag(rank: s.src.count, isWeight: false))
                    current = scratch.memory(&currentMD, handle: UnsafeMutableRawPointer(target))
                    owned = UnsafeMutableRawPointer(target)
                }
                continue
            }
            let pd = descriptors[index]!

            // The stage input: reordered only when the primitive wants another layout than the one it is in.
            let inputMD = query(pd, dnnl_query_diff_dst_md)
            var stageInput = current
            var reorderedInput: UnsafeMutableRawPointer? = nil
            if dnnl_memory_desc_equal(&currentMD, inputMD) == 0 {
                let (m, p) = newBuffer(inputMD)
                var inMD = inputMD.pointee
                scratch.reorder(from: current, &currentMD, to: m, &inMD)
                stageInput = m
                reorderedInput = p
            }
            // The stage output, in the primitive's layout.
            let outputMD = query(pd, dnnl_query_diff_src_md)
            var plainMD = memoryDesc(s.src, tag: plainTag(rank: s.src.count, isWeight: false))
            let isPlain = dnnl_memory_desc_equal(&plainMD, outputMD) != 0
            let layout = chainLayouts(rank: s.src.count).first { candidate in
                var md = memoryDesc(s.src, tag: candidate.1)
                return dnnl_memory_desc_equal(&md, outputMD) != 0
            }?.0
            let (outMemory, outBuffer): (dnnl_memory_t, UnsafeMutableRawPointer?)
            if isLast && isPlain {
                outMemory = scratch.memory(outputMD, handle: UnsafeMutableRawPointer(output))
                outBuffer = nil
            } else {
                let (m, p) = newBuffer(outputMD)
                (outMemory, outBuffer) = (m, p)
            }
            var primitive: dnnl_primitive_t?
            check(dnnl_primitive_create(&primitive, pd), "primitive")
            scratch.primitives.append(primitive!)
            // The weights are read in place (reordered when the primitive wants its own layout) while the stage runs.
            stage.weight.withUnsafeBufferPointer { w in
                let weights = operand(scratch, argument: Int32(DNNL_ARG_WEIGHTS), shape: s.weights, isWeight: true,
                                      buffer: UnsafeMutableRawPointer(mutating: w.baseAddress!), chosen: query(pd, dnnl_query_weights_md))
                if weights.needsReorder {
                    var from = weights.userMD, to = weights.primitiveMD
                    scratch.reorder(from: weights.userMemory, &from, to: weights.primitiveMemory, &to)
                }
                var args = [dnnl_exec_arg_t(arg: Int32(DNNL_ARG_DIFF_DST), memory: stageInput),
                            dnnl_exec_arg_t(arg: Int32(DNNL_ARG_WEIGHTS), memory: weights.primitiveMemory),
                            dnnl_exec_arg_t(arg: Int32(DNNL_ARG_DIFF_SRC), memory: outMemory)]
                check(dnnl_primitive_execute(primitive, context.stream, Int32(args.count), &args), "transposed convolution execution")
                wait()
            }
            release(reorderedInput)
            release(owned)
            owned = nil

            let spatial = g.inputSize.reduce(1, *)
            if case .blocked(let width) = layout, !isLast, wantsPlainInput(index + 1), let blockedOutput = outBuffer {
                // The next stage reads plain values: bias and activation write them there in the same pass.
                let plainBuffer = allocate(byteCount: g.inputElementCount * 4)
                TransposedConvolutionChain.applyBiasAndActivation(from: blockedOutput.assumingMemoryBound(to: Float.self), width: width,
                                                                  toPlain: plainBuffer.assumingMemoryBound(to: Float.self),
                                                                  batch: g.batch, channels: g.inputChannels, spatial: spatial,
                                                                  bias: stage.bias, activation: stage.activation)
                release(blockedOutput)
                currentMD = plainMD
                current = scratch.memory(&currentMD, handle: plainBuffer)
                owned = plainBuffer
            } else if let layout {
                let target = outBuffer.map { $0.assumingMemoryBound(to: Float.self) } ?? output
                TransposedConvolutionChain.applyBiasAndActivation(target, layout: layout, batch: g.batch,
                                                                  channels: g.inputChannels, spatial: spatial,
                                                                  bias: stage.bias, activation: stage.activation)
                if isLast {
                    if let p = outBuffer {
                        var from = outputMD.pointee
                        let plain = scratch.memory(&plainMD, handle: UnsafeMutableRawPointer(output))
                        scratch.reorder(from: outMemory, &from, to: plain, &plainMD)
                        wait()
                        release(p)
                    }
                } else {
                    current = outMemory
                    currentMD = outputMD.pointee
                    owned = outBuffer
                }
            } else {
                // A layout this code does not walk: reorder to plain, then apply.
                let plainBuffer = isLast ? UnsafeMutableRawPointer(output)
                    : allocate(byteCount: g.inputElementCount * 4)
                let plain = scratch.memory(&plainMD, handle: plainBuffer)
                var from = outputMD.pointee
                scratch.reorder(from: outMemory, &from, to: plain, &plainMD)
                wait()
                release(outBuffer)
                TransposedConvolutionChain.applyBiasAndActivation(plainBuffer.assumingMemoryBound(to: Float.self), layout: .plain,
                                                                  batch: g.batch, channels: g.inputChannels, spatial: spatial,
                                                                  bias: stage.bias, activation: stage.activation)
                if !isLast {
                    current = plain
                    currentMD = plainMD
                    owned = plainBuffer
                }
            }
        }
    }
}
