import Foundation

/// A small, fast, seedable random number generator whose output depends only on its seed.
///
/// The generator is xoshiro256** (Blackman and Vigna). Its 256-bit state is filled from the
/// 64-bit seed with SplitMix64, so every seed — including 0 — gives a usable state. The
/// sequence is the same on every run, platform and Swift version, which is what makes
/// shuffled batch orders and sampled noise reproducible.
///
/// Swift's own `shuffle(using:)` and `random(in:using:)` are not promised to draw numbers in
/// the same way across Swift versions; use ``next(below:)`` and
/// ``Swift/MutableCollection/seededShuffle(using:)`` instead when the order must be stable.
public struct SeededRandomNumberGenerator: RandomNumberGenerator, Equatable, Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64

    /// Creates a generator whose whole output is determined by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        s0 = Self.splitMix64(&sm)
        s1 = Self.splitMix64(&sm)
        s2 = Self.splitMix64(&sm)
        s3 = Self.splitMix64(&sm)
    }

    /// Creates a generator for one of many independent streams derived from one seed
    /// (for example one stream per epoch): equivalent to `init(seed: mix(seed, stream))`.
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: Self.mix(seed, stream))
    }

    /// Returns the next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotateLeft(s3, 45)
        return result
    }

    /// Returns a uniformly distributed integer in `0..<bound` (Lemire's multiply-and-reject method).
    ///
    /// The algorithm is fixed here, so the result for a given generator state never changes.
    /// `bound` must be positive.
    public mutating func next(below bound: Int) -> Int {
        precondition(bound > 0, "SeededRandomNumberGenerator.next(below:) needs a positive bound, got \(bound)")
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold {
                product = next().multipliedFullWidth(by: range)
            }
        }
        return Int(product.high)
    }

    /// Returns a uniformly distributed `Float` in `[0, 1)` built from the top 24 random bits.
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Combines two 64-bit values into one well-mixed seed (used to derive, e.g., a per-epoch seed).
    ///
    /// Different `(a, b)` pairs give unrelated results; the function is fixed and portable.
    public static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        finalize(a ^ finalize(b &+ 0x9E37_79B9_7F4A_7C15))
    }

    private static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return finalize(state)
    }

    private static func finalize(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@inline(__always)
private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 - k))
}

extension MutableCollection where Self: RandomAccessCollection {
    /// Shuffles the collection in place with a Fisher–Yates shuffle driven by `generator`.
    ///
    /// Unlike `shuffle(using:)`, the order produced for a given generator state is fixed by this
    /// library and does not change between Swift versions or platforms.
    public mutating func seededShuffle(using generator: inout SeededRandomNumberGenerator) {
        let n = count
        guard n > 1 else { return }
        var i = n - 1
        while i > 0 {
            let j = generator.next(below: i + 1)
            if j != i {
                swapAt(index(startIndex, offsetBy: i), index(startIndex, offsetBy: j))
            }
            i -= 1
        }
    }
}

extension Sequence {
    /// Returns the elements in the order given by a seeded Fisher–Yates shuffle
    /// (see ``Swift/MutableCollection/seededShuffle(using:)``).
    public func seededShuffled(using generator: inout SeededRandomNumberGenerator) -> [Element] {
        var result = Array(self)
        result.seededShuffle(using: &generator)
        return result
    }
}

/// Deterministic permutations for dataset shuffling.
public enum SeededShuffle {
    /// Returns a permutation of `0..<count` that depends only on `seed` and `epoch`.
    ///
    /// The seed for the epoch is `SeededRandomNumberGenerator.mix(seed, UInt64(bitPattern: Int64(epoch)))`,
    /// so each epoch has its own, unrelated order.
    public static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var generator = SeededRandomNumberGenerator(seed: seed, stream: UInt64(bitPattern: Int64(epoch)))
        var order = Array(0..<Swift.max(count, 0))
        order.withUnsafeMutableBufferPointer { buffer in
            buffer.seededShuffle(using: &generator)
        }
        return order
    }
}
