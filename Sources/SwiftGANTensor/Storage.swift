/// A reference-counted, 64-byte-aligned buffer of Float32 values: the memory behind a `Tensor`.
///
/// `Tensor` is a value type; it shares one `TensorStorage` between copies and copies it before a write
/// when it is not the only owner (copy-on-write).
public final class TensorStorage {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// Uninitialized storage for `count` values (the caller writes every element).
    public init(uninitializedCount count: Int) {
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
