/// An n-dimensional array of Float32 values with row-major (C order) contiguous storage.
///
/// Tensors are values: assigning one and changing the copy leaves the original alone (the buffer is shared until
/// a write). A tensor may also carry a node of the autodiff graph (see `requiringGradient()` and
/// `gradient(of:wrt:)`); every operation on such tensors records how to compute its gradient.
public struct Tensor {
    /// The size along each axis; `[]` for a scalar.
    public let shape: [Int]
    @usableFromInline var storage: TensorStorage
    /// The autodiff graph node that produced this tensor, or nil for a constant.
    var node: GradientNode?

    /// The number of elements (1 for a scalar).
    public var scalarCount: Int { storage.count }
    /// The number of axes.
    public var rank: Int { shape.count }
    /// True when this tensor takes part in gradient computation.
    public var isTrackingGradient: Bool { node != nil }

    init(shape: [Int], storage: TensorStorage, node: GradientNode? = nil) {
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// A tensor of `shape` with every element `value`.
    public init(repeating value: Float, shape: [Int]) {
        Tensor.checkShape(shape)
        self.init(shape: shape, storage: TensorStorage(repeating: value, count: shape.reduce(1, *)))
    }

    /// A tensor of `shape` holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        Tensor.checkShape(shape)
        precondition(shape.reduce(1, *) == scalars.count,
                     "Tensor(shape:scalars:): shape \(shape) holds \(shape.reduce(1, *)) elements, got \(scalars.count) scalars")
        let storage = scalars.withUnsafeBufferPointer { TensorStorage(copying: $0.baseAddress!, count: scalars.count) }
        self.init(shape: shape, storage: storage)
    }

    /// A rank-0 tensor.
    public init(_ value: Float) { self.init(repeating: value, shape: []) }

    /// A tensor of `shape` whose elements are written by `body` into uninitialized memory.
    public init(shape: [Int], initializingWith body: (UnsafeMutablePointer<Float>, Int) -> Void) {
        Tensor.checkShape(shape)
        let storage = TensorStorage(uninitializedCount: shape.reduce(1, *))
        body(storage.pointer, storage.count)
        self.init(shape: shape, storage: storage)
    }

    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    static func checkShape(_ shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "tensor shape \(shape) has a negative size")
    }

    /// The elements in row-major order.
    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The single element of a one-element tensor.
    public var scalar: Float {
        precondition(scalarCount == 1, "scalar: tensor of shape \(shape) has \(scalarCount) elements, not 1")
        return storage.pointer[0]
    }

    /// Read-only access to the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// In-place access to the elements. The tensor's buffer is copied first if it is shared, and the tensor
    /// leaves the autodiff graph (an in-place change has no recorded gradient).
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            storage = TensorStorage(copying: storage.pointer, count: storage.count)
        }
        node = nil
        storage.prepareForWriting()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// The same values, cut off from the autodiff graph: gradients do not flow through the result.
    public var detached: Tensor { Tensor(shape: shape, storage: storage) }

    /// True when both tensors share one buffer (used by tests of copy-on-write).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(scalarCount > 8 ? ", ..." : "")])"
    }
}

import Foundation
