import CDNNL

/// Elementwise passes over independent rows (channels, positions), split over the cores when they are large enough
/// to repay the threads.
///
/// The loops run on oneDNN's OpenMP thread team (libgomp), the same threads that run the convolutions: between two
/// convolutions those threads spin for a while waiting for work, so a loop handed to them starts at once, where a
/// second thread pool (Dispatch) would compete with the spinning threads for the cores.
public enum ParallelRows {
    /// Work below this many values stays on the calling thread. (On the 2-core benchmark machine, when these loops
    /// moved to the OpenMP team, the 32x32 training step took the same time with 2^15 as with 2^18, and 13% less than
    /// with every loop on the calling thread.)
    public static let minimumParallelWork = 1 << 15

    /// Calls `body` for each row in `0..<rows`, in one chunk of consecutive whole rows per thread when `total` (the
    /// values the pass touches) is at least `minimumParallelWork`, else on the calling thread. Rows must touch
    /// disjoint data.
    public static func forEach(_ rows: Int, total: Int, _ body: (Int) -> Void) {
        forEachChunk(rows, total: total) { range in
            for row in range { body(row) }
        }
    }

    /// Calls `body` with disjoint ranges of rows that together cover `0..<rows`, one range per thread (or the whole
    /// range on the calling thread when `total` is under `minimumParallelWork`). For loops that keep per-thread state.
    public static func forEachChunk(_ rows: Int, total: Int, _ body: (Range<Int>) -> Void) {
        let threads = total >= minimumParallelWork ? min(rows, KernelThreads.current) : 1
        if threads <= 1 {
            if rows > 0 { body(0..<rows) }
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = Job(rows: rows, chunks: threads, body: body)
            withUnsafeMutablePointer(to: &job) { pointer in
                GOMP_parallel({ raw in
                    let job = raw!.assumingMemoryBound(to: Job.self).pointee
                    // The team may be smaller than asked for (nested regions, OMP_THREAD_LIMIT): each thread takes
                    // every team-size-th chunk so all chunks run.
                    var chunk = Int(omp_get_thread_num())
                    let team = Int(omp_get_num_threads())
                    while chunk < job.chunks {
                        job.body((job.rows * chunk / job.chunks)..<(job.rows * (chunk + 1) / job.chunks))
                        chunk += team
                    }
                }, pointer, UInt32(threads), 0)
            }
        }
    }

    private struct Job {
        var rows: Int
        var chunks: Int
        var body: (Range<Int>) -> Void
    }
}
