import Foundation
import SwiftGANData
import SwiftGANNN

// Data augmentation with a class-conditional GAN: synthetic labelled images written to disk with their provenance,
// the check that generated images are of the class asked for, and the protocol that measures whether synthetic
// images help a classifier on the real test split.

/// A request that cannot be met by the augmentation code (mismatched data, too few images), as one readable line.
public struct AugmentationError: Error, CustomStringConvertible, Equatable {
    /// The message.
    public let description: String
    /// Wraps `message`.
    public init(_ message: String) { description = message }
}

// MARK: - Metrics

/// Accuracy, balanced accuracy and ROC AUC of one classifier on one labelled test set.
public struct ClassificationMetrics: Codable, Equatable {
    /// The fraction of images whose predicted class (the most probable one) is their label.
    public var accuracy: Double
    /// The mean over the classes present in the labels of the recall of each class: each class counts the same,
    /// however many images it has, so always predicting the majority class scores `1 / classes`.
    public var balancedAccuracy: Double
    /// Area under the ROC curve, rank-based (ties count one half): for 2 classes the score of class 1; for more, the
    /// macro mean of one-vs-rest AUCs over the classes that have both positives and negatives. Nil when no class does.
    public var rocAUC: Double?
    /// The number of test images.
    public var count: Int

    /// Stores the values.
    public init(accuracy: Double, balancedAccuracy: Double, rocAUC: Double?, count: Int) {
        self.accuracy = accuracy
        self.balancedAccuracy = balancedAccuracy
        self.rocAUC = rocAUC
        self.count = count
    }

    /// Metrics of class probabilities `probabilities` (`labels.count x classCount` values, row-major) against `labels`.
    /// Predictions are the most probable class (the first on ties).
    /// - Throws: `AugmentationError` when the sizes disagree, a label is outside the classes, or there are no labels.
    public init(probabilities: [Double], labels: [Int], classCount: Int) throws {
        let n = labels.count
        guard n > 0 else { throw AugmentationError("no labelled images to measure") }
        guard classCount >= 2 else { throw AugmentationError("metrics need at least 2 classes, got \(classCount)") }
        guard probabilities.count == n * classCount else {
            throw AugmentationError("\(probabilities.count) probabilities are not \(n) rows of \(classCount) classes")
        }
        if let bad = labels.first(where: { !(0..<classCount).contains($0) }) {
            throw AugmentationError("label \(bad) is outside the \(classCount) classes")
        }
        var predictions: [Int] = []
        predictions.reserveCapacity(n)
        for i in 0..<n {
            var best = 0
            for k in 1..<classCount where probabilities[i * classCount + k] > probabilities[i * classCount + best] { best = k }
            predictions.append(best)
        }
        let auc: Double?
        if classCount == 2 {
            auc = ClassificationMetrics.rocAUC(scores: (0..<n).map { probabilities[$0 * 2 + 1] }, positives: labels.map { $0 == 1 })
        } else {
            let perClass = (0..<classCount).compactMap { k in
                ClassificationMetrics.rocAUC(scores: (0..<n).map { probabilities[$0 * classCount + k] }, positives: labels.map { $0 == k })
            }
            auc = perClass.isEmpty ? nil : perClass.reduce(0, +) / Double(perClass.count)
        }
        self.init(accuracy: ClassificationMetrics.accuracy(predictions: predictions, labels: labels),
                  balancedAccuracy: ClassificationMetrics.balancedAccuracy(predictions: predictions, labels: labels),
                  rocAUC: auc, count: n)
    }

    /// The fraction of `predictions` equal to `labels` (0 for none).
    public static func accuracy(predictions: [Int], labels: [Int]) -> Double {
        precondition(predictions.count == labels.count, "accuracy: \(predictions.count) predictions for \(labels.count) labels")
        guard !labels.isEmpty else { return 0 }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    /// The mean over the classes that occur in `labels` of the fraction of that class predicted as itself (recall).
    public static func balancedAccuracy(predictions: [Int], labels: [Int]) -> Double {
        precondition(predictions.count == labels.count, "balancedAccuracy: \(predictions.count) predictions for \(labels.count) labels")
        var total: [Int: Int] = [:], correct: [Int: Int] = [:]
        for (p, y) in zip(predictions, labels) {
            total[y, default: 0] += 1
            if p == y { correct[y, default: 0] += 1 }
        }
        guard !total.isEmpty else { return 0 }
        return total.keys.map { Double(correct[$0] ?? 0) / Double(total[$0] ?? 1) }.reduce(0, +) / Double(total.count)
    }

    /// The area under the ROC curve of `scores` for telling `positives` from the rest, computed from ranks (the
    /// Mann-Whitney statistic): the probability that a random positive scores above a random negative, ties counting
    /// one half. Nil when there are no positives or no negatives.
    public static func rocAUC(scores: [Double], positives: [Bool]) -> Double? {
        precondition(scores.count == positives.count, "rocAUC: \(scores.count) scores for \(positives.count) labels")
        let positiveCount = positives.filter { $0 }.count
        let negativeCount = positives.count - positiveCount
        guard positiveCount > 0, negativeCount > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        // Mid-ranks (1-based): tied scores share the mean of the ranks they span.
        var positiveRankSum = 0.0
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && scores[order[end + 1]] == scores[order[start]] { end += 1 }
            let midRank = Double(start + end) / 2 + 1
            for i in start...end where positives[order[i]] { positiveRankSum += midRank }
            start = end + 1
        }
        let p = Double(positiveCount), q = Double(negativeCount)
        return (positiveRankSum - p * (p + 1) / 2) / (p * q)
    }
}

/// The mean and sample standard deviation of repeated measurements (one per seed).
public struct MeanAndDeviation: Codable, Equatable {
    /// The arithmetic mean.
    public var mean: Double
    /// The sample standard deviation (divisor n - 1); 0 for a single value.
    public var standardDeviation: Double
    /// The number of values.
    public var count: Int

    /// Summarizes `values`; nil for none.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let n = Double(values.count)
        mean = values.reduce(0, +) / n
        let m = mean
        standardDeviation = values.count > 1 ? (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / (n - 1)).squareRoot() : 0
        count = values.count
    }

    /// `0.853 ± 0.012`.
    public var text: String { String(format: "%.3f ± %.3f", mean, standardDeviation) }
}

// MARK: - Synthetic image sets

/// How many synthetic images each class gets.
public enum SyntheticClassCounts: String, Codable, CaseIterable {
    /// The same number for every class (`perClass` each). On imbalanced data this adds relatively more images to the
    /// smaller classes, so the augmented training set is closer to balanced than the real one.
    case equal
    /// `perClass x classes` images in all, split in the proportions of the real training set's classes (largest
    /// remainder rounding), so the augmented set keeps the real imbalance.
    case matchReal = "match-real"

    /// The synthetic count of each class. `realCounts` are the real training set's class counts.
    public func counts(perClass: Int, realCounts: [Int]) -> [Int] {
        let classes = realCounts.count
        switch self {
        case .equal:
            return [Int](repeating: perClass, count: classes)
        case .matchReal:
            let total = perClass * classes
            let realTotal = realCounts.reduce(0, +)
            guard realTotal > 0 else { return [Int](repeating: perClass, count: classes) }
            let exact = realCounts.map { Double(total) * Double($0) / Double(realTotal) }
            var result = exact.map { Int($0.rounded(.down)) }
            let byRemainder = exact.indices.sorted { (exact[$0] - Double(result[$0]), -$0) > (exact[$1] - Double(result[$1]), -$1) }
            for k in byRemainder.prefix(total - result.reduce(0, +)) { result[k] += 1 }
            return result
        }
    }
}

/// How synthetic images are stored.
public enum SyntheticFormat: String, Codable, CaseIterable {
    /// `images/class-K/class-K-NNNNN.png`, one grayscale or RGB PNG per image, listed in `labels.csv`. The `images`
    /// folder is laid out as class subfolders, so `swiftgan train --data OUT/images` reads it with its labels.
    case png
    /// `synthetic-images-idx3-ubyte.gz` and `synthetic-labels-idx1-ubyte.gz` (grayscale only).
    case idx
}

/// Where a set of synthetic images came from, written to `metadata.json` beside them.
public struct SyntheticMetadata: Codable, Equatable {
    /// Always true: these images were made by a generator, not acquired.
    public var synthetic: Bool = true
    /// The value of the `format` entry: `swiftgan-synthetic`.
    public var format: String = SyntheticMetadata.formatName
    /// How the images are stored.
    public var storage: SyntheticFormat
    /// The checkpoint the generator was read from (nil when it was never saved).
    public var checkpoint: String?
    /// The generator's training step.
    public var step: Int
    /// The seed of the latent vectors (class `k` uses the seed `mix(seed, k)`).
    public var seed: UInt64
    /// The number of images of each class.
    public var classCounts: [Int]
    /// The rule that chose `classCounts` (`equal`, `match-real`, or a description).
    public var classCountRule: String
    /// Image side length and channels.
    public var imageSize: Int
    public var imageChannels: Int
    /// The generator's configuration.
    public var configuration: DCGANConfiguration

    /// The `format` value of SwiftGAN's synthetic sets.
    public static let formatName = "swiftgan-synthetic"

    /// Stores the values.
    public init(storage: SyntheticFormat, checkpoint: String?, step: Int, seed: UInt64, classCounts: [Int], classCountRule: String,
                configuration: DCGANConfiguration) {
        self.storage = storage
        self.checkpoint = checkpoint
        self.step = step
        self.seed = seed
        self.classCounts = classCounts
        self.classCountRule = classCountRule
        imageSize = configuration.imageSize
        imageChannels = configuration.imageChannels
        self.configuration = configuration
    }
}

/// The fraction of generated images that an independently trained classifier assigns to the class they were
/// generated as.
public struct ClassConsistency: Codable, Equatable {
    /// Over all images.
    public var overall: Double
    /// Per requested class.
    public var perClass: [Double]
    /// `confusion[requested][predicted]` image counts.
    public var confusion: [[Int]]
    /// The number of images measured.
    public var count: Int
}

/// Synthetic data for augmentation: generation, files, class consistency, and the evaluation protocol.
public enum Augmentation {
    /// File names inside a synthetic set's folder.
    public static let metadataFile = "metadata.json"
    public static let labelsFile = "labels.csv"
    public static let idxImagesFile = "synthetic-images-idx3-ubyte.gz"
    public static let idxLabelsFile = "synthetic-labels-idx1-ubyte.gz"

    /// The number of images of each class `0..<classCount` in `labels`.
    public static func classCounts(_ labels: [Int], classCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for y in labels where (0..<classCount).contains(y) { counts[y] += 1 }
        return counts
    }

    /// `counts[k]` images of each class `k` from the conditional generator `gan`, class after class. The latent
    /// vectors of class `k` are drawn with the seed `mix(seed, k)`, so a class's images do not depend on the other
    /// classes' counts, and image `i` of a class is the same for any count above `i`.
    /// - Throws: `AugmentationError` for an unconditional GAN, too many counts, or no images at all.
    public static func generate(gan: DCGAN, counts: [Int], seed: UInt64, batchSize: Int = 256) throws -> ImageDataset {
        let c = gan.configuration
        guard let classes = c.classCount else {
            throw AugmentationError("the GAN is unconditional; synthetic labelled images need a conditional one (train with --conditional)")
        }
        guard counts.count <= classes else { throw AugmentationError("\(counts.count) class counts for a GAN of \(classes) classes") }
        guard counts.allSatisfy({ $0 >= 0 }), counts.reduce(0, +) > 0 else { throw AugmentationError("no synthetic images requested") }
        var pixels: [Float] = []
        var labels: [Int] = []
        pixels.reserveCapacity(counts.reduce(0, +) * c.imageChannels * c.imageSize * c.imageSize)
        for (k, count) in counts.enumerated() where count > 0 {
            let latents = gan.latents(count: count, seed: SeededRandomNumberGenerator.mix(seed, UInt64(k)))
            pixels += gan.generate(latents, labels: [Int](repeating: k, count: count), batchSize: batchSize).scalars
            labels += [Int](repeating: k, count: count)
        }
        return try ImageDataset(images: pixels, labels: labels, channels: c.imageChannels, height: c.imageSize, width: c.imageSize)
    }

    /// The name of class `k`'s folder: `class-K`, zero-padded so that folder names sort in class order.
    public static func classFolder(_ k: Int, classCount: Int) -> String {
        let digits = String(max(classCount - 1, 0)).count
        let number = String(k)
        return "class-" + String(repeating: "0", count: max(0, digits - number.count)) + number
    }

    /// Writes `images` (labelled) and `metadata` into `directory`: the images as PNG files with `labels.csv`
    /// (`file,label,synthetic` rows, `synthetic` always `true`) or as an IDX pair, and `metadata.json`.
    /// A synthetic set written there before (recognised by its `metadata.json`) is replaced. A class with no images
    /// gets no folder, so a folder reader that numbers the class folders would shift the later classes; `labels.csv`
    /// holds the true labels.
    /// - Returns: the paths written (metadata, labels, and the IDX files or the images folder).
    /// - Throws: `AugmentationError` for unlabelled images, RGB images in IDX, or a folder that already holds an
    ///   `images` folder without SwiftGAN metadata; `DataError` when a file cannot be written.
    @discardableResult
    public static func write(_ images: ImageDataset, metadata: SyntheticMetadata, to directory: String) throws -> [String] {
        guard let labels = images.labels else { throw AugmentationError("synthetic images must have labels") }
        let fm = FileManager.default
        let metadataPath = directory + "/" + metadataFile
        let imagesFolder = directory + "/images"
        if fm.fileExists(atPath: metadataPath) {
            _ = try readMetadata(directory)
            for name in ["images", labelsFile, idxImagesFile, idxLabelsFile] { try? fm.removeItem(atPath: directory + "/" + name) }
        } else if fm.fileExists(atPath: imagesFolder) {
            throw AugmentationError("\(imagesFolder) already exists and is not a SwiftGAN synthetic set; choose another output folder")
        }
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw DataError.writeFailed(path: directory, reason: error.localizedDescription)
        }
        let classCount = max(metadata.classCounts.count, (labels.max() ?? 0) + 1)
        var written: [String] = []
        switch metadata.storage {
        case .png:
            var csv = "file,label,synthetic\n"
            var indexInClass = [Int](repeating: 0, count: classCount)
            for i in 0..<images.count {
                let k = labels[i]
                let folder = classFolder(k, classCount: classCount)
                let name = "images/\(folder)/\(folder)-" + String(format: "%05d", indexInClass[k]) + ".png"
                indexInClass[k] += 1
                let values = Array(images.pixels[(i * images.imageSize)..<((i + 1) * images.imageSize)])
                try ImageIO.writePNG(ImageGrid.image(from: values, channels: images.channels, height: images.height, width: images.width),
                                     to: directory + "/" + name)
                csv += "\(name),\(k),true\n"
            }
            try writeAtomically(Data(csv.utf8), to: directory + "/" + labelsFile)
            written += [directory + "/" + labelsFile, imagesFolder]
        case .idx:
            guard images.channels == 1 else { throw AugmentationError("IDX holds grayscale images only; use the png format for RGB") }
            let bytes = images.pixels.map(ImageGrid.pixelValue)
            try IDX.write(IDXArray(shape: [images.count, images.height, images.width], bytes: bytes), to: directory + "/" + idxImagesFile)
            guard labels.allSatisfy({ $0 < 256 }) else { throw AugmentationError("IDX labels are bytes; a label is above 255") }
            try IDX.write(IDXArray(shape: [images.count], bytes: labels.map { UInt8($0) }), to: directory + "/" + idxLabelsFile)
            written += [directory + "/" + idxImagesFile, directory + "/" + idxLabelsFile]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try encoder.encode(metadata), to: metadataPath)
        return [metadataPath] + written
    }

    /// Reads `directory/metadata.json`.
    /// - Throws: `DataError` naming the file when it is missing, unreadable or not a SwiftGAN synthetic set.
    public static func readMetadata(_ directory: String) throws -> SyntheticMetadata {
        let path = directory + "/" + metadataFile
        guard FileManager.default.fileExists(atPath: path) else { throw DataError.fileNotFound(path: path) }
        guard let data = FileManager.default.contents(atPath: path) else { throw DataError.unreadable(path: path, reason: "cannot open the file") }
        guard let metadata = try? JSONDecoder().decode(SyntheticMetadata.self, from: data), metadata.format == SyntheticMetadata.formatName else {
            throw DataError.malformed(path: path, reason: "not the metadata of a SwiftGAN synthetic set (format \(SyntheticMetadata.formatName))")
        }
        return metadata
    }

    /// Reads a synthetic set written by `write(_:metadata:to:)`: pixels in [-1, 1] (quantized to bytes, as stored),
    /// labels, and the metadata.
    /// - Throws: `DataError` naming the file that is missing, damaged, or disagrees with the metadata.
    public static func read(_ directory: String) throws -> (images: ImageDataset, metadata: SyntheticMetadata) {
        let metadata = try readMetadata(directory)
        let images: ImageDataset
        switch metadata.storage {
        case .idx:
            images = try ImageDataset(imagesPath: directory + "/" + idxImagesFile, labelsPath: directory + "/" + idxLabelsFile)
        case .png:
            let csvPath = directory + "/" + labelsFile
            guard let data = FileManager.default.contents(atPath: csvPath), let text = String(data: data, encoding: .utf8) else {
                throw DataError.fileNotFound(path: csvPath)
            }
            var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
            guard lines.first == "file,label,synthetic" else {
                throw DataError.malformed(path: csvPath, reason: "the first line must be 'file,label,synthetic'")
            }
            lines.removeFirst()
            var pixels: [Float] = []
            var labels: [Int] = []
            for (number, line) in lines.enumerated() {
                let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                guard fields.count == 3, let label = Int(fields[1]), label >= 0, fields[2] == "true" else {
                    throw DataError.malformed(path: csvPath, reason: "line \(number + 2) is not 'file,label,true'")
                }
                let image = try ImageIO.readImage(directory + "/" + fields[0])
                guard image.width == metadata.imageSize, image.height == metadata.imageSize, image.channels == metadata.imageChannels else {
                    throw DataError.malformed(path: directory + "/" + fields[0],
                                              reason: "\(image.width)x\(image.height)x\(image.channels) where the metadata says \(metadata.imageSize)x\(metadata.imageSize)x\(metadata.imageChannels)")
                }
                // Interleaved bytes to planar values in [-1, 1].
                let plane = image.width * image.height
                for channel in 0..<image.channels {
                    for p in 0..<plane { pixels.append(Float(image.pixels[p * image.channels + channel]) / 127.5 - 1) }
                }
                labels.append(label)
            }
            guard !labels.isEmpty else { throw DataError.malformed(path: csvPath, reason: "it lists no images") }
            images = try ImageDataset(images: pixels, labels: labels, channels: metadata.imageChannels, height: metadata.imageSize,
                                      width: metadata.imageSize)
        }
        let counts = classCounts(images.labels ?? [], classCount: max(metadata.classCounts.count, images.classCount ?? 0))
        guard counts == metadata.classCounts else {
            throw DataError.malformed(path: directory + "/" + metadataFile,
                                      reason: "the stored images have class counts \(counts), the metadata says \(metadata.classCounts)")
        }
        return (images, metadata)
    }

    /// A grid of up to `limit` images of class `k` of `dataset` (the first ones), 8 per row; nil when it has none.
    public static func classGrid(_ dataset: ImageDataset, classIndex k: Int, limit: Int = 64, columns: Int = 8) -> RasterImage? {
        guard let labels = dataset.labels else { return nil }
        let indices = Array(labels.indices.filter { labels[$0] == k }.prefix(limit))
        guard !indices.isEmpty else { return nil }
        return ImageGrid.tile(images: dataset.gather(indices).pixels, count: indices.count, channels: dataset.channels,
                              height: dataset.height, width: dataset.width, columns: columns)
    }

    // MARK: Class consistency

    /// Class probabilities of `images` (`count x classCount` values, row-major): the softmax of the classifier's
    /// logits in evaluation mode, in batches, without recording gradients.
    public static func probabilities(classifier: Classifier, images: ImageDataset, batchSize: Int = 256) throws -> [Double] {
        try classifier.checkCompatible(images)
        let classes = classifier.configuration.classCount
        classifier.setTraining(false)
        defer { classifier.setTraining(true) }
        var result: [Double] = []
        result.reserveCapacity(images.count * classes)
        GradientRecording.withoutRecording {
            var start = 0
            while start < images.count {
                let end = min(images.count, start + batchSize)
                let batch = Tensor(shape: [end - start, images.channels, images.height, images.width],
                                   scalars: Array(images.pixels[(start * images.imageSize)..<(end * images.imageSize)]))
                let logits = classifier(batch).scalars
                for i in 0..<(end - start) {
                    let row = logits[(i * classes)..<((i + 1) * classes)].map(Double.init)
                    let top = row.max() ?? 0
                    let exps = row.map { Foundation.exp($0 - top) }
                    let sum = exps.reduce(0, +)
                    result += exps.map { $0 / sum }
                }
                start = end
            }
        }
        return result
    }

    /// How often `classifier` assigns labelled (generated) `images` to their label.
    /// - Throws: `AugmentationError` for unlabelled images or labels beyond the classifier's classes;
    ///   `DataError.invalidDataset` when the images are not the size the classifier takes.
    public static func classConsistency(images: ImageDataset, classifier: Classifier) throws -> ClassConsistency {
        guard let labels = images.labels else { throw AugmentationError("class consistency needs labelled images") }
        let classes = classifier.configuration.classCount
        if let bad = labels.first(where: { $0 >= classes }) {
            throw AugmentationError("label \(bad) is beyond the classifier's \(classes) classes")
        }
        let predictions = classifier.predict(images.pixels, count: images.count)
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (y, p) in zip(labels, predictions) { confusion[y][p] += 1 }
        let perClass = confusion.enumerated().map { k, row -> Double in
            let total = row.reduce(0, +)
            return total == 0 ? 0 : Double(row[k]) / Double(total)
        }
        return ClassConsistency(overall: ClassificationMetrics.accuracy(predictions: predictions, labels: labels),
                                perClass: perClass, confusion: confusion, count: images.count)
    }

    /// Generates `perClass` images of every class of the conditional `gan` (latent seed `seed`) and measures how often
    /// the independently trained `classifier` assigns them to the class asked for.
    /// - Throws: `EvaluationError` when the classifier does not take the generator's images or has another number of
    ///   classes; the errors of `generate(gan:counts:seed:batchSize:)`.
    public static func classConsistency(gan: DCGAN, classifier: Classifier, perClass: Int, seed: UInt64) throws -> ClassConsistency {
        try Evaluation.checkCompatible(gan: gan, classifier: classifier)
        guard let classes = gan.configuration.classCount else {
            throw AugmentationError("the GAN is unconditional; class consistency needs a conditional one")
        }
        guard classes == classifier.configuration.classCount else {
            throw EvaluationError("the GAN has \(classes) classes but the classifier \(classifier.configuration.classCount)")
        }
        let images = try generate(gan: gan, counts: [Int](repeating: perClass, count: classes), seed: seed)
        return try classConsistency(images: images, classifier: classifier)
    }

    // MARK: Subsets

    /// A stratified random subset: from each class `k`, `max(1, round(fraction x count_k))` of its images (all of
    /// them when it has fewer), chosen with a seeded shuffle, kept in their original order; so the subset has the
    /// classes in (nearly) the same ratio as `dataset`.
    /// - Returns: the subset and the indices of its images in `dataset`.
    /// - Throws: `AugmentationError` for an unlabelled dataset or a fraction outside (0, 1].
    public static func stratifiedSubset(_ dataset: ImageDataset, fraction: Double, seed: UInt64) throws -> (dataset: ImageDataset, indices: [Int]) {
        guard let labels = dataset.labels else { throw AugmentationError("a stratified subset needs labels") }
        guard fraction > 0, fraction <= 1 else { throw AugmentationError("the fraction must be in (0, 1], got \(fraction)") }
        var byClass: [Int: [Int]] = [:]
        for (i, y) in labels.enumerated() { byClass[y, default: []].append(i) }
        var chosen: [Int] = []
        for (k, members) in byClass {
            let take = min(members.count, max(1, Int((fraction * Double(members.count)).rounded())))
            var rng = SeededRandomNumberGenerator(seed: seed, stream: UInt64(k))
            chosen += members.seededShuffled(using: &rng).prefix(take)
        }
        chosen.sort()
        let picked = dataset.gather(chosen)
        return (try ImageDataset(images: picked.pixels, labels: picked.labels, channels: dataset.channels, height: dataset.height,
                                 width: dataset.width, classNames: dataset.classNames), chosen)
    }

    /// `counts[k]` images of each class `k` of `dataset`, drawn with replacement (seeded): the resampling control,
    /// which adds as many images as the synthetic set but only repeats real ones.
    static func resampled(_ dataset: ImageDataset, counts: [Int], seed: UInt64) throws -> ImageDataset? {
        guard let labels = dataset.labels else { return nil }
        var indices: [Int] = []
        for (k, count) in counts.enumerated() where count > 0 {
            let members = labels.indices.filter { labels[$0] == k }
            guard !members.isEmpty else { continue }
            var rng = SeededRandomNumberGenerator(seed: seed, stream: UInt64(k))
            for _ in 0..<count { indices.append(members[rng.next(below: members.count)]) }
        }
        guard !indices.isEmpty else { return nil }
        let picked = dataset.gather(indices)
        return try ImageDataset(images: picked.pixels, labels: picked.labels, channels: dataset.channels, height: dataset.height,
                                width: dataset.width)
    }

    /// The images of `a` followed by those of `b` (same image size; both labelled).
    public static func concatenate(_ a: ImageDataset, _ b: ImageDataset) throws -> ImageDataset {
        guard a.channels == b.channels, a.height == b.height, a.width == b.width else {
            throw AugmentationError("cannot combine \(a.channels)x\(a.height)x\(a.width) images with \(b.channels)x\(b.height)x\(b.width) ones")
        }
        guard let la = a.labels, let lb = b.labels else { throw AugmentationError("both image sets must have labels") }
        return try ImageDataset(images: a.pixels + b.pixels, labels: la + lb, channels: a.channels, height: a.height, width: a.width)
    }
}

// MARK: - Evaluation protocol

/// What a classifier is trained on in the augmentation evaluation.
public enum AugmentationCondition: String, Codable, CaseIterable {
    /// The real training images only.
    case realOnly = "real only"
    /// The real training images plus the synthetic set.
    case realPlusSynthetic = "real + synthetic"
    /// The synthetic set only.
    case syntheticOnly = "synthetic only"
    /// The real images plus as many real images per class as the synthetic set has, drawn again with replacement:
    /// a control that rebalances and enlarges the set without new images, to tell a gain from synthetic content from
    /// one that only comes from the changed class ratio.
    case realPlusResampled = "real + resampled real"
}

/// Makes the synthetic labelled images for one training-set size: `make(counts, seed)` returns `counts[k]` images of
/// each class `k`.
public struct SyntheticSource {
    /// Where the images come from (the checkpoint, its step and the data its generator saw), for the report.
    public var description: String
    /// Returns `counts[k]` labelled images of each class `k`, different for different seeds.
    public var make: (_ counts: [Int], _ seed: UInt64) throws -> ImageDataset

    /// Stores the values.
    public init(description: String, make: @escaping (_ counts: [Int], _ seed: UInt64) throws -> ImageDataset) {
        self.description = description
        self.make = make
    }

    /// Images from a conditional generator (see `Augmentation.generate(gan:counts:seed:batchSize:)`).
    public static func generator(_ gan: DCGAN, description: String) -> SyntheticSource {
        SyntheticSource(description: description) { counts, seed in try Augmentation.generate(gan: gan, counts: counts, seed: seed) }
    }
}

/// One size of real training set in the evaluation, with the generator that may be used with it.
public struct AugmentationTrainingSet {
    /// `full` or `10%`, say.
    public var name: String
    /// The real training images (labelled).
    public var real: ImageDataset
    /// The synthetic images to add. It should come from a generator trained on `real` only, or the synthetic images
    /// carry information the classifier would not otherwise have.
    public var synthetic: SyntheticSource

    /// Stores the values.
    public init(name: String, real: ImageDataset, synthetic: SyntheticSource) {
        self.name = name
        self.real = real
        self.synthetic = synthetic
    }
}

/// Settings of the augmentation evaluation.
public struct AugmentationEvaluationOptions: Codable, Equatable {
    /// One classifier per seed and condition; the seed sets its weights and data order and the synthetic images.
    public var seeds: [UInt64] = [1, 2, 3]
    /// Synthetic images per class (before `classCounts` redistributes them).
    public var perClass: Int = 1000
    /// How the synthetic images are split among the classes.
    public var classCounts: SyntheticClassCounts = .equal
    /// The training conditions compared.
    public var conditions: [AugmentationCondition] = [.realOnly, .realPlusSynthetic, .syntheticOnly]
    /// The classifier's architecture and optimizer (its `epochs` and `seed` are set per run; `classCount`,
    /// `imageSize` and `imageChannels` from the data).
    public var classifier: ClassifierConfiguration = {
        var c = ClassifierConfiguration()
        c.width = 16
        c.featureSize = 64
        return c
    }()
    /// About this many training steps per classifier, whatever the size of its training set (the epochs are
    /// `ceil(steps / batches per epoch)`), so that larger augmented sets do not simply get more updates.
    public var classifierSteps: Int = 500

    /// The defaults: seeds 1, 2, 3; 1000 per class, equal; real only, real + synthetic, synthetic only; width 16,
    /// 64 features; 500 steps.
    public init() {}
}

/// The results of one condition on one training-set size: the metrics per seed and their mean and deviation.
public struct AugmentationResult: Codable, Equatable {
    /// The training-set size (`full`, `10%`).
    public var trainingSet: String
    /// The condition's name.
    public var condition: AugmentationCondition
    /// Real and added (synthetic or resampled) images of each class in the classifier's training set.
    public var realClassCounts: [Int]
    public var addedClassCounts: [Int]
    /// The metrics of each seed's classifier on the real test split, in the order of `seeds`.
    public var runs: [ClassificationMetrics]
    public var seeds: [UInt64]
    /// Mean and sample standard deviation over the seeds.
    public var accuracy: MeanAndDeviation?
    public var balancedAccuracy: MeanAndDeviation?
    public var rocAUC: MeanAndDeviation?
}

/// The outcome of `AugmentationEvaluation.run`: a table of results and a plain-language conclusion computed from it.
public struct AugmentationReport: Codable, Equatable {
    /// What the real data is.
    public var dataset: String
    /// The real test split's size and class counts.
    public var testCount: Int
    public var testClassCounts: [Int]
    /// Per training-set size: its name, real class counts and the synthetic source's description.
    public var trainingSets: [[String: String]]
    public var options: AugmentationEvaluationOptions
    public var results: [AugmentationResult]
    /// One line per training-set size, then an overall line.
    public var conclusions: [String]
    /// Caveats of the protocol.
    public var notes: [String]
    /// Wall-clock seconds.
    public var seconds: Double

    /// The report as Markdown: the settings, one table, the conclusion and the notes.
    public func markdown() -> String {
        var lines = ["# Augmentation report: \(dataset)", ""]
        lines.append("Real test split: \(testCount) images, class counts \(testClassCounts). Metrics are mean ± sample standard "
                     + "deviation over \(options.seeds.count) seed(s) (\(options.seeds.map(String.init).joined(separator: ", "))).")
        lines.append("Classifier: width \(options.classifier.width), \(options.classifier.featureSize) features, about "
                     + "\(options.classifierSteps) steps of batch \(options.classifier.batchSize), learning rate \(options.classifier.learningRate). "
                     + "Synthetic images: \(options.perClass) per class, rule '\(options.classCounts.rawValue)'.")
        lines.append("")
        for set in trainingSets {
            lines.append("- training set **\(set["name"] ?? "?")**: real class counts \(set["real"] ?? "?"); generator: \(set["generator"] ?? "?")")
        }
        lines += ["", "| training set | condition | real + added per class | accuracy | balanced accuracy | ROC AUC |",
                  "|---|---|---|---|---|---|"]
        for r in results {
            let added = r.addedClassCounts.reduce(0, +) == 0 ? "" : " + \(r.addedClassCounts)"
            lines.append("| \(r.trainingSet) | \(r.condition.rawValue) | \(r.realClassCounts)\(added) | \(r.accuracy?.text ?? "–") | "
                         + "\(r.balancedAccuracy?.text ?? "–") | \(r.rocAUC?.text ?? "–") |")
        }
        lines += ["", "## Conclusion", ""] + conclusions.map { "- " + $0 }
        if !notes.isEmpty { lines += ["", "## Notes", ""] + notes.map { "- " + $0 } }
        lines.append("")
        return lines.joined(separator: "\n")
    }

    /// The report as pretty-printed JSON with sorted keys.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// The protocol: for each training-set size, condition and seed, train the same `Classifier` and measure it on the
/// real test split.
public enum AugmentationEvaluation {
    /// Trains one classifier on `train` with `template`'s architecture, `seed`, and about `steps` steps, and measures it
    /// on `test`.
    public static func trainAndMeasure(train: ImageDataset, test: ImageDataset, classCount: Int, template: ClassifierConfiguration,
                                       steps: Int, seed: UInt64) throws -> ClassificationMetrics {
        var c = template
        c.classCount = classCount
        c.imageSize = train.height
        c.imageChannels = train.channels
        c.seed = seed
        c.batchSize = max(2, min(c.batchSize, train.count))
        guard train.count >= 2 else { throw AugmentationError("a classifier needs at least 2 training images, got \(train.count)") }
        let perEpoch = train.count / c.batchSize
        c.epochs = max(1, (steps + perEpoch - 1) / perEpoch)
        let trainer = try ClassifierTrainer(configuration: c, dataset: train)
        try trainer.train()
        guard let labels = test.labels else { throw AugmentationError("the test split has no labels") }
        return try ClassificationMetrics(probabilities: Augmentation.probabilities(classifier: trainer.classifier, images: test),
                                         labels: labels, classCount: classCount)
    }

    /// Runs every condition of `options` for every training set and seed, and summarizes.
    /// - Parameters:
    ///   - dataset: a description of the real data, for the report.
    ///   - notes: caveats to print with the report (for example that a generator saw more data than its training set).
    ///   - progress: receives one line per trained classifier.
    /// - Throws: `AugmentationError` for unlabelled data, sizes that differ, or no seeds; the classifier's errors.
    public static func run(dataset: String, trainingSets: [AugmentationTrainingSet], test: ImageDataset,
                           options: AugmentationEvaluationOptions, notes: [String] = [],
                           progress: (String) -> Void = { _ in }) throws -> AugmentationReport {
        let started = Date()
        guard !options.seeds.isEmpty else { throw AugmentationError("no seeds: give at least one") }
        guard options.perClass > 0 else { throw AugmentationError("synthetic images per class must be positive") }
        guard let testLabels = test.labels else { throw AugmentationError("the test split has no labels") }
        var classCount = test.classCount ?? 0
        for set in trainingSets {
            guard set.real.labels != nil else { throw AugmentationError("the training set '\(set.name)' has no labels") }
            guard set.real.channels == test.channels, set.real.height == test.height, set.real.width == test.width else {
                throw AugmentationError("the training set '\(set.name)' has \(set.real.channels)x\(set.real.height)x\(set.real.width) images, "
                                        + "the test split \(test.channels)x\(test.height)x\(test.width)")
            }
            classCount = max(classCount, set.real.classCount ?? 0)
        }
        guard classCount >= 2 else { throw AugmentationError("the data has fewer than 2 classes") }
        var results: [AugmentationResult] = []
        var setDescriptions: [[String: String]] = []
        for set in trainingSets {
            let realCounts = Augmentation.classCounts(set.real.labels ?? [], classCount: classCount)
            let syntheticCounts = options.classCounts.counts(perClass: options.perClass, realCounts: realCounts)
            setDescriptions.append(["name": set.name, "real": "\(realCounts)", "generator": set.synthetic.description])
            var runs: [AugmentationCondition: [ClassificationMetrics]] = [:]
            var addedCounts: [AugmentationCondition: [Int]] = [:]
            for seed in options.seeds {
                let syntheticSeed = SeededRandomNumberGenerator.mix(seed, 0xA06_3E47)
                let needsSynthetic = options.conditions.contains(.realPlusSynthetic) || options.conditions.contains(.syntheticOnly)
                let synthetic = needsSynthetic ? try set.synthetic.make(syntheticCounts, syntheticSeed) : nil
                for condition in options.conditions {
                    let train: ImageDataset
                    var added = [Int](repeating: 0, count: classCount)
                    switch condition {
                    case .realOnly:
                        train = set.real
                    case .realPlusSynthetic, .syntheticOnly:
                        guard let synthetic else { continue }
                        added = Augmentation.classCounts(synthetic.labels ?? [], classCount: classCount)
                        if condition == .syntheticOnly {
                            train = synthetic
                        } else {
                            train = try Augmentation.concatenate(set.real, synthetic)
                        }
                    case .realPlusResampled:
                        guard let extra = try Augmentation.resampled(set.real, counts: syntheticCounts, seed: syntheticSeed) else {
                            train = set.real
                            break
                        }
                        added = Augmentation.classCounts(extra.labels ?? [], classCount: classCount)
                        train = try Augmentation.concatenate(set.real, extra)
                    }
                    let t0 = Date()
                    let metrics = try trainAndMeasure(train: train, test: test, classCount: classCount, template: options.classifier,
                                                      steps: options.classifierSteps, seed: seed)
                    runs[condition, default: []].append(metrics)
                    addedCounts[condition] = added
                    progress(String(format: "%@ | %@ | seed %llu | %d training images | accuracy %.3f  balanced %.3f  AUC %@  (%.0f s)",
                                    set.name, condition.rawValue, seed, train.count, metrics.accuracy, metrics.balancedAccuracy,
                                    metrics.rocAUC.map { String(format: "%.3f", $0) } ?? "–", Date().timeIntervalSince(t0)))
                }
            }
            for condition in options.conditions {
                guard let list = runs[condition] else { continue }
                results.append(AugmentationResult(
                    trainingSet: set.name, condition: condition,
                    realClassCounts: condition == .syntheticOnly ? [Int](repeating: 0, count: classCount) : realCounts,
                    addedClassCounts: addedCounts[condition] ?? [], runs: list, seeds: options.seeds,
                    accuracy: MeanAndDeviation(list.map(\.accuracy)), balancedAccuracy: MeanAndDeviation(list.map(\.balancedAccuracy)),
                    rocAUC: MeanAndDeviation(list.compactMap(\.rocAUC))))
            }
        }
        var allNotes = notes
        allNotes.append("'Beyond one standard deviation' compares the difference of the means with the larger of the two standard "
                        + "deviations; with \(options.seeds.count) seed(s) this is a rough screen, not a significance test.")
        allNotes.append("Balanced accuracy is the main measure because the classes are imbalanced; accuracy rewards predicting the "
                        + "majority class.")
        return AugmentationReport(dataset: dataset, testCount: test.count,
                                  testClassCounts: Augmentation.classCounts(testLabels, classCount: classCount),
                                  trainingSets: setDescriptions, options: options, results: results,
                                  conclusions: conclusions(results, trainingSets: trainingSets.map(\.name)), notes: allNotes,
                                  seconds: Date().timeIntervalSince(started))
    }

    /// How `b` compares with `a` on one measure: `better`, `worse`, or `same` when the means differ by no more than the
    /// larger standard deviation.
    public enum Comparison: String, Codable { case better, worse, same }

    /// Compares two summaries by the one-standard-deviation rule.
    public static func compare(_ b: MeanAndDeviation, with a: MeanAndDeviation) -> Comparison {
        let difference = b.mean - a.mean
        let spread = max(a.standardDeviation, b.standardDeviation)
        if difference > spread && difference > 0 { return .better }
        if difference < -spread && difference < 0 { return .worse }
        return .same
    }

    /// Plain-language conclusions from the numbers: per training set, real + synthetic (and the resampling control,
    /// and synthetic only) against real only on balanced accuracy and ROC AUC; then one overall line.
    public static func conclusions(_ results: [AugmentationResult], trainingSets: [String]) -> [String] {
        var lines: [String] = []
        var helped: [String] = [], notHelped: [String] = []
        for name in trainingSets {
            func find(_ c: AugmentationCondition) -> AugmentationResult? { results.first { $0.trainingSet == name && $0.condition == c } }
            guard let real = find(.realOnly), let realBA = real.balancedAccuracy else { continue }
            if let augmented = find(.realPlusSynthetic), let augBA = augmented.balancedAccuracy {
                let ba = compare(augBA, with: realBA)
                var sentence = "\(name) training set: real + synthetic balanced accuracy \(augBA.text) vs real only \(realBA.text): "
                switch ba {
                case .better: sentence += "synthetic data improved balanced accuracy by \(String(format: "%+.3f", augBA.mean - realBA.mean)), more than one standard deviation"
                case .worse: sentence += "synthetic data made balanced accuracy worse by \(String(format: "%.3f", realBA.mean - augBA.mean)), more than one standard deviation"
                case .same: sentence += "synthetic data did not change balanced accuracy beyond one standard deviation"
                }
                if let augAUC = augmented.rocAUC, let realAUC = real.rocAUC {
                    let auc = compare(augAUC, with: realAUC)
                    sentence += "; ROC AUC \(augAUC.text) vs \(realAUC.text) ("
                        + (auc == .same ? "no change beyond one standard deviation" : auc == .better ? "better" : "worse") + ")"
                    if ba == .better && auc != .better {
                        sentence += "; as ROC AUC did not improve, the balanced-accuracy gain more likely comes from a decision threshold "
                            + "moved by the added minority-class images than from better separation of the classes"
                    }
                }
                if let control = find(.realPlusResampled), let controlBA = control.balancedAccuracy {
                    let c = compare(augBA, with: controlBA)
                    sentence += "; against the resampling control (\(controlBA.text)) real + synthetic is "
                        + (c == .same ? "not different beyond one standard deviation" : c == .better ? "better" : "worse")
                    if ba == .better && c != .better { sentence += ", so the gain is explained by rebalancing, not by new image content" }
                }
                lines.append(sentence + ".")
                if ba == .better { helped.append(name) } else { notHelped.append(name) }
            }
            if let synthetic = find(.syntheticOnly), let synBA = synthetic.balancedAccuracy {
                let ratio = realBA.mean > 0 ? synBA.mean / realBA.mean : 0
                let chance = String(format: "%.3f", 1 / Double(max(synthetic.realClassCounts.count, 1)))
                lines.append("\(name) training set: a classifier trained on synthetic images only reaches balanced accuracy \(synBA.text), "
                             + String(format: "%.0f%%", ratio * 100) + " of real only (chance: \(chance))"
                             + (synthetic.rocAUC.map { "; ROC AUC \($0.text)" } ?? "") + ".")
            }
        }
        if helped.isEmpty && !notHelped.isEmpty {
            lines.append("Overall: synthetic data did not help: adding it did not improve balanced accuracy beyond one standard deviation "
                         + "on any training-set size (\(notHelped.joined(separator: ", "))).")
        } else if !helped.isEmpty {
            lines.append("Overall: synthetic data improved balanced accuracy beyond one standard deviation on: \(helped.joined(separator: ", "))"
                         + (notHelped.isEmpty ? "." : "; not on: \(notHelped.joined(separator: ", ")).")
                         + " With few seeds this is a screen, not a significance test.")
        }
        return lines
    }
}
