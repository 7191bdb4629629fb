/// Reverse-mode automatic differentiation.
///
/// Every operation on tensors that track gradients appends a `GradientNode` holding its backward rule. A backward
/// rule is written with the same tensor operations as the forward pass, so when the backward pass is itself
/// recorded (`createGraph: true`), the gradients are ordinary tracked tensors and can be differentiated again
/// (gradient penalties, R1).
final class GradientNode {
    /// Creation order: a node is always created after its inputs, so decreasing order is a topological order.
    let order: Int
    /// The graph nodes of the operation's inputs (nil where an input was a constant).
    let inputs: [GradientNode?]
    /// Maps the gradient of the output to the gradients of the inputs (nil for an input that needs none).
    let backward: ((Tensor) -> [Tensor?])?
    /// The output's shape, so a missing gradient can be treated as zero.
    let shape: [Int]

    nonisolated(unsafe) static var counter = 0
    /// While a backward rule runs: which of its inputs lead to a requested gradient (see `Tensor.needsGradient`).
    nonisolated(unsafe) static var inputsNeeded: [Bool] = []

    init(inputs: [GradientNode?], shape: [Int], backward: ((Tensor) -> [Tensor?])?) {
        GradientNode.counter += 1
        order = GradientNode.counter
        self.inputs = inputs
        self.shape = shape
        self.backward = backward
    }
}

/// Whether operations are being recorded for differentiation.
public enum GradientRecording {
    nonisolated(unsafe) static var isEnabled = true

    /// True unless inside `withoutRecording`: results computed now may be differentiated.
    public static var isRecording: Bool { isEnabled }

    /// Runs `body` without recording operations: nothing inside can be differentiated, and it is faster and uses
    /// less memory (sampling, evaluation, optimizer updates).
    public static func withoutRecording<R>(_ body: () throws -> R) rethrows -> R {
        let saved = isEnabled
        isEnabled = false
        defer { isEnabled = saved }
        return try body()
    }

    static func with<R>(_ enabled: Bool, _ body: () throws -> R) rethrows -> R {
        let saved = isEnabled
        isEnabled = enabled
        defer { isEnabled = saved }
        return try body()
    }
}

extension Tensor {
    /// A copy of this tensor that is a leaf of the autodiff graph: gradients can be taken with respect to it.
    public func requiringGradient() -> Tensor {
        Tensor(shape: shape, storage: storage, node: GradientNode(inputs: [], shape: shape, backward: nil))
    }

    /// Inside a backward rule: whether input number `index` (this tensor) needs its gradient computed.
    func needsGradient(asInput index: Int) -> Bool {
        guard node != nil else { return false }
        let needed = GradientNode.inputsNeeded
        return index < needed.count ? needed[index] : true
    }

    /// Builds the result of an operation, recording `backward` when any input tracks gradients.
    ///
    /// `backward` receives the gradient of the result and returns one gradient per input, in order
    /// (nil for inputs that need none).
    static func recording(_ result: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradientRecording.isEnabled, inputs.contains(where: { $0.node != nil }) else { return result }
        var tracked = result
        tracked.node = GradientNode(inputs: inputs.map { $0.node }, shape: result.shape, backward: backward)
        return tracked
    }
}

/// The gradients of `output` with respect to each tensor of `inputs`.
///
/// - Parameters:
///   - output: the value to differentiate; a scalar, or any tensor when `seed` is given.
///   - inputs: tensors from `requiringGradient()` (or results computed from them).
///   - seed: the gradient of some outer value with respect to `output`; ones when omitted.
///   - createGraph: record the backward pass, so that the returned gradients can themselves be differentiated.
/// - Returns: one gradient per input, with the input's shape; zeros for an input that `output` does not depend on.
public func gradient(of output: Tensor, wrt inputs: [Tensor], seed: Tensor? = nil, createGraph: Bool = false) -> [Tensor] {
    precondition(seed != nil || output.scalarCount == 1,
                 "gradient(of:wrt:): output of shape \(output.shape) is not a scalar; pass a seed of the same shape")
    if let seed = seed {
        precondition(seed.shape == output.shape, "gradient(of:wrt:): seed shape \(seed.shape) differs from output shape \(output.shape)")
    }
    guard let root = output.node else { return inputs.map { Tensor.zeros($0.shape) } }

    // Collect the nodes that the output depends on.
    var nodes: [ObjectIdentifier: GradientNode] = [:]
    var stack = [root]
    while let node = stack.popLast() {
        if nodes[ObjectIdentifier(node)] != nil { continue }
        nodes[ObjectIdentifier(node)] = node
        for case let input? in node.inputs where nodes[ObjectIdentifier(input)] == nil { stack.append(input) }
    }
    // A node needs a gradient only if some requested input can be reached from it; rules skip the rest
    // (the discriminator's weight gradients while training the generator, for instance).
    let ascending = nodes.values.sorted(by: { $0.order < $1.order })
    let requestedIDs = Set(inputs.compactMap { $0.node.map(ObjectIdentifier.init) })
    var needed = Set<ObjectIdentifier>()
    for node in ascending {
        let id = ObjectIdentifier(node)
        if requestedIDs.contains(id) || node.inputs.contains(where: { $0.map { needed.contains(ObjectIdentifier($0)) } ?? false }) {
            needed.insert(id)
        }
    }
    var gradients: [ObjectIdentifier: Tensor] = [:]
    gradients[ObjectIdentifier(root)] = seed ?? Tensor.ones(output.shape)
    // Gradients of requested inputs are kept; those of intermediate nodes are dropped once propagated.
    let requested = requestedIDs

    GradientRecording.with(createGraph) {
        for node in ascending.reversed() {
            let id = ObjectIdentifier(node)
            guard needed.contains(id), let backward = node.backward, let upstream = gradients[id] else { continue }
            if !requested.contains(id) { gradients[id] = nil }
            let saved = GradientNode.inputsNeeded
            GradientNode.inputsNeeded = node.inputs.map { $0.map { needed.contains(ObjectIdentifier($0)) } ?? false }
            let inputGradients = backward(upstream)
            GradientNode.inputsNeeded = saved
            for (input, grad) in zip(node.inputs, inputGradients) {
                guard let input = input, let grad = grad, needed.contains(ObjectIdentifier(input)) else { continue }
                let key = ObjectIdentifier(input)
                if let existing = gradients[key] { gradients[key] = existing + grad } else { gradients[key] = grad }
            }
        }
    }
    return inputs.map { input in
        guard let node = input.node, let g = gradients[ObjectIdentifier(node)] else { return Tensor.zeros(input.shape) }
        return createGraph ? g : g.detached
    }
}

/// The value of `body(x)` and its gradient at `x`; `body` must return a scalar.
public func valueWithGradient(at x: Tensor, createGraph: Bool = false, of body: (Tensor) -> Tensor) -> (value: Tensor, gradient: Tensor) {
    let tracked = x.node == nil ? x.requiringGradient() : x
    let y = body(tracked)
    return (y, gradient(of: y, wrt: [tracked], createGraph: createGraph)[0])
}
