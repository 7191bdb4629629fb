/// Loops over the elements of a broadcast operation, row by row.
///
/// Shapes are aligned from the right as in NumPy; an operand's axis of size 1 (or a missing axis) repeats its
/// value along the output. Adjacent axes that broadcast the same way are merged first, so the innermost row is as
/// long as possible and the per-row overhead is small.
struct BroadcastLoop {
    /// Merged output sizes, and each operand's element strides along them (0 where it repeats).
    var sizes: [Int]
    var strides: [[Int]]

    /// The shape that `a` and `b` broadcast to, or nil if they are incompatible.
    static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 { result[i] = da } else if da == 1 { result[i] = db } else { return nil }
        }
        return result
    }

    init(output: [Int], operands: [[Int]]) {
        let rank = output.count
        // Per-operand strides aligned to the output, 0 along repeated axes.
        var full: [[Int]] = operands.map { shape in
            precondition(shape.count <= rank)
            var strides = [Int](repeating: 0, count: rank)
            var step = 1
            for i in stride(from: shape.count - 1, through: 0, by: -1) {
                let o = i + rank - shape.count
                strides[o] = shape[i] == 1 && output[o] != 1 ? 0 : step
                step *= shape[i]
            }
            return strides
        }
        // Drop size-1 output axes, then merge axes where every operand is contiguous across the boundary.
        var sizes: [Int] = []
        var merged: [[Int]] = Array(repeating: [], count: operands.count)
        for axis in 0..<rank where output[axis] != 1 {
            if let last = sizes.last,
               (0..<operands.count).allSatisfy({ merged[$0].last! == full[$0][axis] * output[axis] }) {
                sizes[sizes.count - 1] = last * output[axis]
                for k in 0..<operands.count { merged[k][merged[k].count - 1] = full[k][axis] }
            } else {
                sizes.append(output[axis])
                for k in 0..<operands.count { merged[k].append(full[k][axis]) }
            }
        }
        if sizes.isEmpty {
            sizes = [1]
            merged = Array(repeating: [0], count: operands.count)
        }
        full = []
        self.sizes = sizes
        self.strides = merged
    }

    /// Calls `row(outputOffset, operandOffsets, count, operandSteps)` for each innermost row, in output order.
    @inline(__always)
    func forEachRow(_ row: (Int, [Int], Int, [Int]) -> Void) {
        let rank = sizes.count
        let inner = sizes[rank - 1]
        let steps = strides.map { $0[rank - 1] }
        let outerCount = sizes.dropLast().reduce(1, *)
        if outerCount == 0 || inner == 0 { return }
        var index = [Int](repeating: 0, count: max(rank - 1, 0))
        var offsets = [Int](repeating: 0, count: strides.count)
        for outer in 0..<outerCount {
            row(outer * inner, offsets, inner, steps)
            // Advance the odometer over the outer axes.
            var axis = rank - 2
            while axis >= 0 {
                index[axis] += 1
                for k in 0..<offsets.count { offsets[k] += strides[k][axis] }
                if index[axis] < sizes[axis] { break }
                for k in 0..<offsets.count { offsets[k] -= strides[k][axis] * sizes[axis] }
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
