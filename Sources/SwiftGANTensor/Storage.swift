import SwiftGANKernels

/// A reference-counted, 64-byte-aligned buffer of Float32 values: the memory behind a `Tensor`.
///
/// `Tensor` is a value type; it shares one `TensorStorage` between copies and copies it before a write
/// when it is not the only owner (copy-on-write).
public final class TensorStorage {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Keeps freed tensor memory in the process for reuse. By default glibc maps every block over 128 KiB (up to
    /// 32 MiB, adaptively) from the kernel and unmaps it on free, so each training step faulted in and zeroed its
    /// activations page by page again (about 8% of a DCGAN step).
    static let allocatorConfigured: Bool = {
        KernelMemory.keepFreedMemory()
        return true
    }()

    /// Uninitialized storage for `count` values (the caller writes every element).
    public init(uninitializedCount count: Int) {
        _ = TensorStorage.allocatorConfigured
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    public convenience init(repeating value: Float, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    public convenience init(copying source: UnsafePointer<Float>, count: Int) {
        self.init(uninitializedCount: count)
        pointer.initialize(from: source, count: count)
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
