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
    /// Number of classes for a class-conditional GAN (conditional batch normalization in the generator, a projection
    /// discriminator), or nil for an unconditional one.
    public var classCount: Int? = nil
    /// The adversarial loss.
    public var loss: GANLoss = .nonSaturating
    /// Spectral normalization of the discriminator's weights (its batch normalization is then left out, as in
    /// Miyato et al. 2018).
    public var spectralNormalization: Bool = false
    /// 2 for images, 3 for voxel grids (the volumetric GAN of Wu et al. 2016: the same architecture with 3D
    /// convolutions).
    public var spatialRank: Int = 2
    /// The discriminator's learning rate when it differs from the generator's (3D-GAN uses 1e-5 against 2.5e-3).
    public var discriminatorLearningRate: Float? = nil
    /// Skip the discriminator's update on steps where it already classifies more than this fraction of the batch
    /// correctly (3D-GAN uses 0.8), so it does not overpower the generator; nil updates it every step.
    public var discriminatorAccuracyLimit: Float? = nil
    /// For voxel grids: which axis (0 x, 1 y, 2 z) points up in renders. ModelNet's IDX grids stand on z,
    /// ShapeNet's `.binvox` files on y.
    public var upAxis: Int = 2
    /// Keep an exponential moving average of the generator's weights with this decay (for example 0.999) and sample
    /// from the average instead of the live generator (as in Karras et al. 2018 and Brock et al. 2019: the average
    /// is smoother and steadier than the weights of any one step); nil samples from the live generator.
    public var generatorAverageDecay: Float? = nil
    /// How images of another shape in a folder were fitted to the square (`center`, `pad` or `stretch`; see
    /// `CropPolicy`), kept so a resumed run reads its folder the same way.
    public var crop: String = "center"
    /// The names of a conditional GAN's classes, by label (the class subfolders of an image folder), or nil.
    public var classNames: [String]? = nil

    public init() {}

    enum CodingKeys: String, CodingKey {
        case imageSize, imageChannels, latentSize, generatorWidth, discriminatorWidth, batchSize, learningRate, beta1, beta2
        case seed, dataset, classCount, loss, spectralNormalization, spatialRank, discriminatorLearningRate
        case discriminatorAccuracyLimit, upAxis, generatorAverageDecay, crop, classNames
    }

    /// Reads a configuration; fields missing from older files keep their defaults.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = DCGANConfiguration.defaults
        imageSize = try c.decodeIfPresent(Int.self, forKey: .imageSize) ?? d.imageSize
        imageChannels = try c.decodeIfPresent(Int.self, forKey: .imageChannels) ?? d.imageChannels
        latentSize = try c.decodeIfPresent(Int.self, forKey: .latentSize) ?? d.latentSize
        generatorWidth = try c.decodeIfPresent(Int.self, forKey: .generatorWidth) ?? d.generatorWidth
        discriminatorWidth = try c.decodeIfPresent(Int.self, forKey: .discriminatorWidth) ?? d.discriminatorWidth
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? d.batchSize
        learningRate = try c.decodeIfPresent(Float.self, forKey: .learningRate) ?? d.learningRate
        beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? d.beta1
        beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? d.beta2
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? d.seed
        dataset = try c.decodeIfPresent(String.self, forKey: .dataset) ?? d.dataset
        classCount = try c.decodeIfPresent(Int.self, forKey: .classCount)
        loss = try c.decodeIfPresent(GANLoss.self, forKey: .loss) ?? d.loss
        spectralNormalization = try c.decodeIfPresent(Bool.self, forKey: .spectralNormalization) ?? d.spectralNormalization
        spatialRank = try c.decodeIfPresent(Int.self, forKey: .spatialRank) ?? d.spatialRank
        discriminatorLearningRate = try c.decodeIfPresent(Float.self, forKey: .discriminatorLearningRate)
        discriminatorAccuracyLimit = try c.decodeIfPresent(Float.self, forKey: .discriminatorAccuracyLimit)
        upAxis = try c.decodeIfPresent(Int.self, forKey: .upAxis) ?? d.upAxis
        generatorAverageDecay = try c.decodeIfPresent(Float.self, forKey: .generatorAverageDecay)
        crop = try c.decodeIfPresent(String.self, forKey: .crop) ?? d.crop
        classNames = try c.decodeIfPresent([String].self, forKey: .classNames)
    }

    /// The shape of one generated sample: `[channels, size, size]` or `[channels, size, size, size]`.
    public var sampleShape: [Int] { [imageChannels] + [Int](repeating: imageSize, count: spatialRank) }

    static let defaults = DCGANConfiguration()

    /// Number of stride-2 upsampling layers from 4x4 to the output size.
    public var upsamplingLayers: Int { Int(log2(Double(imageSize))) - 2 }

    /// Why this configuration cannot be built, or nil.
    public var problem: String? {
        if ![32, 64].contains(imageSize) { return "image size (--image-size) must be 32 or 64, got \(imageSize)" }
        if ![1, 3].contains(imageChannels) { return "image channels (--channels) must be 1 or 3, got \(imageChannels)" }
        if latentSize < 1 { return "latent size (--latent-size) must be positive, got \(latentSize)" }
        if generatorWidth < 1 || discriminatorWidth < 1 { return "widths must be positive" }
        if batchSize < 2 { return "batch size (--batch-size) must be at least 2 (batch normalization needs two samples), got \(batchSize)" }
        if !(learningRate > 0) || !learningRate.isFinite { return "learning rate (--learning-rate) must be positive, got \(learningRate)" }
        if !(0..<1).contains(beta1) || !(0..<1).contains(beta2) { return "Adam betas (--beta1, beta2) must be in [0, 1), got \(beta1) and \(beta2)" }
        if let k = classCount, k < 2 { return "a conditional GAN needs at least 2 classes, got \(k)" }
        if ![2, 3].contains(spatialRank) { return "spatial rank must be 2 (images) or 3 (voxel grids), got \(spatialRank)" }
        if let rate = discriminatorLearningRate, !(rate > 0) || !rate.isFinite { return "the discriminator learning rate must be positive" }
        if let limit = discriminatorAccuracyLimit, !(limit > 0 && limit <= 1) { return "the discriminator accuracy limit must be in (0, 1]" }
        if !(0...2).contains(upAxis) { return "the up axis must be 0 (x), 1 (y) or 2 (z), got \(upAxis)" }
        if !["center", "pad", "stretch"].contains(crop) { return "crop (--crop) must be center, pad or stretch, got '\(crop)'" }
        if let names = classNames, names.count != classCount { return "\(names.count) class names for \(classCount ?? 0) classes" }
        if let decay = generatorAverageDecay, !(decay > 0 && decay < 1) {
            return "the generator average's decay (--generator-average) must be in (0, 1), got \(decay)"
        }
        return nil
    }

    /// Each field as text, by name, for comparisons and reports.
    public var fields: [(name: String, value: String)] {
        [("image-size", "\(imageSize)"), ("channels", "\(imageChannels)"), ("latent-size", "\(latentSize)"),
         ("generator-width", "\(generatorWidth)"), ("discriminator-width", "\(discriminatorWidth)"),
         ("batch-size", "\(batchSize)"), ("learning-rate", "\(learningRate)"), ("beta1", "\(beta1)"),
         ("beta2", "\(beta2)"), ("seed", "\(seed)"), ("data", dataset),
         ("classes", classCount.map { "\($0)" } ?? "none (unconditional)"), ("loss", loss.rawValue),
         ("spectral-norm", "\(spectralNormalization)"), ("spatial-rank", "\(spatialRank)"),
         ("discriminator-learning-rate", discriminatorLearningRate.map { "\($0)" } ?? "same"),
         ("discriminator-accuracy-limit", discriminatorAccuracyLimit.map { "\($0)" } ?? "none"),
         ("generator-average", generatorAverageDecay.map { "decay \($0)" } ?? "none"), ("crop", crop),
         ("class-names", classNames?.joined(separator: ", ") ?? "none")]
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

/// The adversarial objective.
public enum GANLoss: String, Codable, CaseIterable {
    /// Binary cross-entropy with the generator maximizing `log D(G(z))` (Goodfellow et al. 2014, as in DCGAN).
    case nonSaturating = "non-saturating"
    /// Hinge loss (Lim and Ye 2017; Miyato et al. 2018).
    case hinge
}
