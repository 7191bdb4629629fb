import COpenBLAS

/// Double-precision helpers on row-major buffers: products through OpenBLAS, the symmetric eigendecomposition
/// through LAPACK's `dsyev`.
enum DenseAlgebra {
    /// `C (m x n) = alpha * A (m x k) * B^T (n x k) + beta * C`, all row-major.
    static func multiplyTransposed(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, m: Int, n: Int, k: Int,
                                   alpha: Double = 1, beta: Double = 0, into c: UnsafeMutablePointer<Double>) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), alpha, a, Int32(k), b, Int32(k),
                    beta, c, Int32(n))
    }

    /// `C (n x n) = A B` for square row-major matrices.
    static func multiply(_ a: [Double], _ b: [Double], n: Int) -> [Double] {
        var c = [Double](repeating: 0, count: n * n)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    guard let x = pa.baseAddress, let y = pb.baseAddress, let z = pc.baseAddress else { return }
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, x, Int32(n),
                                y, Int32(n), 0, z, Int32(n))
                }
            }
        }
        return c
    }

    /// Eigenvalues (ascending) and, when `vectors` is true, eigenvectors of the symmetric `n x n` matrix `a`.
    /// The vectors come back as rows: row `j` of the result is the unit eigenvector of eigenvalue `j`.
    /// Only the lower triangle (in row-major terms) is read; `a` is symmetrized first so either triangle will do.
    static func symmetricEigen(_ a: [Double], n: Int, vectors: Bool) throws -> (values: [Double], vectors: [Double]) {
        var matrix = a
        // Symmetrize: rounding can leave the two triangles a few ulps apart.
        for i in 0..<n {
            for j in 0..<i {
                let mean = 0.5 * (matrix[i * n + j] + matrix[j * n + i])
                matrix[i * n + j] = mean
                matrix[j * n + i] = mean
            }
        }
        var jobz = CChar(UInt8(ascii: vectors ? "V" : "N"))
        var uplo = CChar(UInt8(ascii: "L"))
        var order = Int32(n), lda = Int32(n), info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        // Workspace query, then the decomposition. LAPACK is column-major; a symmetric matrix is its own transpose,
        // and the eigenvectors it writes as columns read as rows here.
        var query = 0.0
        var lwork: Int32 = -1
        matrix.withUnsafeMutableBufferPointer { pa in
            w.withUnsafeMutableBufferPointer { pw in
                dsyev_(&jobz, &uplo, &order, pa.baseAddress, &lda, pw.baseAddress, &query, &lwork, &info)
            }
        }
        guard info == 0 else { throw MetricsError.lapackFailure(routine: "dsyev", info: Int(info)) }
        lwork = Int32(max(Double(3 * n), query.rounded(.up)))
        var work = [Double](repeating: 0, count: Int(lwork))
        matrix.withUnsafeMutableBufferPointer { pa in
            w.withUnsafeMutableBufferPointer { pw in
                work.withUnsafeMutableBufferPointer { pk in
                    dsyev_(&jobz, &uplo, &order, pa.baseAddress, &lda, pw.baseAddress, pk.baseAddress, &lwork, &info)
                }
            }
        }
        guard info == 0 else { throw MetricsError.lapackFailure(routine: "dsyev", info: Int(info)) }
        return (w, vectors ? matrix : [])
    }

    /// The principal square root of a symmetric positive semi-definite matrix, `V diag(sqrt(max(w, 0))) V^T`.
    /// Eigenvalues below zero (rounding on a singular matrix) are treated as zero.
    static func symmetricSquareRoot(_ a: [Double], n: Int) throws -> [Double] {
        let (w, v) = try symmetricEigen(a, n: n, vectors: true)
        // scaled row j = sqrt(w_j) * v_j; result = V^T-as-rows: sum_j sqrt(w_j) v_j v_j^T = S^T S with S = diag(w^1/4) V.
        var scaled = v
        for j in 0..<n {
            let s = max(w[j], 0).squareRoot().squareRoot()
            for i in 0..<n { scaled[j * n + i] *= s }
        }
        var result = [Double](repeating: 0, count: n * n)
        scaled.withUnsafeBufferPointer { ps in
            result.withUnsafeMutableBufferPointer { pr in
                guard let s = ps.baseAddress, let r = pr.baseAddress else { return }
                // result = S^T S, with S stored n x n row-major.
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, s, Int32(n), s,
                            Int32(n), 0, r, Int32(n))
            }
        }
        return result
    }

    /// The squared length of each row of a `count x dimension` matrix.
    static func rowSquaredNorms(_ m: FeatureMatrix) -> [Double] {
        var norms = [Double](repeating: 0, count: m.count)
        m.values.withUnsafeBufferPointer { v in
            for i in 0..<m.count {
                var s = 0.0
                for j in 0..<m.dimension { s += v[i * m.dimension + j] * v[i * m.dimension + j] }
                norms[i] = s
            }
        }
        return norms
    }

    /// Calls `body` with successive blocks of squared Euclidean distances between the rows of `a` and all rows of
    /// `b`: block rows `start..<start + rows` of `a`, as a `rows x b.count` row-major buffer. The whole
    /// `a.count x b.count` matrix is never held at once, so memory stays at `blockRows * b.count` values.
    static func forEachDistanceBlock(_ a: FeatureMatrix, _ b: FeatureMatrix, blockRows: Int = 256,
                                     _ body: (_ start: Int, _ rows: Int, UnsafeBufferPointer<Double>) -> Void) {
        precondition(a.dimension == b.dimension, "distance blocks need features of one dimension")
        let normsA = rowSquaredNorms(a), normsB = rowSquaredNorms(b)
        let n = b.count, d = a.dimension
        let rowsPerBlock = max(1, min(blockRows, a.count))
        var buffer = [Double](repeating: 0, count: rowsPerBlock * n)
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                buffer.withUnsafeMutableBufferPointer { pc in
                    guard let x = pa.baseAddress, let y = pb.baseAddress, let c = pc.baseAddress else { return }
                    var start = 0
                    while start < a.count {
                        let rows = min(rowsPerBlock, a.count - start)
                        // ||x||^2 + ||y||^2 - 2 x.y, with the product from one GEMM per block.
                        multiplyTransposed(x + start * d, y, m: rows, n: n, k: d, alpha: -2, into: c)
                        for r in 0..<rows {
                            let na = normsA[start + r]
                            let row = c + r * n
                            for j in 0..<n { row[j] = max(0, row[j] + na + normsB[j]) }
                        }
                        body(start, rows, UnsafeBufferPointer(start: c, count: rows * n))
                        start += rows
                    }
                }
            }
        }
    }

    /// The squared distance between row `i` of `a` and row `j` of `b`, summed directly.
    static func squaredDistance(_ a: FeatureMatrix, _ i: Int, _ b: FeatureMatrix, _ j: Int) -> Double {
        let d = a.dimension
        return a.values.withUnsafeBufferPointer { x in
            b.values.withUnsafeBufferPointer { y in
                var s = 0.0
                for p in 0..<d {
                    let t = x[i * d + p] - y[j * d + p]
                    s += t * t
                }
                return s
            }
        }
    }

    /// A bound on the rounding error of `||x||^2 + ||y||^2 - 2 x.y` (generous: a thousand times the unit roundoff
    /// relative to the squared norms).
    static func distanceMargin(_ normX: Double, _ normY: Double) -> Double {
        1e-13 * (normX + normY) + 1e-300
    }
}
