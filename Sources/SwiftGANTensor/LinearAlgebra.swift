import SwiftGANKernels

extension Tensor {
    /// Matrix product `op(a) x op(b)` of two rank-2 tensors, where `op` transposes when asked (OpenBLAS).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul: needs matrices, got shapes \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[1] : a.shape[0], k = transposeA ? a.shape[0] : a.shape[1]
        let k2 = transposeB ? b.shape[1] : b.shape[0], n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == k2, "matmul: inner sizes differ for shapes \(a.shape)\(transposeA ? "^T" : "") and \(b.shape)\(transposeB ? "^T" : "")")
        let y = Tensor(shape: [m, n], initializingWith: { out, _ in
            if k == 0 { out.initialize(repeating: 0, count: m * n); return }
            Gemm.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                          a: a.storage.pointer, b: b.storage.pointer, c: out)
        })
        return recording(y, inputs: [a, b]) { g in
            let ga = !a.needsGradient(asInput: 0) ? nil
                : (transposeA ? matmul(b, g, transposeA: transposeB, transposeB: true) : matmul(g, b, transposeB: !transposeB))
            let gb = !b.needsGradient(asInput: 1) ? nil
                : (transposeB ? matmul(g, a, transposeA: true, transposeB: transposeA) : matmul(a, g, transposeA: !transposeA))
            return [ga, gb]
        }
    }
}
