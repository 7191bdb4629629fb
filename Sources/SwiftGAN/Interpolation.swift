import Foundation
import SwiftGANNN

/// Paths between two latent vectors.
public enum LatentInterpolation: String, CaseIterable {
    /// Straight line: `(1 - t) a + t b`.
    case linear
    /// Along the great circle between the directions of `a` and `b` (White 2016, "Sampling Generative Networks"),
    /// with the length interpolated linearly. Points stay at the typical distance from the origin that Gaussian
    /// latents have, where a straight line passes closer to the origin.
    case spherical

    /// `steps` points from `a` to `b` (both included), as rows of a `[steps, n]` tensor.
    public func path(from a: [Float], to b: [Float], steps: Int) -> Tensor {
        precondition(a.count == b.count && steps >= 2, "interpolation needs two vectors of one length and at least 2 steps")
        var rows: [Float] = []
        for i in 0..<steps {
            let t = Float(i) / Float(steps - 1)
            rows += self == .linear ? LatentInterpolation.lerp(a, b, t) : LatentInterpolation.slerp(a, b, t)
        }
        return Tensor(shape: [steps, a.count], scalars: rows)
    }

    static func lerp(_ a: [Float], _ b: [Float], _ t: Float) -> [Float] {
        zip(a, b).map { (1 - t) * $0 + t * $1 }
    }

    static func norm(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// Spherical interpolation that stays finite for every input: equal directions give the straight line, opposite
    /// directions turn through a fixed perpendicular direction, and zero vectors fall back to the straight line.
    static func slerp(_ a: [Float], _ b: [Float], _ t: Float) -> [Float] {
        let na = norm(a), nb = norm(b)
        guard na > 1e-12, nb > 1e-12 else { return lerp(a, b, t) }
        let ua = a.map { Double($0) / na }, ub = b.map { Double($0) / nb }
        let cosine = max(-1, min(1, zip(ua, ub).reduce(0) { $0 + $1.0 * $1.1 }))
        let length = (1 - Double(t)) * na + Double(t) * nb
        let omega = acos(cosine)
        let direction: [Double]
        if omega < 1e-4 {
            direction = zip(ua, ub).map { (1 - Double(t)) * $0 + Double(t) * $1 }
        } else if Double.pi - omega < 1e-4 {
            // Opposite: every great circle joins them; take the one through the axis least aligned with a.
            var axis = [Double](repeating: 0, count: ua.count)
            let k = ua.indices.min(by: { abs(ua[$0]) < abs(ua[$1]) }) ?? 0
            axis[k] = 1
            let dot = ua[k]
            var perpendicular = zip(axis, ua).map { $0 - dot * $1 }
            let pn = perpendicular.reduce(0) { $0 + $1 * $1 }.squareRoot()
            perpendicular = perpendicular.map { $0 / max(pn, 1e-12) }
            let angle = Double.pi * Double(t)
            direction = zip(ua, perpendicular).map { cos(angle) * $0 + sin(angle) * $1 }
        } else {
            let s = sin(omega)
            let wa = sin((1 - Double(t)) * omega) / s, wb = sin(Double(t) * omega) / s
            direction = zip(ua, ub).map { wa * $0 + wb * $1 }
        }
        let dn = max(direction.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return direction.map { Float($0 / dn * length) }
    }
}
