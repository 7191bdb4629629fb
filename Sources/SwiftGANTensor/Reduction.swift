// Sums, means, and broadcasting to a larger shape: each is the other's gradient.

extension Tensor {
    /// Sums over the axes along which `shape` has size 1 (or is missing, counting from the right): the inverse of
    /// broadcasting `shape` to `self.shape`.
    public func sum(toShape target: [Int]) -> Tensor {
        if target == shape { return self }
        guard let b = BroadcastLoop.broadcastShape(target, shape), b == shape else {
            preconditionFailure("sum(toShape:): shape \(target) does not broadcast to \(shape)")
        }
        let y = Tensor.reduceSum(self, to: target)
        let source = shape
        return Tensor.recording(y, inputs: [self]) { g in [g.expanded(to: source)] }
    }

    /// Repeats this tensor along axes of size 1 (and new leading axes) to `target` (NumPy broadcasting).
    public func expanded(to target: [Int]) -> Tensor {
        if target == shape { return self }
        guard let b = BroadcastLoop.broadcastShape(shape, target), b == target else {
            preconditionFailure("expanded(to:): shape \(shape) does not broadcast to \(target)")
        }
        let loop = BroadcastLoop(output: target, operands: [shape])
        let y = Tensor(shape: target, initializingWith: { out, _ in
            let src = storage.pointer
            loop.forEachRow { o, offsets, count, steps in
                if steps[0] == 0 {
                    out.advanced(by: o).initialize(repeating: src[offsets[0]], count: count)
                } else {
                    out.advanced(by: o).initialize(from: src.advanced(by: offsets[0]), count: count)
                }
            }
        })
        let source = shape
        return Tensor.recording(y, inputs: [self]) { g in [g.sum(toShape: source)] }
    }

    /// The sum along `axes`; those axes are kept with size 1 when `keepingDimensions` is true.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let normalized = axes.map { normalizeAxis($0, "sum(alongAxes:)") }
        var kept = shape
        for a in normalized { kept[a] = 1 }
        let y = sum(toShape: kept)
        if keepingDimensions { return y }
        return y.reshaped(to: shape.enumerated().filter { !normalized.contains($0.offset) }.map { $0.element })
    }

    /// The sum of all elements, as a scalar.
    public func sum() -> Tensor { sum(toShape: []) }

    /// The mean along `axes`.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let count = axes.map { shape[normalizeAxis($0, "mean(alongAxes:)")] }.reduce(1, *)
        return sum(alongAxes: axes, keepingDimensions: keepingDimensions) / Float(Swift.max(count, 1))
    }

    /// The mean of all elements, as a scalar.
    public func mean() -> Tensor { sum() / Float(Swift.max(scalarCount, 1)) }

    func normalizeAxis(_ axis: Int, _ name: String) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(name): axis \(axis) is out of range for shape \(shape)")
        return a
    }

    /// Sum-reduction kernel: the input is walked in order; each row adds into the output either as one total
    /// (reduced inner axis) or element by element (kept inner axis).
    static func reduceSum(_ x: Tensor, to target: [Int]) -> Tensor {
        let aligned = [Int](repeating: 1, count: x.rank - target.count) + target
        // Output strides aligned to the input, 0 along reduced axes.
        let loop = BroadcastLoop(output: x.shape, operands: [aligned, x.shape])
        return Tensor(shape: target, initializingWith: { out, n in
            out.initialize(repeating: 0, count: n)
            let src = x.storage.pointer
            loop.forEachRow { _, offsets, count, steps in
                let o = offsets[0], i = offsets[1]
                if steps[0] == 0 {
                    var total: Double = 0
                    for k in 0..<count { total += Double(src[i + k]) }
                    out[o] += Float(total)
                } else {
                    for k in 0..<count { out[o + k] += src[i + k] }
                }
            }
        })
    }
}
