// Sample-quality metrics on feature arrays: the Frechet distance, the kernel distance (KID), precision and recall,
// density and coverage. Everything here works on row-major feature matrices (one row per image) in double
// precision and knows nothing of tensors or networks.

/// A problem with the feature arrays given to a metric.
public enum MetricsError: Error, CustomStringConvertible, Equatable {
    /// The values do not fill a `count x dimension` matrix, or a size is not positive.
    case invalidShape(String)
    /// Too few rows for the metric (a covariance needs two, a k-nearest-neighbour radius needs k + 1).
    case tooFewSamples(String)
    /// The two sets of features have different lengths.
    case dimensionMismatch(first: Int, second: Int)
    /// A feature is NaN or infinite.
    case nonFinite(String)
    /// A LAPACK routine reported failure (`info` is its error code).
    case lapackFailure(routine: String, info: Int)

    /// One line saying what is wrong.
    public var description: String {
        switch self {
        case .invalidShape(let message), .tooFewSamples(let message), .nonFinite(let message): return message
        case .dimensionMismatch(let first, let second):
            return "the two feature sets have different dimensions (\(first) and \(second))"
        case .lapackFailure(let routine, let info):
            return "the eigendecomposition (\(routine)) failed with info \(info)"
        }
    }
}

/// A row-major matrix of features, one row per sample, in double precision.
public struct FeatureMatrix: Equatable, Sendable {
    /// The number of samples (rows).
    public let count: Int
    /// The length of each feature vector (columns).
    public let dimension: Int
    /// `count * dimension` values, row after row.
    public let values: [Double]

    /// - Throws: `MetricsError.invalidShape` when `values` is not `count * dimension` long or a size is not positive;
    ///   `MetricsError.nonFinite` when a value is NaN or infinite.
    public init(count: Int, dimension: Int, values: [Double]) throws {
        guard count > 0, dimension > 0 else {
            throw MetricsError.invalidShape("a feature matrix needs at least one row and one column, got \(count) x \(dimension)")
        }
        guard values.count == count * dimension else {
            throw MetricsError.invalidShape("\(values.count) feature values do not fill \(count) rows of \(dimension)")
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw MetricsError.nonFinite("feature \(bad % dimension) of sample \(bad / dimension) is \(values[bad])")
        }
        self.count = count
        self.dimension = dimension
        self.values = values
    }

    /// Single-precision features (as networks produce them), widened to double.
    public init(count: Int, dimension: Int, values: [Float]) throws {
        try self.init(count: count, dimension: dimension, values: values.map(Double.init))
    }

    /// The rows at `indices`, in that order.
    public func rows(_ indices: [Int]) -> FeatureMatrix {
        var out = [Double]()
        out.reserveCapacity(indices.count * dimension)
        for i in indices { out.append(contentsOf: values[(i * dimension)..<((i + 1) * dimension)]) }
        return FeatureMatrix(unchecked: indices.count, dimension, out)
    }

    /// The first `n` rows (all of them when `n >= count`).
    public func prefix(_ n: Int) -> FeatureMatrix {
        let m = min(max(n, 0), count)
        return FeatureMatrix(unchecked: m, dimension, Array(values[0..<(m * dimension)]))
    }

    init(unchecked count: Int, _ dimension: Int, _ values: [Double]) {
        self.count = count
        self.dimension = dimension
        self.values = values
    }
}

/// SplitMix64 (Steele, Lea and Flood 2014), so that subsets drawn by the metrics depend only on their seed.
struct MetricsRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` (Lemire's multiply-shift with rejection).
    mutating func below(_ bound: Int) -> Int {
        let b = UInt64(bound)
        let threshold = (0 &- b) % b
        while true {
            let product = next().multipliedFullWidth(by: b)
            if product.low >= threshold { return Int(product.high) }
        }
    }

    /// `m` distinct indices from `0..<n`, uniformly (a partial Fisher-Yates shuffle).
    mutating func sample(_ m: Int, from n: Int) -> [Int] {
        var order = Array(0..<n)
        for i in 0..<min(m, n) {
            let j = i + below(n - i)
            order.swapAt(i, j)
        }
        return Array(order[0..<min(m, n)])
    }
}
