import Foundation
import SwiftGANData
import SwiftGANNN

/// A saved training state in the safetensors format: the weights of both networks, the optimizers' moments, and in
/// the metadata the configuration and the step. Other tools (Python's `safetensors`, PyTorch) open it as an ordinary
/// safetensors file; tensor names are the modules' dotted paths (`generator.blocks.0.conv.weight`).
public struct Checkpoint {
    /// The value of the `format` metadata entry.
    public static let format = "swiftgan-dcgan"
    public static let formatVersion = "1"

    public var configuration: DCGANConfiguration
    /// The number of training steps completed.
    public var step: Int
    /// Every tensor by name.
    public var tensors: [String: Tensor]

    /// Captures the state of `gan` and, when given, its optimizers.
    public init(gan: DCGAN, generatorOptimizer: Adam? = nil, discriminatorOptimizer: Adam? = nil, step: Int) {
        configuration = gan.configuration
        self.step = step
        var tensors = gan.stateDictionary()
        for (prefix, optimizer) in [("optimizer.generator.", generatorOptimizer), ("optimizer.discriminator.", discriminatorOptimizer)] {
            guard let optimizer = optimizer else { continue }
            for (name, t) in optimizer.stateDictionary() { tensors[prefix + name] = t }
        }
        self.tensors = tensors
    }

    /// Writes the checkpoint atomically (a temporary file renamed over `path`), so an interrupted save never leaves a
    /// damaged file behind.
    /// - Parameter extraMetadata: further metadata entries (they cannot replace the standard ones).
    public func write(to path: String, extraMetadata: [String: String] = [:]) throws {
        var file = SafeTensorsFile()
        for (name, t) in tensors { file.tensors[name] = NamedArray(shape: t.shape, values: t.scalars) }
        file.metadata = extraMetadata.merging(["format": Checkpoint.format, "format_version": Checkpoint.formatVersion,
                                               "configuration": configuration.jsonString(), "step": "\(step)"]) { _, standard in standard }
        try file.write(to: path)
    }

    /// Reads a checkpoint written by `write(to:)`.
    /// - Throws: `DataError` naming the file when it is missing, damaged, or not a SwiftGAN DCGAN checkpoint.
    public static func read(_ path: String) throws -> Checkpoint {
        let file = try SafeTensorsFile.read(path)
        guard file.metadata["format"] == format else {
            throw DataError.unsupported(path: path, reason: "not a SwiftGAN DCGAN checkpoint (metadata format is \(file.metadata["format"].map { "'\($0)'" } ?? "missing"))")
        }
        if let version = file.metadata["format_version"], version != formatVersion {
            throw DataError.unsupported(path: path, reason: "checkpoint format version \(version); this swiftgan reads version \(formatVersion)")
        }
        guard let json = file.metadata["configuration"], let configuration = try? DCGANConfiguration.fromJSON(json) else {
            throw DataError.malformed(path: path, reason: "the configuration in the metadata is missing or unreadable")
        }
        if let problem = configuration.problem { throw DataError.malformed(path: path, reason: "configuration: \(problem)") }
        guard let stepText = file.metadata["step"], let step = Int(stepText), step >= 0 else {
            throw DataError.malformed(path: path, reason: "the step in the metadata is missing or not a number")
        }
        var tensors: [String: Tensor] = [:]
        for (name, array) in file.tensors { tensors[name] = Tensor(shape: array.shape, scalars: array.values) }
        return Checkpoint(configuration: configuration, step: step, tensors: tensors)
    }

    init(configuration: DCGANConfiguration, step: Int, tensors: [String: Tensor]) {
        self.configuration = configuration
        self.step = step
        self.tensors = tensors
    }

    /// The tensors whose names start with `prefix`, with the prefix removed.
    func tensors(withPrefix prefix: String) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (name, t) in tensors where name.hasPrefix(prefix) { result[String(name.dropFirst(prefix.count))] = t }
        return result
    }

    /// A model with this checkpoint's configuration and weights.
    /// - Parameter path: the file name, for error messages.
    public func makeGAN(path: String) throws -> DCGAN {
        // Weights that are not finite numbers would draw black or garbage images without any sign of the cause.
        for name in tensors.keys.sorted() where !name.hasPrefix("optimizer.") {
            if let bad = tensors[name]?.scalars.first(where: { !$0.isFinite }) {
                throw DataError.malformed(path: path, reason: "the weight \(name) contains \(bad.isNaN ? "NaN" : "infinite") values; "
                                          + "the model diverged before this was saved, so use an earlier checkpoint")
            }
        }
        let gan = DCGAN(configuration: configuration)
        do {
            try gan.generator.load(stateDictionary: tensors(withPrefix: "generator."))
            try gan.discriminator.load(stateDictionary: tensors(withPrefix: "discriminator."))
            if let average = gan.averagedGenerator {
                let saved = tensors(withPrefix: "averagedGenerator.")
                // A run that starts averaging on resume has no average yet: it starts from the trained weights.
                if saved.isEmpty { gan.resetGeneratorAverage() } else { try average.load(stateDictionary: saved) }
            }
        } catch let error as ModuleError {
            throw DataError.malformed(path: path, reason: error.description)
        }
        return gan
    }

    /// Restores optimizer moments saved with the checkpoint.
    public func restore(generatorOptimizer: Adam, discriminatorOptimizer: Adam, path: String) throws {
        do {
            try generatorOptimizer.load(stateDictionary: tensors(withPrefix: "optimizer.generator."))
            try discriminatorOptimizer.load(stateDictionary: tensors(withPrefix: "optimizer.discriminator."))
        } catch let error as ModuleError {
            throw DataError.malformed(path: path, reason: "optimizer state: \(error.description)")
        }
    }
}
