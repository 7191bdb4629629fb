import CDNNL

/// An activation `[N, C, spatial...]` kept in oneDNN's channel-blocked layout `nC(d)hwXc` between convolutions:
/// memory order `[N, ceil(C / X), spatial..., X]`, X = 8 or 16 channels per block, the padding channels of the last
/// block zero (oneDNN requires that of its inputs and keeps it in its outputs; the Swift passes over this layout keep
/// it too).
///
/// oneDNN's fast convolution kernels only run on blocked layouts. A training step that gives each convolution plain
/// `[N, C, H, W]` buffers pays a reorder into the blocked layout for every activation operand and one out of it for
/// every result; a convolution's result that stays blocked, goes through batch normalization and the activation
/// function in that layout and comes back as the next convolution's input (or gradient) needs none.
public final class BlockedActivation {
    /// The logical shape `[N, C, spatial...]`.
    public let shape: [Int]
    /// Channels per block (X).
    public let blockWidth: Int
    /// `batch * blocks * spatial * blockWidth` values, 64-byte aligned.
    public let pointer: UnsafeMutablePointer<Float>
    var descriptor: dnnl_memory_desc_t
    let byteCount: Int

    public var batch: Int { shape[0] }
    public var channels: Int { shape[1] }
    public var spatial: Int { shape[2...].reduce(1, *) }
    public var blocks: Int { (channels + blockWidth - 1) / blockWidth }
    /// Values in the buffer, padding channels included.
    public var paddedCount: Int { batch * blocks * spatial * blockWidth }

    /// An uninitialized buffer in the layout `descriptor` describes, or nil when that is not a channel-blocked layout.
    init?(descriptor md: UnsafePointer<dnnl_memory_desc_t>, shape: [Int]) {
        guard (3...5).contains(shape.count),
              let width = OneDNN.channelBlockWidth(md, shape: shape) else { return nil }
        self.shape = shape
        blockWidth = width
        descriptor = md.pointee
        let size = max(dnnl_memory_desc_get_size(md), 64)
        byteCount = size
        pointer = KernelMemory.allocate(byteCount: size).bindMemory(to: Float.self, capacity: size / 4)
    }

    /// An uninitialized buffer with the same shape and layout as `other`.
    public convenience init(sameLayoutAs other: BlockedActivation) {
        var md = other.descriptor
        self.init(descriptor: &md, shape: other.shape)!
    }

    /// The plain buffer `source` (`shape` values, row-major) reordered into the channel-blocked layout of width
    /// `blockWidth` (8 or 16).
    public convenience init(plain source: UnsafePointer<Float>, shape: [Int], blockWidth: Int) {
        precondition((3...5).contains(shape.count) && (blockWidth == 8 || blockWidth == 16),
                     "BlockedActivation: shape \(shape) needs rank 3 to 5 and a block width of 8 or 16")
        var md = OneDNN.memoryDesc(shape, tag: OneDNN.channelBlockedTag(rank: shape.count, width: blockWidth))
        self.init(descriptor: &md, shape: shape)!
        OneDNN.reorder(from: UnsafeMutableRawPointer(mutating: source), OneDNN.plainDesc(shape), to: UnsafeMutableRawPointer(pointer), md)
    }

    /// The plain buffer `source` (with `other`'s shape) reordered into `other`'s layout.
    public convenience init(plain source: UnsafePointer<Float>, sameLayoutAs other: BlockedActivation) {
        self.init(plain: source, shape: other.shape, blockWidth: other.blockWidth)
    }

    /// True when both hold the same shape in the same layout.
    public func hasSameLayout(as other: BlockedActivation) -> Bool {
        var a = descriptor, b = other.descriptor
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    /// Writes the values in plain row-major order (`shape` values) to `destination`.
    public func copy(toPlain destination: UnsafeMutablePointer<Float>) {
        OneDNN.reorder(from: UnsafeMutableRawPointer(pointer), descriptor, to: UnsafeMutableRawPointer(destination), OneDNN.plainDesc(shape))
    }

    deinit { KernelMemory.deallocate(UnsafeMutableRawPointer(pointer), byteCount: byteCount) }
}

extension OneDNN {
    static func channelBlockedTag(rank: Int, width: Int) -> dnnl_format_tag_t {
        switch (rank, width) {
        case (3, 8): return dnnl_nCw8c
        case (3, _): return dnnl_nCw16c
        case (4, 8): return dnnl_nChw8c
        case (4, _): return dnnl_nChw16c
        case (5, 8): return dnnl_nCdhw8c
        default: return dnnl_nCdhw16c
        }
    }

    /// 8 or 16 when `md` is the channel-blocked layout of that width for `shape`, else nil.
    static func channelBlockWidth(_ md: UnsafePointer<dnnl_memory_desc_t>, shape: [Int]) -> Int? {
        for width in [16, 8] {
            var candidate = memoryDesc(shape, tag: channelBlockedTag(rank: shape.count, width: width))
            if dnnl_memory_desc_equal(&candidate, md) != 0 { return width }
        }
        return nil
    }

    /// The plain row-major layout of an activation of `shape`.
    static func plainDesc(_ shape: [Int]) -> dnnl_memory_desc_t {
        memoryDesc(shape, tag: plainTag(rank: shape.count, isWeight: false))
    }

    /// One reorder between two buffers, each described by its memory descriptor, finished on return.
    static func reorder(from source: UnsafeMutableRawPointer, _ fromMD: dnnl_memory_desc_t, to destination: UnsafeMutableRawPointer,
                        _ toMD: dnnl_memory_desc_t) {
        let scratch = Scratch()
        var sourceMD = fromMD, targetMD = toMD
        let from = scratch.memory(&sourceMD, handle: source)
        let to = scratch.memory(&targetMD, handle: destination)
        scratch.reorder(from: from, &sourceMD, to: to, &targetMD)
        check(dnnl_stream_wait(context.stream), "stream wait")
    }
}
