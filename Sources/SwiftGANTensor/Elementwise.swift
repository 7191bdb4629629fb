import Foundation
import SwiftGANKernels

// MARK: - Kernels (no autodiff)

extension Tensor {
    /// Applies `f` to every element; the result is a constant (not differentiated).
    @inline(__always)
    public func map(_ f: (Float) -> Float) -> Tensor {
        Tensor(shape: shape, initializingWith: { out, n in
            let src = storage.pointer
            for i in 0..<n { out[i] = f(src[i]) }
        })
    }

    /// `map` split over the cores. `f` is a type, not a closure, so that the loop is specialized for it and the
    /// function inlined (a closure would be called once per element from the worker threads).
    func mapInParallel<F: UnaryElementwise>(_ f: F) -> Tensor {
        Tensor(shape: shape, initializingWith: { out, n in Tensor.apply(f, storage.pointer, to: out, count: n) })
    }

    /// `out[i] = f(x[i])` for `i` in `0..<count`, split over the cores.
    static func apply<F: UnaryElementwise>(_ f: F, _ x: UnsafePointer<Float>, to out: UnsafeMutablePointer<Float>, count: Int) {
        ParallelRows.forEachChunk(count, total: count) { range in
            for i in range { out[i] = f(x[i]) }
        }
    }

    /// `out[i] = f(a[i], b[i])` for `i` in `0..<count`, split over the cores.
    static func apply<F: BinaryElementwise>(_ f: F, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                                            to out: UnsafeMutablePointer<Float>, count: Int) {
        ParallelRows.forEachChunk(count, total: 2 * count) { range in
            for i in range { out[i] = f(a[i], b[i]) }
        }
    }

    /// Combines two tensors element by element with broadcasting; split over the cores when the shapes are equal.
    static func zip<F: BinaryElementwise>(_ a: Tensor, _ b: Tensor, _ name: String, _ f: F) -> Tensor {
        if a.shape == b.shape {
            return Tensor(shape: a.shape, initializingWith: { out, n in apply(f, a.storage.pointer, b.storage.pointer, to: out, count: n) })
        }
        guard let shape = BroadcastLoop.broadcastShape(a.shape, b.shape) else {
            preconditionFailure("\(name): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let loop = BroadcastLoop(output: shape, operands: [a.shape, b.shape])
        return Tensor(shape: shape, initializingWith: { out, _ in
            let pa = a.storage.pointer, pb = b.storage.pointer
            loop.forEachRow { o, offsets, count, steps in
                let sa = steps[0], sb = steps[1]
                var ia = offsets[0], ib = offsets[1]
                if sa == 1 && sb == 1 {
                    for i in 0..<count { out[o + i] = f(pa[ia + i], pb[ib + i]) }
                } else if sa == 1 && sb == 0 {
                    let v = pb[ib]
                    for i in 0..<count { out[o + i] = f(pa[ia + i], v) }
                } else if sa == 0 && sb == 1 {
                    let v = pa[ia]
                    for i in 0..<count { out[o + i] = f(v, pb[ib + i]) }
                } else {
                    for i in 0..<count { out[o + i] = f(pa[ia], pb[ib]); ia += sa; ib += sb }
                }
            }
        })
    }
}

// MARK: - Differentiable arithmetic with broadcasting

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        let y = zip(a, b, "+", Addition())
        let (sa, sb) = (a.shape, b.shape)
        return recording(y, inputs: [a, b]) { g in [g.sum(toShape: sa), g.sum(toShape: sb)] }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        let y = zip(a, b, "-", Subtraction())
        let (sa, sb) = (a.shape, b.shape)
        return recording(y, inputs: [a, b]) { g in [g.sum(toShape: sa), (-g).sum(toShape: sb)] }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let y = zip(a, b, "*", Multiplication())
        return recording(y, inputs: [a, b]) { g in
            [!a.needsGradient(asInput: 0) ? nil : (g * b).sum(toShape: a.shape), !b.needsGradient(asInput: 1) ? nil : (g * a).sum(toShape: b.shape)]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        let y = zip(a, b, "/", Division())
        return recording(y, inputs: [a, b]) { g in
            [!a.needsGradient(asInput: 0) ? nil : (g / b).sum(toShape: a.shape),
             !b.needsGradient(asInput: 1) ? nil : (-(g * a) / (b * b)).sum(toShape: b.shape)]
        }
    }

    public static prefix func - (a: Tensor) -> Tensor {
        recording(a.map { -$0 }, inputs: [a]) { g in [-g] }
    }

    /// `a * scale + shift` for scalars, one pass.
    public func affine(scale: Float, shift: Float) -> Tensor {
        let y = map { $0 * scale + shift }
        return Tensor.recording(y, inputs: [self]) { g in [g * scale] }
    }

    public static func * (a: Tensor, s: Float) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func * (s: Float, a: Tensor) -> Tensor { a.affine(scale: s, shift: 0) }
    public static func / (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1 / s, shift: 0) }
    /// `s / a`, element by element.
    public static func / (s: Float, a: Tensor) -> Tensor {
        let y = a.map { s / $0 }
        return recording(y, inputs: [a]) { g in [-(g * s) / a.squared()] }
    }

    public static func + (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func + (s: Float, a: Tensor) -> Tensor { a.affine(scale: 1, shift: s) }
    public static func - (a: Tensor, s: Float) -> Tensor { a.affine(scale: 1, shift: -s) }
    public static func - (s: Float, a: Tensor) -> Tensor { a.affine(scale: -1, shift: s) }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
}

// MARK: - Differentiable elementwise functions

extension Tensor {
    /// `e^x`.
    public func exp() -> Tensor {
        let y = map { Foundation.exp($0) }
        return Tensor.recording(y, inputs: [self]) { g in [g * Tensor.reuse(y, orRecompute: self.exp())] }
    }

    /// Natural logarithm.
    public func log() -> Tensor {
        let y = map { Foundation.log($0) }
        return Tensor.recording(y, inputs: [self]) { g in [g / self] }
    }

    /// Square root.
    public func squareRoot() -> Tensor {
        let y = map { $0.squareRoot() }
        return Tensor.recording(y, inputs: [self]) { g in [g * 0.5 / Tensor.reuse(y, orRecompute: self.squareRoot())] }
    }

    /// `x * x`.
    public func squared() -> Tensor {
        let y = map { $0 * $0 }
        return Tensor.recording(y, inputs: [self]) { g in [g * self * 2] }
    }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        let y = map { Foundation.tanh($0) }
        return Tensor.recording(y, inputs: [self]) { g in
            let t = Tensor.reuse(y, orRecompute: self.tanh())
            return [g * (1 - t * t)]
        }
    }

    /// Logistic sigmoid `1 / (1 + e^-x)`.
    public func sigmoid() -> Tensor {
        let y = map { Tensor.sigmoid($0) }
        return Tensor.recording(y, inputs: [self]) { g in
            let s = Tensor.reuse(y, orRecompute: self.sigmoid())
            return [g * s * (1 - s)]
        }
    }

    /// `log(1 + e^x)`, computed without overflow for large `|x|`.
    public func softplus() -> Tensor {
        let y = map { Tensor.softplus($0) }
        return Tensor.recording(y, inputs: [self]) { g in [g * self.sigmoid()] }
    }

    /// `max(x, 0)`.
    public func relu() -> Tensor { leakyRelu(slope: 0) }

    /// `x` where positive, `slope * x` elsewhere.
    public func leakyRelu(slope: Float = 0.2) -> Tensor {
        let y = blockedActivation.map { Tensor(shape: shape, storage: TensorStorage(blocked: BlockedOps.leakyRelu($0, slope: slope))) }
            ?? mapInParallel(LeakyRelu(slope: slope))
        return Tensor.recording(y, inputs: [self]) { g in [Tensor.leakyReluGradient(g, at: self.detached, slope: slope)] }
    }

    /// `g` where `x > 0`, `slope * g` elsewhere: the gradient of `leakyRelu` in one pass. Linear in `g`, so its own
    /// gradient is the same function of the upstream gradient; `x` only selects (its derivative is zero almost
    /// everywhere).
    static func leakyReluGradient(_ g: Tensor, at x: Tensor, slope: Float) -> Tensor {
        let y: Tensor
        if g.shape == x.shape, let layout = x.blockedActivation ?? g.blockedActivation {
            let blocked = BlockedOps.leakyReluGradient(g.blocked(like: layout), at: x.blocked(like: layout), slope: slope)
            y = Tensor(shape: g.shape, storage: TensorStorage(blocked: blocked))
        } else {
            y = zip(g, x, "leakyReluGradient", LeakyReluGradient(slope: slope))
        }
        return recording(y, inputs: [g]) { upstream in [leakyReluGradient(upstream, at: x, slope: slope)] }
    }

    /// Elements clamped to `[lower, upper]` (the gradient is zero where clamped).
    public func clamped(to range: ClosedRange<Float>) -> Tensor {
        let (lo, hi) = (range.lowerBound, range.upperBound)
        let y = map { Swift.min(Swift.max($0, lo), hi) }
        return Tensor.recording(y, inputs: [self]) { g in [g * self.detached.map { $0 >= lo && $0 <= hi ? 1 : 0 }] }
    }

    /// In a backward rule: the forward result `y` when the backward pass is not recorded, otherwise the result
    /// computed again from tracked inputs so that the gradient can be differentiated once more.
    @inline(__always) static func reuse(_ y: Tensor, orRecompute recompute: @autoclosure () -> Tensor) -> Tensor {
        GradientRecording.isEnabled ? recompute() : y
    }

    @inline(__always) static func sigmoid(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
    }

    @inline(__always) static func softplus(_ x: Float) -> Float {
        Swift.max(x, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(x)))
    }
}

/// An elementwise function of one value, as a type: generic loops are specialized for it and inline it.
protocol UnaryElementwise {
    func callAsFunction(_ x: Float) -> Float
}

/// An elementwise function of two values, as a type: generic loops are specialized for it and inline it.
protocol BinaryElementwise {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

struct Addition: BinaryElementwise {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b }
}

struct Subtraction: BinaryElementwise {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b }
}

struct Multiplication: BinaryElementwise {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b }
}

struct Division: BinaryElementwise {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
}

/// `x` where positive, `slope * x` elsewhere.
struct LeakyRelu: UnaryElementwise {
    var slope: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? x : x * slope }
}

/// The gradient `g` passed where `x > 0`, `slope * g` elsewhere.
struct LeakyReluGradient: BinaryElementwise {
    var slope: Float
    @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { x > 0 ? g : g * slope }
}
