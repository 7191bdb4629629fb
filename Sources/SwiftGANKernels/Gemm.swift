import COpenBLAS
import CDNNL

/// Matrix multiplication `C = alpha * op(A) * op(B) + beta * C` on row-major buffers.
///
/// `op(A)` is `m x k`, `op(B)` is `k x n`, `C` is `m x n`; `transposeA` means `A` is stored `k x m`.
public enum Gemm {
    /// OpenBLAS `cblas_sgemm`.
    public static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float = 0,
                                c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transposeA ? m : k), b, Int32(transposeB ? k : n),
                    beta, c, Int32(n))
    }

    /// oneDNN's `dnnl_sgemm`, same arguments as `multiply`. It runs on oneDNN's OpenMP threads: between oneDNN
    /// convolutions, an OpenBLAS product would wake OpenBLAS's own threads, which then spin and take the cores from the
    /// next convolution (measured: sampling 256 images at 32x32 22% slower).
    public static func multiplyOnOneDNNThreads(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                               a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float = 0,
                                               c: UnsafeMutablePointer<Float>) {
        let status = dnnl_sgemm(CChar(UInt8(ascii: transposeA ? "T" : "N")), CChar(UInt8(ascii: transposeB ? "T" : "N")),
                                Int64(m), Int64(n), Int64(k), alpha, a, Int64(transposeA ? m : k), b, Int64(transposeB ? k : n),
                                beta, c, Int64(n))
        precondition(status == dnnl_success, "dnnl_sgemm failed with status \(status.rawValue) for m \(m), n \(n), k \(k)")
    }

    /// Straight triple loop with Double accumulation: the yardstick for `multiply`.
    public static func referenceMultiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                         a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float = 0,
                                         c: UnsafeMutablePointer<Float>) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * m + i] : a[i * k + p]
                    let bv = transposeB ? b[j * k + p] : b[p * n + j]
                    sum += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : beta * c[i * n + j]
                c[i * n + j] = alpha * Float(sum) + old
            }
        }
    }
}

/// Thread counts of the two libraries, which otherwise each start one thread per core and compete.
public enum KernelThreads {
    /// Sets both oneDNN's (OpenMP) and OpenBLAS's thread counts.
    public static func set(_ count: Int) {
        let n = Int32(max(1, count))
        omp_set_num_threads(n)
        openblas_set_num_threads(n)
    }

    /// oneDNN's current thread count.
    public static var current: Int { Int(omp_get_max_threads()) }
}
