/// Finite-difference checks of gradients, to first and second order, along random directions
/// (as JAX's `check_grads` does).
///
/// The function's output is reduced to a scalar `L = sum(f(x) * r)` with fixed random weights `r`. At first order,
/// the directional derivative of `L` along a random direction `v` from central differences must match
/// `sum_i <dL/dx_i, v_i>` from autodiff. At second order the same check is applied to the scalar
/// `sum_i <dL/dx_i, u_i>` computed with a recorded backward pass, which tests the gradients of the backward rules.
public struct GradientCheck {
    /// The step of the central differences.
    public var step: Float = 1e-2
    /// Allowed difference, relative to the larger of the two values (and at least 1).
    public var tolerance: Float = 2e-2
    public var seed: UInt64 = 42

    public init(step: Float = 1e-2, tolerance: Float = 2e-2, seed: UInt64 = 42) {
        self.step = step
        self.tolerance = tolerance
        self.seed = seed
    }

    /// A failed comparison: what autodiff said and what finite differences said.
    public struct Mismatch: Error, CustomStringConvertible {
        public let order: Int
        public let analytic: Double
        public let numeric: Double
        public var description: String { "order \(order): autodiff gives \(analytic), finite differences \(numeric)" }
    }

    /// Checks `f` at `inputs` to first order and, when `order` is 2, to second order.
    /// - Returns: the largest relative error seen.
    /// - Throws: `Mismatch` when autodiff and finite differences disagree beyond `tolerance`.
    @discardableResult
    public func check(order: Int = 2, at inputs: [Tensor], _ f: @escaping ([Tensor]) -> Tensor) throws -> Float {
        var rng = SplitMix64(seed: seed)
        let probe = GradientRecording.withoutRecording { f(inputs) }
        let weights = Tensor.randomNormal(shape: probe.shape, using: &rng)
        let scalar: ([Tensor]) -> Tensor = { xs in (f(xs) * weights).sum() }
        var worst = try compare(order: 1, at: inputs, scalar, rng: &rng)
        if order >= 2 {
            let directions = inputs.map { Tensor.randomNormal(shape: $0.shape, using: &rng) }
            let gradientDotU: ([Tensor]) -> Tensor = { xs in
                let tracked = xs.map { $0.isTrackingGradient ? $0 : $0.requiringGradient() }
                let grads = gradient(of: scalar(tracked), wrt: tracked, createGraph: true)
                return zip(grads, directions).map { ($0 * $1).sum() }.reduce(Tensor(0), +)
            }
            worst = max(worst, try compare(order: 2, at: inputs, gradientDotU, rng: &rng))
        }
        return worst
    }

    func compare(order: Int, at inputs: [Tensor], _ scalar: ([Tensor]) -> Tensor, rng: inout SplitMix64) throws -> Float {
        let tracked = inputs.map { $0.requiringGradient() }
        let grads = gradient(of: scalar(tracked), wrt: tracked)
        let v = inputs.map { Tensor.randomNormal(shape: $0.shape, using: &rng) }
        var analytic = 0.0
        for (g, d) in zip(grads, v) {
            for (a, b) in zip(g.scalars, d.scalars) { analytic += Double(a) * Double(b) }
        }
        let plus = zip(inputs, v).map { $0.detached + $1 * step }
        let minus = zip(inputs, v).map { $0.detached - $1 * step }
        let fPlus = Double(scalar(plus).scalar), fMinus = Double(scalar(minus).scalar)
        let numeric = (fPlus - fMinus) / (2 * Double(step))
        let error = Float(abs(analytic - numeric) / max(1, abs(analytic), abs(numeric)))
        if !(error <= tolerance) { throw Mismatch(order: order, analytic: analytic, numeric: numeric) }
        return error
    }
}
