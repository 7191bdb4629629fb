// Reshape, permute, slice, pad, concatenate.

extension Tensor {
    /// The same elements with another shape; one size may be -1 to be inferred. Shares the buffer.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let i = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != i }.map { $0.element }.reduce(1, *)
            precondition(known > 0 && scalarCount % known == 0, "reshaped(to:): cannot reshape \(shape) to \(newShape)")
            resolved[i] = scalarCount / known
        }
        precondition(resolved.allSatisfy { $0 >= 0 } && resolved.reduce(1, *) == scalarCount,
                     "reshaped(to:): cannot reshape \(shape) (\(scalarCount) elements) to \(newShape)")
        let y = Tensor(shape: resolved, storage: storage)
        let source = shape
        return Tensor.recording(y, inputs: [self]) { g in [g.reshaped(to: source)] }
    }

    /// Flattens every axis after the first: `[N, ...] -> [N, rest]`.
    public func flattenedBatch() -> Tensor { reshaped(to: [shape.first ?? 1, -1]) }

    /// Reorders the axes: result axis `i` is axis `axes[i]` of this tensor.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(axes.count == rank && Set(axes) == Set(0..<rank),
                     "permuted(_:): \(axes) is not a permutation of the axes of shape \(shape)")
        let newShape = axes.map { shape[$0] }
        var srcStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { srcStrides[i] = srcStrides[i + 1] * shape[i + 1] }
        let permutedStrides = axes.map { srcStrides[$0] }
        let y = Tensor(shape: newShape, initializingWith: { out, n in
            let src = storage.pointer
            var index = [Int](repeating: 0, count: rank)
            var offset = 0
            for o in 0..<n {
                out[o] = src[offset]
                var axis = rank - 1
                while axis >= 0 {
                    index[axis] += 1
                    offset += permutedStrides[axis]
                    if index[axis] < newShape[axis] { break }
                    offset -= permutedStrides[axis] * newShape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        })
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in axes.enumerated() { inverse[a] = i }
        return Tensor.recording(y, inputs: [self]) { g in [g.permuted(inverse)] }
    }

    /// The transpose of a matrix.
    public func transposed() -> Tensor {
        precondition(rank == 2, "transposed(): needs a matrix, got shape \(shape)")
        return permuted([1, 0])
    }

    /// Elements `range` along `axis` (all of every other axis).
    public func sliced(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        let a = normalizeAxis(axis, "sliced(alongAxis:_:)")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[a],
                     "sliced(alongAxis:_:): range \(range) is out of bounds for axis \(a) of shape \(shape)")
        var newShape = shape
        newShape[a] = range.count
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        let y = Tensor(shape: newShape, initializingWith: { out, _ in
            let src = storage.pointer
            for o in 0..<outer {
                out.advanced(by: o * range.count * inner)
                    .initialize(from: src.advanced(by: (o * shape[a] + range.lowerBound) * inner), count: range.count * inner)
            }
        })
        let size = shape[a]
        return Tensor.recording(y, inputs: [self]) { g in
            [g.padded(alongAxis: a, before: range.lowerBound, after: size - range.upperBound)]
        }
    }

    /// Adds `before` and `after` zeros along `axis`.
    public func padded(alongAxis axis: Int, before: Int, after: Int) -> Tensor {
        let a = normalizeAxis(axis, "padded(alongAxis:)")
        precondition(before >= 0 && after >= 0, "padded(alongAxis:): negative padding \(before), \(after)")
        var newShape = shape
        newShape[a] += before + after
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *)
        let y = Tensor(shape: newShape, initializingWith: { out, n in
            out.initialize(repeating: 0, count: n)
            let src = storage.pointer
            for o in 0..<outer {
                out.advanced(by: (o * newShape[a] + before) * inner)
                    .update(from: src.advanced(by: o * shape[a] * inner), count: shape[a] * inner)
            }
        })
        let size = shape[a]
        return Tensor.recording(y, inputs: [self]) { g in [g.sliced(alongAxis: a, before..<(before + size))] }
    }

    /// Joins tensors along `axis`; every other axis must match.
    public static func concatenate(_ tensors: [Tensor], alongAxis axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let first = tensors[0]
        let a = first.normalizeAxis(axis, "concatenate")
        for t in tensors {
            var x = t.shape, y = first.shape
            precondition(x.count == y.count, "concatenate: shapes \(first.shape) and \(t.shape) differ in rank")
            x[a] = 0; y[a] = 0
            precondition(x == y, "concatenate: shapes \(first.shape) and \(t.shape) differ outside axis \(a)")
        }
        var newShape = first.shape
        newShape[a] = tensors.map { $0.shape[a] }.reduce(0, +)
        let outer = first.shape[..<a].reduce(1, *), inner = first.shape[(a + 1)...].reduce(1, *)
        let result = Tensor(shape: newShape, initializingWith: { out, _ in
            var start = 0
            for t in tensors {
                let rows = t.shape[a] * inner
                for o in 0..<outer {
                    out.advanced(by: o * newShape[a] * inner + start).initialize(from: t.storage.pointer.advanced(by: o * rows), count: rows)
                }
                start += rows
            }
        })
        let sizes = tensors.map { $0.shape[a] }
        return recording(result, inputs: tensors) { g in
            var start = 0
            return sizes.map { size in
                defer { start += size }
                return g.sliced(alongAxis: a, start..<(start + size))
            }
        }
    }
}
