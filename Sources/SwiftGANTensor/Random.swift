import Foundation

/// A small, fast, deterministic generator (SplitMix64): the same seed gives the same numbers on every machine.
public struct SplitMix64: RandomNumberGenerator {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Tensor {
    /// Samples from the normal distribution (Box-Muller on `generator`).
    public static func randomNormal<G: RandomNumberGenerator>(shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                                                              using generator: inout G) -> Tensor {
        Tensor(shape: shape, initializingWith: { out, n in
            var i = 0
            while i < n {
                // Uniform in (0, 1], never 0, so the logarithm stays finite.
                let u1 = (Double(generator.next() >> 11) + 1) / 9_007_199_254_740_992.0
                let u2 = Double(generator.next() >> 11) / 9_007_199_254_740_992.0
                let r = (-2 * Foundation.log(u1)).squareRoot()
                out[i] = mean + standardDeviation * Float(r * Foundation.cos(2 * Double.pi * u2))
                if i + 1 < n { out[i + 1] = mean + standardDeviation * Float(r * Foundation.sin(2 * Double.pi * u2)) }
                i += 2
            }
        })
    }

    /// Samples uniformly from `[lowerBound, upperBound)`.
    public static func randomUniform<G: RandomNumberGenerator>(shape: [Int], lowerBound: Float = 0, upperBound: Float = 1,
                                                               using generator: inout G) -> Tensor {
        Tensor(shape: shape, initializingWith: { out, n in
            for i in 0..<n {
                let u = Float(generator.next() >> 40) / Float(1 << 24)
                out[i] = lowerBound + (upperBound - lowerBound) * u
            }
        })
    }
}
