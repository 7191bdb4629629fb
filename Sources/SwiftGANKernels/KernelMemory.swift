import CSupport
import Foundation

/// How tensors and kernel buffers get memory.
public enum KernelMemory {
    /// Serves allocations up to 32 MiB from the heap and never returns freed memory to the kernel, so a training loop
    /// that frees and allocates the same sizes each step reuses pages instead of faulting in fresh zeroed ones.
    public static func keepFreedMemory() {
        // 32 MiB is the largest threshold glibc accepts on 64-bit systems; a larger value is refused.
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, Int32.max)
    }

    /// Buffers of at least this many bytes go through `LargeBufferPool`: glibc maps each of them from the kernel
    /// and unmaps it on free, whatever `keepFreedMemory` says.
    public static let poolThreshold = 32 << 20

    /// The process's pool of freed large buffers.
    public static let pool = LargeBufferPool(capacity: 1 << 30)

    /// `byteCount` bytes, 64-byte aligned; a large buffer freed earlier with the same size is reused.
    public static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = max(byteCount, 64)
        if size >= poolThreshold, let reused = pool.take(byteCount: size) { return reused }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    /// Frees a buffer from `allocate(byteCount:)`, given the same byte count.
    public static func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        let size = max(byteCount, 64)
        if size >= poolThreshold, pool.keep(pointer, byteCount: size) { return }
        pointer.deallocate()
    }
}

/// Freed buffers kept by size for the next request of exactly that size, up to `capacity` bytes in all (the oldest
/// are freed first beyond it). Sampling a batch of 256 64x64 images makes and frees the same 64 MiB activation
/// buffers on every call; without the pool each was mapped fresh and its pages faulted in and zeroed again (about 14%
/// of the time, measured with perf). Thread-safe.
public final class LargeBufferPool: @unchecked Sendable {
    public let capacity: Int
    private let lock = NSLock()
    private var kept: [(pointer: UnsafeMutableRawPointer, byteCount: Int)] = []
    public private(set) var keptBytes = 0

    public init(capacity: Int) { self.capacity = capacity }

    /// A kept buffer of exactly `byteCount` bytes, removed from the pool, or nil.
    public func take(byteCount: Int) -> UnsafeMutableRawPointer? {
        lock.lock(); defer { lock.unlock() }
        guard let index = kept.lastIndex(where: { $0.byteCount == byteCount }) else { return nil }
        keptBytes -= byteCount
        return kept.remove(at: index).pointer
    }

    /// Keeps `pointer` for reuse; false (the caller frees it) when it alone is over the capacity.
    public func keep(_ pointer: UnsafeMutableRawPointer, byteCount: Int) -> Bool {
        guard byteCount <= capacity else { return false }
        lock.lock(); defer { lock.unlock() }
        kept.append((pointer, byteCount))
        keptBytes += byteCount
        while keptBytes > capacity {
            let oldest = kept.removeFirst()
            keptBytes -= oldest.byteCount
            oldest.pointer.deallocate()
        }
        return true
    }

    /// Frees every kept buffer.
    public func empty() {
        lock.lock(); defer { lock.unlock() }
        for buffer in kept { buffer.pointer.deallocate() }
        kept.removeAll()
        keptBytes = 0
    }
}
