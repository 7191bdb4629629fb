import CSupport

/// Settings of the C allocator that tensors use.
public enum KernelMemory {
    /// Serves allocations up to 32 MiB from the heap and never returns freed memory to the kernel, so a training loop
    /// that frees and allocates the same sizes each step reuses pages instead of faulting in fresh zeroed ones.
    public static func keepFreedMemory() {
        // 32 MiB is the largest threshold glibc accepts on 64-bit systems; a larger value is refused.
        mallopt(M_MMAP_THRESHOLD, 32 << 20)
        mallopt(M_TRIM_THRESHOLD, Int32.max)
    }
}
