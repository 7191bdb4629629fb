// Selecting rows by index (embedding lookups) and its gradient, adding rows back by index.

extension Tensor {
    /// The rows (slices along axis 0) at `indices`, in that order; an index may repeat.
    /// Shape `[indices.count] + shape[1...]`.
    public func gathering(rows indices: [Int]) -> Tensor {
        precondition(rank >= 1, "gathering(rows:): needs at least one axis, shape \(shape)")
        let rows = shape[0], width = shape[1...].reduce(1, *)
        for i in indices {
            precondition(i >= 0 && i < rows, "gathering(rows:): index \(i) is out of range for shape \(shape)")
        }
        let y = Tensor(shape: [indices.count] + shape[1...], initializingWith: { out, _ in
            let src = storage.pointer
            for (k, i) in indices.enumerated() {
                (out + k * width).initialize(from: src + i * width, count: width)
            }
        })
        return Tensor.recording(y, inputs: [self]) { g in [g.scatterAdding(rows: indices, rowCount: rows)] }
    }

    /// A tensor of `rowCount` rows where row `indices[k]` accumulates row `k` of this tensor (zeros elsewhere):
    /// the gradient of `gathering(rows:)`.
    public func scatterAdding(rows indices: [Int], rowCount: Int) -> Tensor {
        precondition(rank >= 1 && shape[0] == indices.count,
                     "scatterAdding(rows:rowCount:): \(indices.count) indices for shape \(shape)")
        let width = shape[1...].reduce(1, *)
        for i in indices {
            precondition(i >= 0 && i < rowCount, "scatterAdding(rows:rowCount:): index \(i) is out of range for \(rowCount) rows")
        }
        let y = Tensor(shape: [rowCount] + shape[1...], initializingWith: { out, n in
            out.initialize(repeating: 0, count: n)
            let src = storage.pointer
            for (k, i) in indices.enumerated() {
                let dst = out + i * width, row = src + k * width
                for j in 0..<width { dst[j] += row[j] }
            }
        })
        return Tensor.recording(y, inputs: [self]) { g in [g.gathering(rows: indices)] }
    }
}
