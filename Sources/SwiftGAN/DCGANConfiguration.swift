import Foundation

/// Everything that defines a DCGAN run: the architecture, the optimizer and the data. Saved inside every
/// checkpoint, so a checkpoint says how to rebuild its model.
public struct DCGANConfiguration: Codable, Equatable {
    /// Output side length in pixels: 32 or 64.
    public var imageSize: Int = 32
    /// 1 (grayscale) or 3 (RGB).
    public var imageChannels: Int = 1
    /// Length of the latent vector z.
    public var latentSize: Int = 100
    /// Channels of the generator's last hidden layer (`ngf`); earlier layers use 2x, 4x, 8x.
    public var generatorWidth: Int = 32
    /// Channels of the discriminator's first layer (`ndf`).
    public var discriminatorWidth: Int = 32
    public var batchSize: Int = 64
    /// Adam's learning rate, for both networks (Radford et al. 2015 use 2e-4).
    public var learningRate: Float = 2e-4
    /// Adam's beta1 (0.5 in the DCGAN paper) and beta2.
    public var beta1: Float = 0.5
    public var beta2: Float = 0.999
    /// Seed for weights, noise and data order.
    public var seed: UInt64 = 1
    /// The dataset the run trains on (a name such as `fashion-mnist`, or a path).
    public var dataset: String = "fashion-mnist"

    public init() {}

    /// Number of stride-2 upsampling layers from 4x4 to the output size.
    public var upsamplingLayers: Int { Int(log2(Double(imageSize))) - 2 }

    /// Why this configuration cannot be built, or nil.
    public var problem: String? {
        if ![32, 64].contains(imageSize) { return "image size must be 32 or 64, got \(imageSize)" }
        if ![1, 3].contains(imageChannels) { return "image channels must be 1 or 3, got \(imageChannels)" }
        if latentSize < 1 { return "latent size must be positive, got \(latentSize)" }
        if generatorWidth < 1 || discriminatorWidth < 1 { return "widths must be positive" }
        if batchSize < 2 { return "batch size must be at least 2 (batch normalization needs two samples), got \(batchSize)" }
        if !(learningRate > 0) || !learningRate.isFinite { return "learning rate must be positive, got \(learningRate)" }
        if !(0..<1).contains(beta1) || !(0..<1).contains(beta2) { return "Adam betas must be in [0, 1)" }
        return nil
    }

    /// Each field as text, by name, for comparisons and reports.
    public var fields: [(name: String, value: String)] {
        [("image-size", "\(imageSize)"), ("channels", "\(imageChannels)"), ("latent-size", "\(latentSize)"),
         ("generator-width", "\(generatorWidth)"), ("discriminator-width", "\(discriminatorWidth)"),
         ("batch-size", "\(batchSize)"), ("learning-rate", "\(learningRate)"), ("beta1", "\(beta1)"),
         ("beta2", "\(beta2)"), ("seed", "\(seed)"), ("data", dataset)]
    }

    /// The fields where `other` differs, as `name: mine -> other` lines.
    public func differences(from other: DCGANConfiguration) -> [String] {
        zip(fields, other.fields).compactMap { a, b in a.value == b.value ? nil : "\(a.name): \(a.value) (checkpoint) vs \(b.value) (requested)" }
    }

    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self), let text = String(data: data, encoding: .utf8) else { return "{}" }
        return text
    }

    public static func fromJSON(_ text: String) throws -> DCGANConfiguration {
        try JSONDecoder().decode(DCGANConfiguration.self, from: Data(text.utf8))
    }
}
