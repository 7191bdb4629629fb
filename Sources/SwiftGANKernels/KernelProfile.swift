import Foundation

/// Optional timing of kernels by name, switched on with the environment variable `SWIFTGAN_PROFILE=1`, or
/// `SWIFTGAN_PROFILE=shapes` to time each layer shape on its own (`swiftgan bench` prints the table). Off, it costs
/// one branch per kernel call.
public enum KernelProfile {
    nonisolated(unsafe) public static var isEnabled = ["1", "shapes"].contains(EngineSettings.value("SWIFTGAN_PROFILE"))
    /// Whether kernel names carry their operands' shapes.
    nonisolated(unsafe) public static var byShape = EngineSettings.value("SWIFTGAN_PROFILE") == "shapes"
    nonisolated(unsafe) static var totals: [String: (calls: Int, nanoseconds: UInt64)] = [:]

    /// Runs `body`, adding its time to `name` when profiling is on.
    @inline(__always)
    public static func measure<R>(_ name: @autoclosure () -> String, _ body: () throws -> R) rethrows -> R {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let key = name()
            let elapsed = DispatchTime.now().uptimeNanoseconds - start
            let old = totals[key] ?? (0, 0)
            totals[key] = (old.calls + 1, old.nanoseconds + elapsed)
        }
        return try body()
    }

    public static func reset() { totals = [:] }

    /// `(name, calls, milliseconds)`, slowest first.
    public static var report: [(name: String, calls: Int, milliseconds: Double)] {
        totals.map { ($0.key, $0.value.calls, Double($0.value.nanoseconds) / 1e6) }.sorted { $0.2 > $1.2 }
    }
}
