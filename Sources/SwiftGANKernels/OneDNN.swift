import CDNNL
import Foundation

/// The one place that talks to oneDNN's C API (version 2.x). A later oneDNN (3.x changed how
/// primitive descriptors are made) only needs this file changed.
///
/// Calls take the caller's plain row-major buffers (`ncw`/`nchw`/`ncdhw` activations, `oiw`/`oihw`/`oidhw`
/// weights) or activations already in oneDNN's channel-blocked layout (`BlockedActivation`). oneDNN is asked for its
/// preferred (blocked) layouts, since its fast kernels (`jit:avx2`, `jit:avx512_core`) only run on those; operands are
/// reordered in and out around the call when its choice differs from theirs, and a result can be left blocked.
enum OneDNN {
    /// Process-wide CPU engine and stream, created on first use.
    static let context: (engine: dnnl_engine_t, stream: dnnl_stream_t) = {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine")
        var stream: dnnl_stream_t?
        check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "stream")
        // Both are used for the process lifetime.
        return (engine!, stream!)
    }()

    static func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        if status != dnnl_success {
            // A failure here is a bug in the caller's sizes (they are validated before) or an out-of-memory.
            fatalError("oneDNN \(what()) failed with status \(status.rawValue)")
        }
    }

    static func dims(_ values: [Int]) -> [Int64] {
        var result = [Int64](repeating: 0, count: Int(DNNL_MAX_NDIMS))
        for (i, v) in values.enumerated() { result[i] = Int64(v) }
        return result
    }

    static func plainTag(rank: Int, isWeight: Bool) -> dnnl_format_tag_t {
        switch (rank, isWeight) {
        case (3, false): return dnnl_ncw
        case (4, false): return dnnl_nchw
        case (5, false): return dnnl_ncdhw
        case (3, true): return dnnl_oiw
        case (4, true): return dnnl_oihw
        default: return dnnl_oidhw
        }
    }

    static func memoryDesc(_ shape: [Int], tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        var d = dims(shape)
        check(dnnl_memory_desc_init_by_tag(&md, Int32(shape.count), &d, dnnl_f32, tag), "memory descriptor \(shape)")
        return md
    }

    /// Buffers that live for one primitive execution.
    final class Scratch {
        var memories: [dnnl_memory_t] = []
        var buffers: [(pointer: UnsafeMutableRawPointer, byteCount: Int)] = []
        var primitives: [dnnl_primitive_t] = []
        var descs: [dnnl_primitive_desc_t] = []
        deinit {
            for m in memories { dnnl_memory_destroy(m) }
            for p in primitives { dnnl_primitive_destroy(p) }
            for d in descs { dnnl_primitive_desc_destroy(d) }
            for b in buffers { KernelMemory.deallocate(b.pointer, byteCount: b.byteCount) }
        }

        func memory(_ md: UnsafePointer<dnnl_memory_desc_t>, handle: UnsafeMutableRawPointer) -> dnnl_memory_t {
            var m: dnnl_memory_t?
            OneDNN.check(dnnl_memory_create(&m, md, OneDNN.context.engine, handle), "memory")
            memories.append(m!)
            return m!
        }

        func allocate(_ md: UnsafePointer<dnnl_memory_desc_t>) -> UnsafeMutableRawPointer {
            let size = dnnl_memory_desc_get_size(md)
            let p = KernelMemory.allocate(byteCount: size)
            buffers.append((p, size))
            return p
        }

        func reorder(from src: dnnl_memory_t, _ srcMD: UnsafePointer<dnnl_memory_desc_t>,
                     to dst: dnnl_memory_t, _ dstMD: UnsafePointer<dnnl_memory_desc_t>) {
            var pd: dnnl_primitive_desc_t?
            let e = OneDNN.context.engine
            OneDNN.check(dnnl_reorder_primitive_desc_create(&pd, srcMD, e, dstMD, e, nil), "reorder descriptor")
            descs.append(pd!)
            var prim: dnnl_primitive_t?
            OneDNN.check(dnnl_primitive_create(&prim, pd), "reorder")
            primitives.append(prim!)
            var args = [dnnl_exec_arg_t(arg: Int32(DNNL_ARG_FROM), memory: src),
                        dnnl_exec_arg_t(arg: Int32(DNNL_ARG_TO), memory: dst)]
            OneDNN.check(dnnl_primitive_execute(prim, OneDNN.context.stream, 2, &args), "reorder execution")
        }
    }

    /// An operand of a primitive: the caller's buffer, and the primitive's own layout if that differs.
    struct Operand {
        var argument: Int32
        var userMemory: dnnl_memory_t
        var primitiveMemory: dnnl_memory_t
        var userMD: dnnl_memory_desc_t
        var primitiveMD: dnnl_memory_desc_t
        var needsReorder: Bool
    }

    static func operand(_ scratch: Scratch, argument: Int32, shape: [Int], isWeight: Bool,
                        buffer: UnsafeMutableRawPointer, chosen: UnsafePointer<dnnl_memory_desc_t>) -> Operand {
        operand(scratch, argument: argument, userMD: memoryDesc(shape, tag: plainTag(rank: shape.count, isWeight: isWeight)),
                buffer: buffer, chosen: chosen)
    }

    /// An operand whose buffer is laid out as `userMD` says; reordered when the primitive chose another layout.
    static func operand(_ scratch: Scratch, argument: Int32, userMD: dnnl_memory_desc_t, buffer: UnsafeMutableRawPointer,
                        chosen: UnsafePointer<dnnl_memory_desc_t>) -> Operand {
        var md = userMD
        let user = scratch.memory(&md, handle: buffer)
        if dnnl_memory_desc_equal(&md, chosen) != 0 {
            return Operand(argument: argument, userMemory: user, primitiveMemory: user, userMD: md,
                           primitiveMD: chosen.pointee, needsReorder: false)
        }
        let inner = scratch.memory(chosen, handle: scratch.allocate(chosen))
        return Operand(argument: argument, userMemory: user, primitiveMemory: inner, userMD: md,
                       primitiveMD: chosen.pointee, needsReorder: true)
    }

    /// Runs `pd`'s primitive: reorders inputs in, executes, reorders the output back out.
    static func execute(_ scratch: Scratch, _ pd: dnnl_primitive_desc_t, inputs: [Operand], output: Operand) {
        var prim: dnnl_primitive_t?
        check(dnnl_primitive_create(&prim, pd), "primitive")
        scratch.primitives.append(prim!)
        for var op in inputs where op.needsReorder {
            scratch.reorder(from: op.userMemory, &op.userMD, to: op.primitiveMemory, &op.primitiveMD)
        }
        var args = (inputs + [output]).map { dnnl_exec_arg_t(arg: $0.argument, memory: $0.primitiveMemory) }
        check(dnnl_primitive_execute(prim, context.stream, Int32(args.count), &args), "convolution execution")
        if output.needsReorder {
            var o = output
            scratch.reorder(from: o.primitiveMemory, &o.primitiveMD, to: o.userMemory, &o.userMD)
        }
        check(dnnl_stream_wait(context.stream), "stream wait")
    }

    enum Pass { case forward, backwardData, backwardWeights }

    static func shapes(_ g: ConvolutionGeometry) -> (src: [Int], weights: [Int], dst: [Int]) {
        ([g.batch, g.inputChannels] + g.inputSize,
         [g.outputChannels, g.inputChannels] + g.kernelSize,
         [g.batch, g.outputChannels] + g.outputSize)
    }

    /// Forward primitive descriptor with "any" layouts; also the hint that backward passes need.
    static func forwardDescriptor(_ g: ConvolutionGeometry, scratch: Scratch) -> dnnl_primitive_desc_t {
        let s = shapes(g)
        var src = memoryDesc(s.src, tag: dnnl_format_tag_any)
        var wei = memoryDesc(s.weights, tag: dnnl_format_tag_any)
        var dst = memoryDesc(s.dst, tag: dnnl_format_tag_any)
        var strides = dims(g.stride), padL = dims(g.padding), padR = dims(g.paddingAfter)
        var desc = dnnl_convolution_desc_t()
        check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct,
                                                 &src, &wei, nil, &dst, &strides, &padL, &padR), "convolution descriptor \(g)")
        var pd: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, nil), "convolution primitive descriptor \(g)")
        scratch.descs.append(pd!)
        return pd!
    }

    /// Channels-last forward route. On a core with AVX-512, oneDNN 2.6 runs a forward convolution whose source and
    /// destination are channels last (`nhwc`) with its `brgconv` kernels, which beat its blocked `jit` kernels on the
    /// deeper layers of a DCGAN discriminator (measured on an Intel Xeon, 2 threads, batch 64: 128 -> 256 channels at
    /// 8x8 -> 4x4 3.48 against 4.50 ms, 128 -> 256 at 16x16 -> 8x8 11.0 against 13.4 ms, 256 -> 512 at 8x8 -> 4x4 17.7
    /// against 18.6 ms) but not on the shallow ones (64 -> 128 at 32x32: 11.7 against 11.4 ms; 1 -> 64: about twice as
    /// slow). Reordering the operands there and back costs 0.02-0.35 ms. So a forward pass with at least
    /// `channelsLastMinimumInputChannels` input channels takes that route when oneDNN picks `brgconv` for it; the rule
    /// depends only on the shape and the CPU, never on a timing, so a run does the same arithmetic each time.
    /// `SWIFTGAN_CHANNELS_LAST_FORWARD=0` (or `false`, `off`, `no`) turns it off.
    nonisolated(unsafe) static var channelsLastForwardEnabled =
        EngineSettings.isOn("SWIFTGAN_CHANNELS_LAST_FORWARD")
    static let channelsLastMinimumInputChannels = 128
    /// Per geometry: whether oneDNN runs its channels-last forward pass with `brgconv` kernels.
    nonisolated(unsafe) private static var channelsLastChoices: [String: Bool] = [:]
    private static let choicesLock = NSLock()

    static func channelsLastTag(rank: Int) -> dnnl_format_tag_t {
        rank == 3 ? dnnl_nwc : rank == 4 ? dnnl_nhwc : dnnl_ndhwc
    }

    /// The forward primitive descriptor with channels-last source and destination, when `g` takes that route.
    static func channelsLastForwardDescriptor(_ g: ConvolutionGeometry, scratch: Scratch) -> dnnl_primitive_desc_t? {
        guard channelsLastForwardEnabled, g.inputChannels >= channelsLastMinimumInputChannels else { return nil }
        let key = "\(g)"
        choicesLock.lock()
        let known = channelsLastChoices[key]
        choicesLock.unlock()
        if known == false { return nil }
        let s = shapes(g)
        var src = memoryDesc(s.src, tag: channelsLastTag(rank: s.src.count))
        var wei = memoryDesc(s.weights, tag: dnnl_format_tag_any)
        var dst = memoryDesc(s.dst, tag: channelsLastTag(rank: s.dst.count))
        var strides = dims(g.stride), padL = dims(g.padding), padR = dims(g.paddingAfter)
        var desc = dnnl_convolution_desc_t()
        var pd: dnnl_primitive_desc_t?
        guard dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, nil, &dst,
                                                 &strides, &padL, &padR) == dnnl_success,
              dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, nil) == dnnl_success, let pd else {
            remember(key, false)
            return nil
        }
        scratch.descs.append(pd)
        if known == nil {
            var name: UnsafePointer<CChar>?
            let found = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) == dnnl_success
            let brgconv = found && name.map { String(cString: $0).hasPrefix("brg") } == true
            remember(key, brgconv)
            if !brgconv { return nil }
        }
        return pd
    }

    private static func remember(_ key: String, _ choice: Bool) {
        choicesLock.lock()
        channelsLastChoices[key] = choice
        choicesLock.unlock()
    }

    /// Whether a backward-data pass (a transposed convolution) writes its result plain: when it has 1-4 channels (an
    /// image). oneDNN's blocked kernels would pad them to a whole block of 8 or 16 and do that much more work
    /// (measured 59.7 ms against 6.6 ms for 256 64x64 images), where its matrix-product kernel takes plain buffers.
    static func writesGradInputPlain(_ g: ConvolutionGeometry) -> Bool { g.inputChannels <= 4 }

    /// Backward-data primitive descriptor with "any" layouts (the result plain when `plainGradInput`).
    static func backwardDataDescriptor(_ g: ConvolutionGeometry, forward: dnnl_primitive_desc_t, scratch: Scratch,
                                       plainGradInput: Bool = false) -> dnnl_primitive_desc_t {
        let s = shapes(g)
        var diffSrc = memoryDesc(s.src, tag: plainGradInput ? plainTag(rank: s.src.count, isWeight: false) : dnnl_format_tag_any)
        var wei = memoryDesc(s.weights, tag: dnnl_format_tag_any)
        var diffDst = memoryDesc(s.dst, tag: dnnl_format_tag_any)
        var strides = dims(g.stride), padL = dims(g.padding), padR = dims(g.paddingAfter)
        var desc = dnnl_convolution_desc_t()
        check(dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &diffSrc, &wei, &diffDst,
                                                       &strides, &padL, &padR), "backward-data descriptor \(g)")
        var pd: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, forward), "backward-data primitive \(g)")
        scratch.descs.append(pd!)
        return pd!
    }

    static func query(_ pd: dnnl_primitive_desc_t, _ what: dnnl_query_t) -> UnsafePointer<dnnl_memory_desc_t> {
        guard let md = dnnl_primitive_desc_query_md(pd, what, 0) else { fatalError("oneDNN query failed") }
        return md
    }

    /// Where a pass writes its activation result: into the caller's plain buffer, or into a new `BlockedActivation`
    /// when oneDNN picks a channel-blocked layout for it (the closure gives the plain buffer otherwise).
    enum Output {
        case plain(UnsafeMutableRawPointer)
        case blockedOrPlain(() -> UnsafeMutablePointer<Float>)
    }

    /// An activation operand: plain buffers are described as `[N, C, spatial...]` row-major; a blocked one is passed
    /// as it is when it is in the layout the primitive chose, and reordered from its own layout otherwise.
    static func activationOperand(_ scratch: Scratch, argument: Int32, shape: [Int], source: ActivationOperand,
                                  chosen: UnsafePointer<dnnl_memory_desc_t>) -> Operand {
        switch source {
        case .plain(let p):
            return operand(scratch, argument: argument, shape: shape, isWeight: false, buffer: UnsafeMutableRawPointer(mutating: p),
                           chosen: chosen)
        case .blocked(let b):
            precondition(b.shape == shape, "convolution: blocked operand of shape \(b.shape) where \(shape) is needed")
            return operand(scratch, argument: argument, userMD: b.descriptor, buffer: UnsafeMutableRawPointer(b.pointer), chosen: chosen)
        }
    }

    /// The result operand, and the blocked buffer it is written to when that is where it goes: in the layout
    /// `kept` (default `chosen`) when that is channel-blocked, reordered from `chosen` after the pass if they differ.
    static func activationResult(_ scratch: Scratch, argument: Int32, shape: [Int], output: Output,
                                 chosen: UnsafePointer<dnnl_memory_desc_t>,
                                 kept: UnsafePointer<dnnl_memory_desc_t>? = nil) -> (Operand, BlockedActivation?) {
        switch output {
        case .plain(let p):
            return (operand(scratch, argument: argument, shape: shape, isWeight: false, buffer: p, chosen: chosen), nil)
        case .blockedOrPlain(let plainBuffer):
            if let blocked = BlockedActivation(descriptor: kept ?? chosen, shape: shape) {
                return (operand(scratch, argument: argument, userMD: blocked.descriptor,
                                buffer: UnsafeMutableRawPointer(blocked.pointer), chosen: chosen), blocked)
            }
            return (operand(scratch, argument: argument, shape: shape, isWeight: false, buffer: UnsafeMutableRawPointer(plainBuffer()),
                            chosen: chosen), nil)
        }
    }

    /// One pass of a convolution. Forward: `a` the input, `weights` the weights, the result the output. Backward
    /// data: `a` the output gradient, the result the input gradient. Backward weights: `a` the input, `gradOutput`
    /// the output gradient, the result (plain) the weight gradient. Returns the blocked result when `output` allowed it
    /// and oneDNN chose a channel-blocked layout.
    @discardableResult
    static func convolution(_ g: ConvolutionGeometry, pass: Pass, a: ActivationOperand, weights: UnsafePointer<Float>? = nil,
                            gradOutput: ActivationOperand? = nil, output: Output) -> BlockedActivation? {
        let scratch = Scratch()
        let s = shapes(g)
        let forward = forwardDescriptor(g, scratch: scratch)
        switch pass {
        case .forward:
            // The channels-last route where it is faster; its result is still kept in the blocked layout.
            let pd = channelsLastForwardDescriptor(g, scratch: scratch) ?? forward
            let src = activationOperand(scratch, argument: Int32(DNNL_ARG_SRC), shape: s.src, source: a,
                                        chosen: query(pd, dnnl_query_src_md))
            let wei = operand(scratch, argument: Int32(DNNL_ARG_WEIGHTS), shape: s.weights, isWeight: true,
                              buffer: UnsafeMutableRawPointer(mutating: weights!), chosen: query(pd, dnnl_query_weights_md))
            let (dst, blocked) = activationResult(scratch, argument: Int32(DNNL_ARG_DST), shape: s.dst, output: output,
                                                  chosen: query(pd, dnnl_query_dst_md), kept: query(forward, dnnl_query_dst_md))
            execute(scratch, pd, inputs: [src, wei], output: dst)
            return blocked
        case .backwardData:
            let pd = backwardDataDescriptor(g, forward: forward, scratch: scratch, plainGradInput: writesGradInputPlain(g))
            let dd = activationOperand(scratch, argument: Int32(DNNL_ARG_DIFF_DST), shape: s.dst, source: a,
                                       chosen: query(pd, dnnl_query_diff_dst_md))
            let w = operand(scratch, argument: Int32(DNNL_ARG_WEIGHTS), shape: s.weights, isWeight: true,
                            buffer: UnsafeMutableRawPointer(mutating: weights!), chosen: query(pd, dnnl_query_weights_md))
            let (ds, blocked) = activationResult(scratch, argument: Int32(DNNL_ARG_DIFF_SRC), shape: s.src, output: output,
                                                 chosen: query(pd, dnnl_query_diff_src_md))
            execute(scratch, pd, inputs: [dd, w], output: ds)
            return blocked
        case .backwardWeights:
            guard case .plain(let result) = output else { preconditionFailure("convolution: weight gradients are plain") }
            var src = memoryDesc(s.src, tag: dnnl_format_tag_any)
            var diffWei = memoryDesc(s.weights, tag: dnnl_format_tag_any)
            var diffDst = memoryDesc(s.dst, tag: dnnl_format_tag_any)
            var strides = dims(g.stride), padL = dims(g.padding), padR = dims(g.paddingAfter)
            var desc = dnnl_convolution_desc_t()
            check(dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &src, &diffWei, nil, &diffDst,
                                                              &strides, &padL, &padR), "backward-weights descriptor \(g)")
            var pd: dnnl_primitive_desc_t?
            check(dnnl_primitive_desc_create(&pd, &desc, nil, context.engine, forward), "backward-weights primitive \(g)")
            scratch.descs.append(pd!)
            let x = activationOperand(scratch, argument: Int32(DNNL_ARG_SRC), shape: s.src, source: a,
                                      chosen: query(pd!, dnnl_query_src_md))
            let dd = activationOperand(scratch, argument: Int32(DNNL_ARG_DIFF_DST), shape: s.dst, source: gradOutput!,
                                       chosen: query(pd!, dnnl_query_diff_dst_md))
            let dw = operand(scratch, argument: Int32(DNNL_ARG_DIFF_WEIGHTS), shape: s.weights, isWeight: true, buffer: result,
                             chosen: query(pd!, dnnl_query_diff_weights_md))
            execute(scratch, pd!, inputs: [x, dd], output: dw)
            return nil
        }
    }
}
