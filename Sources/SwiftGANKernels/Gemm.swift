import COpenBLAS
import CDNNL
import Foundation

/// Matrix multiplication `C = alpha * op(A) * op(B) + beta * C` on row-major buffers.
///
/// `op(A)` is `m x k`, `op(B)` is `k x n`, `C` is `m x n`; `transposeA` means `A` is stored `k x m`.
public enum Gemm {
    /// Which library's single-precision product `multiply` uses.
    public enum Library: String, Sendable, CaseIterable {
        case openBLAS = "openblas"
        case oneDNN = "onednn"
    }

    /// The library `multiply` uses, chosen once: OpenBLAS, unless OpenBLAS did not recognize this CPU and runs one of
    /// its generic kernels on a core that has AVX2 (OpenBLAS 0.3.21 from Debian 12 takes an Intel Xeon of family 6
    /// model 207 for a "Prescott" and multiplies at a fifth of oneDNN's speed there: 33 against 160 GFLOP/s per
    /// core). `SWIFTGAN_GEMM=openblas` or `=onednn` overrides the choice.
    public static let library: Library = {
        if let forced = EngineSettings.value("SWIFTGAN_GEMM"), let choice = Library(rawValue: forced) {
            return choice
        }
        return openBLASLacksVectorKernels ? .oneDNN : .openBLAS
    }()

    /// The OpenBLAS kernel set in use ("Haswell", "SkylakeX", "Zen", "Prescott", ...), as OpenBLAS names it.
    public static var openBLASCoreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// One line on which library `multiply` uses and why, for benchmark headers.
    public static var librarySummary: String {
        if EngineSettings.value("SWIFTGAN_GEMM") != nil {
            return "matrix products: \(library == .oneDNN ? "oneDNN" : "OpenBLAS") "
                + "(SWIFTGAN_GEMM=\(ProcessInfo.processInfo.environment["SWIFTGAN_GEMM"] ?? "")); OpenBLAS's kernels on this CPU: \(openBLASCoreName)"
        }
        switch library {
        case .openBLAS: return "matrix products: OpenBLAS (its \(openBLASCoreName) kernels)"
        case .oneDNN: return "matrix products: oneDNN (OpenBLAS runs its generic \(openBLASCoreName) kernels on this CPU)"
        }
    }

    /// True when the CPU has AVX2 but OpenBLAS chose a kernel set without it.
    static var openBLASLacksVectorKernels: Bool {
        let avx2 = dnnl_cpu_isa_avx2.rawValue
        guard dnnl_get_effective_cpu_isa().rawValue & avx2 == avx2 else { return false }
        let vectorCores: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"]
        return !vectorCores.contains(openBLASCoreName.lowercased())
    }

    /// `C = alpha * op(A) * op(B) + beta * C` with the library `library` names.
    public static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float = 0,
                                c: UnsafeMutablePointer<Float>) {
        switch library {
        case .openBLAS:
            multiplyWithOpenBLAS(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                 a: a, b: b, beta: beta, c: c)
        case .oneDNN:
            multiplyOnOneDNNThreads(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                    a: a, b: b, beta: beta, c: c)
        }
    }

    /// OpenBLAS `cblas_sgemm`, same arguments as `multiply`.
    public static func multiplyWithOpenBLAS(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
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
