import Foundation

/// Elementwise passes over independent rows (channels, positions), split over the cores when they are large enough
/// to repay the threads.
public enum ParallelRows {
    /// Calls `body` for each row in `0..<rows`, in one chunk of whole rows per core when `total` (the values the pass
    /// touches) is at least 2^20, else on the calling thread. Rows must touch disjoint data.
    public static func forEach(_ rows: Int, total: Int, _ body: (Int) -> Void) {
        let chunks = total >= 1 << 20 ? min(rows, ProcessInfo.processInfo.activeProcessorCount) : 1
        if chunks <= 1 {
            for row in 0..<rows { body(row) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let task = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                for row in (rows * chunk / chunks)..<(rows * (chunk + 1) / chunks) { task.value(row) }
            }
        }
    }
}

/// A value handed to worker threads that use it on disjoint data.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
