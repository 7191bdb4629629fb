import Foundation
import SwiftGANData
import SwiftGANMetrics
import SwiftGANNN

/// A generator and a classifier (or data and a classifier) that do not fit together.
public struct EvaluationError: Error, CustomStringConvertible, Equatable {
    /// One line saying what does not fit.
    public let description: String
    /// An error with that line.
    public init(_ description: String) { self.description = description }
}

/// Settings of `Evaluation.evaluate`.
public struct EvaluationOptions: Equatable {
    /// Generated images to compare (10,000 is the usual number for FID-style metrics).
    public var count = 10_000
    /// Seed of the latent vectors (and of the subsets KID draws).
    public var seed: UInt64 = 0
    /// KID subset size (capped by the smaller feature set).
    public var kidSubsetSize = 1000
    /// The number of KID subsets.
    public var kidSubsets = 100
    /// k for precision and recall.
    public var precisionRecallNeighbours = 3
    /// k for density and coverage.
    public var densityCoverageNeighbours = 5
    /// Images per batch through the generator and the classifier.
    public var batchSize = 250

    /// The defaults: 10,000 images, seed 0, KID 100 subsets of 1,000, k = 3 and 5.
    public init() {}
}

/// The sample-quality metrics of one set of images against real images, in the feature space of a SwiftGAN
/// classifier. Metric names carry the feature network's name (`frechet_distance_swiftgan_lenet_fashion-mnist`) so
/// that they cannot be mistaken for Inception-based FID.
public struct MetricValues: Codable, Equatable {
    /// The Frechet distance between Gaussians fitted to the two feature sets.
    public var frechetDistance: Double
    /// KID: the mean of the unbiased MMD^2 (cubic polynomial kernel) over subsets.
    public var kernelDistance: Double
    /// KID: the standard deviation of the subset estimates.
    public var kernelDistanceStandardDeviation: Double
    /// k-nearest-neighbour precision (Kynkaanniemi et al. 2019): fidelity.
    public var precision: Double
    /// k-nearest-neighbour recall (Kynkaanniemi et al. 2019): diversity.
    public var recall: Double
    /// Density (Naeem et al. 2020).
    public var density: Double
    /// Coverage (Naeem et al. 2020).
    public var coverage: Double

    /// The values by name, each name ending in the feature network's name.
    public func named(featureNetwork: String) -> [(name: String, value: Double)] {
        [("frechet_distance_" + featureNetwork, frechetDistance), ("kid_" + featureNetwork, kernelDistance),
         ("kid_std_" + featureNetwork, kernelDistanceStandardDeviation), ("precision_" + featureNetwork, precision),
         ("recall_" + featureNetwork, recall), ("density_" + featureNetwork, density), ("coverage_" + featureNetwork, coverage)]
    }
}

/// What `swiftgan evaluate` writes as JSON.
public struct EvaluationReport: Codable, Equatable {
    /// `swiftgan_lenet_<dataset>`: the network whose penultimate layer gave the features.
    public var featureNetwork: String
    /// A sentence saying what the feature network is, and that the numbers are not Inception FID.
    public var featureNetworkNote: String
    /// Length of the feature vectors.
    public var featureSize: Int
    /// The classifier's accuracy on its test split, as recorded when it was trained.
    public var classifierTestAccuracy: Double?
    /// The classifier file, when known.
    public var classifier: String?
    /// The checkpoint file and its step, when known.
    public var checkpoint: String?
    public var checkpointStep: Int?
    /// What the real images were (for example `fashion-mnist test split`) and how many.
    public var realData: String
    public var realCount: Int
    /// The number of generated images.
    public var generatedCount: Int
    /// The seed of the latents and KID subsets.
    public var seed: UInt64
    /// The generated images' metrics by name (`frechet_distance_swiftgan_lenet_fashion-mnist`, `kid_...`, `kid_std_...`,
    /// `precision_...`, `recall_...`, `density_...`, `coverage_...`).
    public var metrics: [String: Double]
    /// The same metrics for reference sets, when asked for: `real_train` (as many training images, a floor for the
    /// distances) and `uniform_noise` (images of uniform noise, a ceiling).
    public var baselines: [String: [String: Double]]?
    /// The KID subset size used and the number of subsets.
    public var kidSubsetSize: Int
    public var kidSubsets: Int
    /// k for precision/recall and for density/coverage.
    public var precisionRecallNeighbours: Int
    public var densityCoverageNeighbours: Int
    /// Precision, recall, density and coverage compare the generated images with this many real images (a seeded
    /// random subset of the real set, as many as there are generated ones); the Frechet distance and KID use them all.
    public var nearestNeighbourRealCount: Int
    /// Wall time of the evaluation.
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case featureNetwork = "feature_network", featureNetworkNote = "feature_network_note", featureSize = "feature_size"
        case classifierTestAccuracy = "classifier_test_accuracy", classifier, checkpoint, checkpointStep = "checkpoint_step"
        case realData = "real_data", realCount = "real_count", generatedCount = "generated_count", seed, metrics, baselines
        case kidSubsetSize = "kid_subset_size", kidSubsets = "kid_subsets"
        case precisionRecallNeighbours = "precision_recall_k", densityCoverageNeighbours = "density_coverage_k"
        case nearestNeighbourRealCount = "nearest_neighbour_real_count", seconds
    }

    /// Pretty-printed JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// Sample-quality evaluation of a DCGAN with a SwiftGAN classifier's penultimate-layer features (the accepted
/// substitute for Inception features on small datasets: TF-GAN's "your own classifier", the Frechet LeNet distance).
public enum Evaluation {
    /// Checks that `classifier` takes the images `gan` makes.
    /// - Throws: `EvaluationError` saying both sizes.
    public static func checkCompatible(gan: DCGAN, classifier: Classifier) throws {
        let g = gan.configuration, c = classifier.configuration
        guard g.imageSize == c.imageSize, g.imageChannels == c.imageChannels else {
            throw EvaluationError("the classifier takes \(c.imageSize)x\(c.imageSize)x\(c.imageChannels) images but the generator makes "
                                  + "\(g.imageSize)x\(g.imageSize)x\(g.imageChannels); train a classifier with --image-size \(g.imageSize)")
        }
    }

    /// Classifier features of `count` images generated from latents with `seed`, generated and classified in batches.
    public static func generatedFeatures(gan: DCGAN, classifier: Classifier, count: Int, seed: UInt64,
                                         batchSize: Int = 250) throws -> FeatureMatrix {
        try checkCompatible(gan: gan, classifier: classifier)
        let latents = gan.latents(count: count, seed: seed)
        var features: [Float] = []
        features.reserveCapacity(count * classifier.configuration.featureSize)
        var start = 0
        while start < count {
            let end = min(count, start + batchSize)
            let images = gan.generate(latents.sliced(alongAxis: 0, start..<end), batchSize: batchSize)
            features += classifier.extractFeatures(images.scalars, count: end - start, batchSize: batchSize)
            start = end
        }
        return try FeatureMatrix(count: count, dimension: classifier.configuration.featureSize, values: features)
    }

    /// Classifier features of the first `limit` images of `dataset` (all of them when nil).
    public static func datasetFeatures(classifier: Classifier, dataset: ImageDataset, limit: Int? = nil,
                                       batchSize: Int = 250) throws -> FeatureMatrix {
        try classifier.checkCompatible(dataset)
        let n = min(limit ?? dataset.count, dataset.count)
        let pixels = n == dataset.count ? dataset.pixels : Array(dataset.pixels[0..<(n * dataset.imageSize)])
        return try FeatureMatrix(count: n, dimension: classifier.configuration.featureSize,
                                 values: classifier.extractFeatures(pixels, count: n, batchSize: batchSize))
    }

    /// Classifier features of `count` images of uniform noise in [-1, 1] (a ceiling for the distances).
    public static func noiseFeatures(classifier: Classifier, count: Int, seed: UInt64, batchSize: Int = 250) throws -> FeatureMatrix {
        let c = classifier.configuration
        var rng = SplitMix64(seed: seed)
        let noise = Tensor.randomUniform(shape: [count, c.imageChannels, c.imageSize, c.imageSize], lowerBound: -1,
                                         upperBound: 1, using: &rng)
        return try FeatureMatrix(count: count, dimension: c.featureSize,
                                 values: classifier.extractFeatures(noise.scalars, count: count, batchSize: batchSize))
    }

    /// All metrics of `generated` against `real`. Precision, recall, density and coverage use a seeded random subset
    /// of the real features as large as the generated set (the k-NN radii depend on the sample size, so the two sides
    /// are kept equal); the Frechet distance and KID use every real feature.
    public static func compare(real: FeatureMatrix, generated: FeatureMatrix, options: EvaluationOptions) throws -> MetricValues {
        let realStatistics = try FeatureStatistics(real)
        return try compare(real: real, realStatistics: realStatistics, generated: generated, options: options)
    }

    static func compare(real: FeatureMatrix, realStatistics: FeatureStatistics, generated: FeatureMatrix,
                        options: EvaluationOptions) throws -> MetricValues {
        let fd = try FrechetDistance.compute(realStatistics, FeatureStatistics(generated))
        let kid = try KernelDistance.compute(real, generated, subsetSize: options.kidSubsetSize, subsetCount: options.kidSubsets,
                                             seed: options.seed)
        let neighbours = try NearestNeighbourMetrics.compute(
            real: nearestNeighbourSubset(real, size: generated.count, seed: options.seed), generated: generated,
            precisionRecallNeighbours: options.precisionRecallNeighbours,
            densityCoverageNeighbours: options.densityCoverageNeighbours)
        return MetricValues(frechetDistance: fd, kernelDistance: kid.mean, kernelDistanceStandardDeviation: kid.standardDeviation,
                            precision: neighbours.precision, recall: neighbours.recall, density: neighbours.density,
                            coverage: neighbours.coverage)
    }

    /// A seeded random subset of `size` rows (all rows, in order, when there are no more than that).
    static func nearestNeighbourSubset(_ real: FeatureMatrix, size: Int, seed: UInt64) -> FeatureMatrix {
        if size >= real.count { return real }
        return real.rows(Array(SeededShuffle.permutation(count: real.count, seed: seed, epoch: 0).prefix(size)))
    }

    /// Generates `options.count` images with `gan` and compares their features with those of `real` (typically the
    /// test split). With `baselines`, also compares as many images of `train` (a floor) and of uniform noise
    /// (a ceiling) with the same real set.
    /// - Throws: `EvaluationError` when the classifier does not fit the generator or the data; `MetricsError` for
    ///   too few images.
    public static func evaluate(gan: DCGAN, classifier: Classifier, real: ImageDataset, realDescription: String,
                                options: EvaluationOptions, baselineTrain: ImageDataset? = nil, noiseBaseline: Bool = false,
                                progress: (String) -> Void = { _ in }) throws -> EvaluationReport {
        let started = Date()
        try checkCompatible(gan: gan, classifier: classifier)
        do { try classifier.checkCompatible(real) } catch { throw EvaluationError("the real images do not fit the classifier: \(error)") }
        let c = classifier.configuration
        let network = c.featureNetworkName
        progress("features of \(real.count) real images (\(realDescription))")
        let realFeatures = try datasetFeatures(classifier: classifier, dataset: real, batchSize: options.batchSize)
        let realStatistics = try FeatureStatistics(realFeatures)
        progress("generating \(options.count) images and their features")
        let generated = try generatedFeatures(gan: gan, classifier: classifier, count: options.count, seed: options.seed,
                                              batchSize: options.batchSize)
        progress("computing the metrics")
        let values = try compare(real: realFeatures, realStatistics: realStatistics, generated: generated, options: options)
        var baselines: [String: [String: Double]] = [:]
        if let train = baselineTrain {
            do { try classifier.checkCompatible(train) } catch { throw EvaluationError("the training images do not fit the classifier: \(error)") }
            progress("baseline: \(min(options.count, train.count)) real training images")
            let trainFeatures = try datasetFeatures(classifier: classifier, dataset: shuffledPrefix(train, options.count, seed: options.seed),
                                                    batchSize: options.batchSize)
            let v = try compare(real: realFeatures, realStatistics: realStatistics, generated: trainFeatures, options: options)
            baselines["real_train"] = Dictionary(uniqueKeysWithValues: v.named(featureNetwork: network).map { ($0.name, $0.value) })
        }
        if noiseBaseline {
            progress("baseline: \(options.count) uniform-noise images")
            let noise = try noiseFeatures(classifier: classifier, count: options.count, seed: options.seed, batchSize: options.batchSize)
            let v = try compare(real: realFeatures, realStatistics: realStatistics, generated: noise, options: options)
            baselines["uniform_noise"] = Dictionary(uniqueKeysWithValues: v.named(featureNetwork: network).map { ($0.name, $0.value) })
        }
        let accuracy = c.testAccuracy.map { String(format: "%.1f%%", $0 * 100) } ?? "unknown"
        return EvaluationReport(
            featureNetwork: network,
            featureNetworkNote: "features: the \(c.featureSize)-unit penultimate layer of SwiftGAN's own LeNet-class classifier trained on "
                + "\(c.dataset) (test accuracy \(accuracy)); a Frechet LeNet-style distance, not Inception FID: not comparable with published FID values",
            featureSize: c.featureSize, classifierTestAccuracy: c.testAccuracy, classifier: nil, checkpoint: nil, checkpointStep: nil,
            realData: realDescription, realCount: real.count, generatedCount: options.count, seed: options.seed,
            metrics: Dictionary(uniqueKeysWithValues: values.named(featureNetwork: network).map { ($0.name, $0.value) }),
            baselines: baselines.isEmpty ? nil : baselines, kidSubsetSize: min(options.kidSubsetSize, real.count, options.count),
            kidSubsets: options.kidSubsets, precisionRecallNeighbours: options.precisionRecallNeighbours,
            densityCoverageNeighbours: options.densityCoverageNeighbours,
            nearestNeighbourRealCount: min(real.count, options.count), seconds: Date().timeIntervalSince(started))
    }

    /// `count` images of `dataset` in a seeded random order (all of them when there are no more).
    static func shuffledPrefix(_ dataset: ImageDataset, _ count: Int, seed: UInt64) throws -> ImageDataset {
        if count >= dataset.count { return dataset }
        let indices = Array(SeededShuffle.permutation(count: dataset.count, seed: seed &+ 1, epoch: 0).prefix(count))
        let picked = dataset.gather(indices)
        return try ImageDataset(images: picked.pixels, labels: picked.labels, channels: dataset.channels, height: dataset.height,
                                width: dataset.width)
    }

    // MARK: During training

    /// The statistics of real features that `quick` compares with: computed once per run (for example from the first
    /// few thousand training images) and kept.
    public static func referenceStatistics(classifier: Classifier, dataset: ImageDataset, limit: Int = 5000) throws -> FeatureStatistics {
        try FeatureStatistics(datasetFeatures(classifier: classifier, dataset: shuffledPrefix(dataset, limit, seed: 0)))
    }

    /// A cheap Frechet distance for use during training: `count` generated images (a few thousand) against the
    /// cached statistics of real features. Uses the generator's running batch-norm averages, like `DCGAN.generate`,
    /// and the same latents (`seed`) on every call, so successive values differ only through the weights.
    /// Lower is better; a few seconds for 2,000 images on 2 cores.
    /// - Throws: `EvaluationError` when the classifier does not fit the generator; `MetricsError` for a count below 2.
    public static func quick(gan: DCGAN, classifier: Classifier, reference: FeatureStatistics, count: Int = 2000,
                             seed: UInt64 = 0x0E7A1) throws -> Double {
        let generated = try generatedFeatures(gan: gan, classifier: classifier, count: count, seed: seed)
        return try FrechetDistance.compute(reference, FeatureStatistics(generated))
    }
}
