@_exported import SwiftGANTensor

/// A value of a model that training changes (weights, biases) or that the model keeps between calls without
/// training it (batch-norm running statistics: `isTrainable == false`).
///
/// Trainable values are always leaves of the autodiff graph, so gradients can be taken with respect to them.
public final class Parameter {
    /// Whether optimizers update this value.
    public let isTrainable: Bool

    public var value: Tensor {
        didSet {
            precondition(value.shape == oldValue.shape,
                         "Parameter: new value of shape \(value.shape) replaces one of shape \(oldValue.shape)")
            if isTrainable && !value.isTrackingGradient { value = value.requiringGradient() }
        }
    }

    public init(_ value: Tensor, trainable: Bool = true) {
        isTrainable = trainable
        self.value = trainable ? value.requiringGradient() : value.detached
    }
}

/// A part of a model. Its parameters and sub-modules are found by reflection over its stored properties, named by
/// their paths (`blocks.0.conv.weight`). Properties whose names start with `_` are skipped.
public protocol Module: AnyObject {}

/// A module that maps one tensor to another.
public protocol Layer: Module {
    func callAsFunction(_ input: Tensor) -> Tensor
}

/// A problem with a set of named tensors given to a module (a checkpoint that does not fit the model).
public enum ModuleError: Error, CustomStringConvertible, Equatable {
    /// The tensors and the model disagree; each line names one difference.
    case mismatch([String])

    public var description: String {
        switch self {
        case .mismatch(let lines): return "the weights do not fit the model: " + lines.joined(separator: "; ")
        }
    }
}

extension Module {
    /// Every parameter (trainable or not) with its dotted path, in declaration order.
    public func namedParameters() -> [(name: String, parameter: Parameter)] {
        var result: [(String, Parameter)] = []
        var modules: [Module] = []
        ModuleWalker.visit(self, path: "", parameters: &result, modules: &modules)
        return result.map { (name: $0.0, parameter: $0.1) }
    }

    /// The parameters that optimizers update, with their paths.
    public func namedTrainableParameters() -> [(name: String, parameter: Parameter)] {
        namedParameters().filter { $0.parameter.isTrainable }
    }

    /// The trainable parameters.
    public var trainableParameters: [Parameter] { namedTrainableParameters().map { $0.parameter } }

    /// This module and every module inside it.
    public func allModules() -> [Module] {
        var result: [(String, Parameter)] = []
        var modules: [Module] = []
        ModuleWalker.visit(self, path: "", parameters: &result, modules: &modules)
        return modules
    }

    /// The total number of trainable values.
    public var trainableScalarCount: Int { trainableParameters.map { $0.value.scalarCount }.reduce(0, +) }

    /// Every parameter's value by path (a "state dictionary").
    public func stateDictionary() -> [String: Tensor] {
        Dictionary(namedParameters().map { ($0.name, $0.parameter.value.detached) }, uniquingKeysWith: { a, _ in a })
    }

    /// Replaces every parameter's value from `state`.
    /// - Throws: `ModuleError.mismatch` listing every missing name, unexpected name and shape difference;
    ///   nothing is changed in that case.
    public func load(stateDictionary state: [String: Tensor]) throws {
        let named = namedParameters()
        var problems: [String] = []
        for (name, p) in named {
            guard let t = state[name] else { problems.append("missing \(name)"); continue }
            if t.shape != p.value.shape { problems.append("\(name) has shape \(t.shape), the model needs \(p.value.shape)") }
        }
        let known = Set(named.map { $0.name })
        for name in state.keys.sorted() where !known.contains(name) { problems.append("unexpected \(name)") }
        if !problems.isEmpty { throw ModuleError.mismatch(problems) }
        for (name, p) in named { if let t = state[name] { p.value = t } }
    }

    /// Switches every layer inside between training and evaluation: batch normalization (batch statistics or running
    /// averages) and spectral normalization (power iteration on or off).
    public func setTraining(_ training: Bool) {
        for case let layer as TrainingModeSwitchable in allModules() { layer.isTraining = training }
    }
}

enum ModuleWalker {
    static func visit(_ value: Any, path: String, parameters: inout [(String, Parameter)], modules: inout [Module]) {
        if let p = value as? Parameter {
            parameters.append((path, p))
            return
        }
        if let m = value as? Module {
            if modules.contains(where: { $0 === m }) { return }
            modules.append(m)
            var mirror: Mirror? = Mirror(reflecting: m)
            var children: [(String, Any)] = []
            // Superclass properties first, so names follow declaration order from the base up.
            var chain: [Mirror] = []
            while let current = mirror { chain.insert(current, at: 0); mirror = current.superclassMirror }
            for level in chain {
                for child in level.children {
                    guard let label = child.label, !label.hasPrefix("_"), !label.hasPrefix("$") else { continue }
                    children.append((label, child.value))
                }
            }
            for (label, child) in children {
                visit(child, path: path.isEmpty ? label : "\(path).\(label)", parameters: &parameters, modules: &modules)
            }
            return
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .collection?:
            for (index, child) in mirror.children.enumerated() {
                visit(child.value, path: path.isEmpty ? "\(index)" : "\(path).\(index)", parameters: &parameters, modules: &modules)
            }
        case .optional?:
            if let wrapped = mirror.children.first { visit(wrapped.value, path: path, parameters: &parameters, modules: &modules) }
        default:
            return
        }
    }
}
