/// Binary cross-entropy between `sigmoid(logits)` and `targets` (0 or 1, or in between), averaged over all elements.
///
/// Computed as `softplus(x) - x * y`, which stays finite and accurate for logits of any size (a logit of 1000 or
/// -1000 gives the exact loss, where `log(sigmoid(x))` would give infinity).
public func binaryCrossEntropy(logits: Tensor, targets: Tensor) -> Tensor {
    precondition(BroadcastCheck.compatible(logits.shape, targets.shape),
                 "binaryCrossEntropy: logits shape \(logits.shape) and targets shape \(targets.shape) do not broadcast")
    return (logits.softplus() - logits * targets).mean()
}

/// Binary cross-entropy against a constant label (1 for "real", 0 for "fake").
public func binaryCrossEntropy(logits: Tensor, label: Float) -> Tensor {
    if label == 1 { return (-logits).softplus().mean() }
    if label == 0 { return logits.softplus().mean() }
    return (logits.softplus() - logits * label).mean()
}

enum BroadcastCheck {
    static func compatible(_ a: [Int], _ b: [Int]) -> Bool {
        for (x, y) in zip(a.reversed(), b.reversed()) where x != y && x != 1 && y != 1 { return false }
        return true
    }
}
