import SwiftGANKernels

/// A reference-counted, 64-byte-aligned buffer of Float32 values: the memory behind a `Tensor`.
///
/// `Tensor` is a value type; it shares one `TensorStorage` between copies and copies it before a write
/// when it is not the only owner (copy-on-write).
public final class TensorStorage {
    public let count: Int
    /// The plain row-major buffer; nil while the values exist only in `blocked` (made on first use).
    private var plainPointer: UnsafeMutablePointer<Float>?
    /// The same values in oneDNN's channel-blocked layout, when a convolution produced them that way (see
    /// `BlockedActivation`). The ops that understand the layout (convolutions, batch normalization, leaky ReLU)
    /// read and write this; every other op reads `pointer`, which makes the plain copy on first use.
    public private(set) var blocked: BlockedActivation?

    /// Keeps freed tensor memory in the process for reuse. By default glibc maps every block over 128 KiB (up to
    /// 32 MiB, adaptively) from the kernel and unmaps it on free, so each training step faulted in and zeroed its
    /// activations page by page again (about 8% of a DCGAN step).
    static let allocatorConfigured: Bool = {
        KernelMemory.keepFreedMemory()
        return true
    }()

    /// The bytes behind `count` values (at least one value's, so that an empty tensor still has a buffer).
    static func byteCount(_ count: Int) -> Int { max(count, 1) * MemoryLayout<Float>.stride }

    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        _ = TensorStorage.allocatorConfigured
        let raw = KernelMemory.allocate(byteCount: byteCount(count))
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Uninitialized storage for `count` values (the caller writes every element).
    public init(uninitializedCount count: Int) {
        self.count = count
        plainPointer = TensorStorage.allocate(count)
    }

    /// Storage whose values are those of `blocked`; the plain buffer is made when first asked for.
    public init(blocked: BlockedActivation) {
        count = blocked.shape.reduce(1, *)
        self.blocked = blocked
        plainPointer = nil
    }

    public convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    public convenience init(copying source: UnsafePointer<Float>, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(from: source, count: count)
    }

    /// The values in plain row-major order. Storage that a convolution left in the blocked layout is copied out on
    /// the first call (not thread-safe: a tensor is used from one thread at a time).
    public var pointer: UnsafeMutablePointer<Float> {
        if let p = plainPointer { return p }
        let p = TensorStorage.allocate(count)
        blocked!.copy(toPlain: p)
        plainPointer = p
        return p
    }

    /// Before writing through `pointer`: makes the plain copy and forgets the blocked one, which would go stale.
    func prepareForWriting() {
        if blocked != nil {
            _ = pointer
            blocked = nil
        }
    }

    deinit {
        plainPointer.map { KernelMemory.deallocate(UnsafeMutableRawPointer($0), byteCount: TensorStorage.byteCount(count)) }
    }
}
