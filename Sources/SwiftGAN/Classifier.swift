import Foundation
import SwiftGANData
import SwiftGANNN

/// Softmax cross-entropy between `logits` `[N, C]` and integer class `labels` (N values in `0..<C`), averaged over
/// the batch: `mean_n (logsumexp(z_n) - z_n[y_n])`.
///
/// The log-sum-exp subtracts each row's maximum first (taken from the values, outside the graph: the result does
/// not depend on the shift, so its gradient is unchanged), so logits of any size give a finite, accurate loss.
/// Differentiable to any order.
public func softmaxCrossEntropy(logits: Tensor, labels: [Int]) -> Tensor {
    precondition(logits.rank == 2, "softmaxCrossEntropy: logits must be [batch, classes], got shape \(logits.shape)")
    let n = logits.shape[0], c = logits.shape[1]
    precondition(labels.count == n, "softmaxCrossEntropy: \(labels.count) labels for \(n) rows of logits")
    precondition(labels.allSatisfy { (0..<c).contains($0) }, "softmaxCrossEntropy: a label is outside 0..<\(c)")
    let values = logits.scalars
    var rowMaxima = [Float](repeating: 0, count: n)
    var oneHot = [Float](repeating: 0, count: n * c)
    for i in 0..<n {
        rowMaxima[i] = values[(i * c)..<((i + 1) * c)].max() ?? 0
        oneHot[i * c + labels[i]] = 1
    }
    let shifted = logits - Tensor(shape: [n, 1], scalars: rowMaxima)
    let logSumExp = shifted.exp().sum(alongAxes: [1], keepingDimensions: true).log()
    let logProbabilities = shifted - logSumExp
    return -(logProbabilities * Tensor(shape: [n, c], scalars: oneHot)).sum() / Float(max(n, 1))
}

/// The column of the largest value in row `row` of a row-major matrix `width` wide (the first one on ties).
func argmax(_ values: [Float], row: Int, width: Int) -> Int {
    var best = 0
    for j in 1..<max(width, 1) where values[row * width + j] > values[row * width + best] { best = j }
    return best
}

/// How a domain classifier is built and was trained. Saved in the classifier file's metadata.
public struct ClassifierConfiguration: Codable, Equatable {
    /// The dataset it was trained on (a name such as `fashion-mnist`, or a path).
    public var dataset: String = "fashion-mnist"
    /// Input side length in pixels (32 or 64).
    public var imageSize: Int = 32
    /// 1 (grayscale) or 3 (RGB).
    public var imageChannels: Int = 1
    /// The number of classes.
    public var classCount: Int = 10
    /// Channels of the first convolution; each later stage doubles them.
    public var width: Int = 32
    /// Length of the penultimate-layer feature vector used by the sample-quality metrics.
    public var featureSize: Int = 128
    /// Passes over the training set.
    public var epochs: Int = 3
    /// Images per training step.
    public var batchSize: Int = 64
    /// Adam's peak learning rate; it follows a half cosine down to zero over training.
    public var learningRate: Float = 2e-3
    /// Seed for the weights and the order of the data.
    public var seed: UInt64 = 1
    /// The fraction of the test split classified correctly after training, or nil before.
    public var testAccuracy: Double?
    /// The number of test images that accuracy was measured on.
    public var testCount: Int?

    /// The defaults: Fashion-MNIST, 32x32 grayscale, 10 classes, width 32, 128 features, 3 epochs.
    public init() {}

    /// Number of stride-2 stages from the input size down to 8x8.
    public var downsamplingStages: Int { max(1, Int(log2(Double(imageSize))) - 3) }

    /// Why this configuration cannot be built, or nil.
    public var problem: String? {
        if ![32, 64].contains(imageSize) { return "image size must be 32 or 64, got \(imageSize)" }
        if ![1, 3].contains(imageChannels) { return "image channels must be 1 or 3, got \(imageChannels)" }
        if classCount < 2 { return "a classifier needs at least 2 classes, got \(classCount)" }
        if width < 1 || featureSize < 1 { return "width and feature size must be positive" }
        if epochs < 1 { return "epochs must be at least 1, got \(epochs)" }
        if batchSize < 2 { return "batch size must be at least 2 (batch normalization needs two samples), got \(batchSize)" }
        if !(learningRate > 0) || !learningRate.isFinite { return "learning rate must be positive, got \(learningRate)" }
        return nil
    }

    /// The name of the feature network in metric names: `swiftgan_lenet_<dataset>`, the dataset reduced to lower-case
    /// letters, digits and dashes (`swiftgan_lenet_fashion-mnist`).
    public var featureNetworkName: String {
        let base = URL(fileURLWithPath: dataset).lastPathComponent.lowercased()
        var name = ""
        for scalar in base.unicodeScalars {
            let ok = ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
            name.append(ok ? Character(scalar) : "-")
        }
        while name.contains("--") { name = name.replacingOccurrences(of: "--", with: "-") }
        name = name.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        return "swiftgan_lenet_" + (name.isEmpty ? "data" : name)
    }

    /// The configuration as JSON with sorted keys (stored in the classifier file's metadata).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(self), let text = String(data: data, encoding: .utf8) else { return "{}" }
        return text
    }

    /// Decodes `jsonString()`'s output.
    public static func fromJSON(_ text: String) throws -> ClassifierConfiguration {
        try JSONDecoder().decode(ClassifierConfiguration.self, from: Data(text.utf8))
    }
}

/// Convolution, batch normalization, ReLU.
public final class ClassifierBlock: Layer {
    /// The convolution (no bias: batch normalization follows).
    public let conv: Convolution
    /// Batch normalization of its output.
    public let norm: BatchNorm

    init<G: RandomNumberGenerator>(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int,
                                   using rng: inout G) {
        conv = Convolution(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize, stride: stride,
                           padding: padding, bias: false, using: &rng)
        norm = BatchNorm(featureCount: outputChannels, using: &rng)
    }

    /// `relu(norm(conv(input)))`.
    public func callAsFunction(_ input: Tensor) -> Tensor { norm.normalizedThenReLU(conv(input)) }
}

/// A LeNet-class convolutional classifier (LeCun et al. 1998, with batch normalization and strided convolutions in
/// place of pooling), trained by SwiftGAN on a dataset's labels so that its penultimate layer can serve as the
/// feature space of sample-quality metrics, as the Frechet LeNet distance does for MNIST. It is not Inception:
/// distances in its feature space are not comparable with published FID values.
///
/// Layers: 4x4 stride-2 convolutions (`width`, then twice as many channels at each stage) down to 8x8, each with
/// batch normalization and ReLU; a fully connected layer to `featureSize` with batch normalization and ReLU (the
/// features); a fully connected layer to the class logits.
public final class Classifier: Layer {
    /// The stride-2 convolution stages, from the input down to 8x8.
    public let blocks: [ClassifierBlock]
    /// The fully connected layer to the features, and its batch normalization.
    public let hidden: Linear
    public let hiddenNorm: BatchNorm
    /// The fully connected layer from the features to the class logits.
    public let output: Linear
    /// How it is built, and its recorded test accuracy.
    public private(set) var configuration: ClassifierConfiguration

    /// A classifier with fresh weights drawn with `configuration.seed`.
    public init(configuration c: ClassifierConfiguration) {
        var rng = SplitMix64(seed: c.seed)
        var channels = c.imageChannels
        var blocks: [ClassifierBlock] = []
        for stage in 0..<c.downsamplingStages {
            let next = c.width << stage
            blocks.append(ClassifierBlock(inputChannels: channels, outputChannels: next, kernelSize: 4, stride: 2, padding: 1,
                                          using: &rng))
            channels = next
        }
        self.blocks = blocks
        let side = c.imageSize >> c.downsamplingStages
        hidden = Linear(inputSize: channels * side * side, outputSize: c.featureSize, bias: false, using: &rng)
        hiddenNorm = BatchNorm(featureCount: c.featureSize, using: &rng)
        output = Linear(inputSize: c.featureSize, outputSize: c.classCount, using: &rng)
        configuration = c
    }

    /// The penultimate-layer activations `[N, featureSize]` (what the metrics compare).
    public func features(_ images: Tensor) -> Tensor {
        let maps = blocks.reduce(images) { $1($0) }
        return hiddenNorm(hidden(maps.flattenedBatch())).relu()
    }

    /// Class logits `[N, classCount]`.
    public func callAsFunction(_ images: Tensor) -> Tensor { output(features(images)) }

    /// Features of `images` (`count x C x H x W` values) in evaluation mode, in batches, without recording
    /// gradients: `count * featureSize` values, row-major.
    public func extractFeatures(_ images: [Float], count: Int, batchSize: Int = 256) -> [Float] {
        var result: [Float] = []
        result.reserveCapacity(count * configuration.featureSize)
        forEachBatch(images, count: count, batchSize: batchSize, caller: "extractFeatures") { batch in
            result.append(contentsOf: features(batch).scalars)
        }
        return result
    }

    /// The predicted class of each image (`count x C x H x W` values), in evaluation mode.
    public func predict(_ images: [Float], count: Int, batchSize: Int = 256) -> [Int] {
        var result: [Int] = []
        let classes = configuration.classCount
        forEachBatch(images, count: count, batchSize: batchSize, caller: "predict") { batch in
            let logits = self(batch).scalars
            for i in 0..<batch.shape[0] { result.append(argmax(logits, row: i, width: classes)) }
        }
        return result
    }

    /// Runs `body` on consecutive batches of `images` in evaluation mode without recording gradients.
    private func forEachBatch(_ images: [Float], count: Int, batchSize: Int, caller: String, _ body: (Tensor) -> Void) {
        let c = configuration
        let size = c.imageChannels * c.imageSize * c.imageSize
        precondition(images.count == count * size, "\(caller): \(images.count) values are not \(count) images of \(size)")
        setTraining(false)
        defer { setTraining(true) }
        GradientRecording.withoutRecording {
            var start = 0
            while start < count {
                let end = min(count, start + batchSize)
                body(Tensor(shape: [end - start, c.imageChannels, c.imageSize, c.imageSize],
                            scalars: Array(images[(start * size)..<(end * size)])))
                start = end
            }
        }
    }

    /// The fraction of `dataset`'s images whose predicted class is their label.
    /// - Throws: `DataError.invalidDataset` when the dataset has no labels or images of another shape.
    public func accuracy(on dataset: ImageDataset) throws -> Double {
        try checkCompatible(dataset)
        guard let labels = dataset.labels else { throw DataError.invalidDataset("the dataset has no labels to measure accuracy on") }
        let predictions = predict(dataset.pixels, count: dataset.count)
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(max(dataset.count, 1))
    }

    /// - Throws: `DataError.invalidDataset` when `dataset`'s images are not the size this classifier takes.
    public func checkCompatible(_ dataset: ImageDataset) throws {
        let c = configuration
        guard dataset.channels == c.imageChannels, dataset.height == c.imageSize, dataset.width == c.imageSize else {
            throw DataError.invalidDataset(
                "the dataset has \(dataset.channels)x\(dataset.height)x\(dataset.width) images but the classifier takes \(c.imageChannels)x\(c.imageSize)x\(c.imageSize)")
        }
    }

    // MARK: Saving

    /// The value of the `format` metadata entry of a saved classifier.
    public static let format = "swiftgan-classifier"
    /// The value of the `format_version` metadata entry.
    public static let formatVersion = "1"

    /// Writes the weights (tensor names are the dotted module paths) and, in the metadata, the format and the
    /// configuration (with the test accuracy), atomically.
    public func write(to path: String) throws {
        var file = SafeTensorsFile()
        for (name, t) in stateDictionary() { file.tensors[name] = NamedArray(shape: t.shape, values: t.scalars) }
        file.metadata = ["format": Classifier.format, "format_version": Classifier.formatVersion,
                         "configuration": configuration.jsonString()]
        try file.write(to: path)
    }

    /// Reads a classifier written by `write(to:)`.
    /// - Throws: `DataError` naming the file when it is missing, damaged, or not a SwiftGAN classifier.
    public static func read(_ path: String) throws -> Classifier {
        let file = try SafeTensorsFile.read(path)
        guard file.metadata["format"] == format else {
            throw DataError.unsupported(path: path, reason: "not a SwiftGAN classifier (metadata format is \(file.metadata["format"].map { "'\($0)'" } ?? "missing"); train one with 'swiftgan classifier train')")
        }
        guard let json = file.metadata["configuration"], let configuration = try? ClassifierConfiguration.fromJSON(json) else {
            throw DataError.malformed(path: path, reason: "the configuration in the metadata is missing or unreadable")
        }
        if let problem = configuration.problem { throw DataError.malformed(path: path, reason: "configuration: \(problem)") }
        let classifier = Classifier(configuration: configuration)
        var tensors: [String: Tensor] = [:]
        for (name, array) in file.tensors { tensors[name] = Tensor(shape: array.shape, scalars: array.values) }
        do {
            try classifier.load(stateDictionary: tensors)
        } catch let error as ModuleError {
            throw DataError.malformed(path: path, reason: error.description)
        }
        return classifier
    }

    /// Records the test accuracy measured after training, so that it is saved with the weights.
    public func recordTestAccuracy(_ accuracy: Double, count: Int) {
        configuration.testAccuracy = accuracy
        configuration.testCount = count
    }
}

/// Trains a `Classifier` with Adam on softmax cross-entropy, the learning rate following a half cosine from its
/// peak to zero (Loshchilov and Hutter 2017) over all steps.
public final class ClassifierTrainer {
    /// The model being trained.
    public let classifier: Classifier
    /// Adam (beta1 0.9, beta2 0.999) over the classifier's trainable parameters.
    public let optimizer: Adam
    /// The labelled training images.
    public let dataset: ImageDataset
    /// Steps completed.
    public private(set) var step = 0
    /// The total number of steps (`epochs * (count / batchSize)`).
    public let totalSteps: Int
    let labels: [Int]
    let stepsPerEpoch: Int

    /// - Throws: `DataError.invalidDataset` when the dataset has no labels, labels outside the class count, images of
    ///   another size, or too few images for one batch; `DataError.invalidDataset` for an impossible configuration.
    public init(configuration: ClassifierConfiguration, dataset: ImageDataset) throws {
        if let problem = configuration.problem { throw DataError.invalidDataset("classifier: \(problem)") }
        guard let labels = dataset.labels else {
            throw DataError.invalidDataset("the dataset has no labels; a classifier needs the label file beside the images")
        }
        if let bad = labels.first(where: { !(0..<configuration.classCount).contains($0) }) {
            throw DataError.invalidDataset("label \(bad) is outside the \(configuration.classCount) classes")
        }
        classifier = Classifier(configuration: configuration)
        try classifier.checkCompatible(dataset)
        stepsPerEpoch = try dataset.batchesPerEpoch(size: configuration.batchSize)
        totalSteps = stepsPerEpoch * configuration.epochs
        optimizer = Adam(parameters: classifier.namedTrainableParameters(), learningRate: configuration.learningRate,
                         beta1: 0.9, beta2: 0.999)
        self.dataset = dataset
        self.labels = labels
    }

    /// The learning rate of step `step` (0-based).
    public func learningRate(atStep step: Int) -> Float {
        let peak = Double(classifier.configuration.learningRate)
        return Float(peak * 0.5 * (1 + cos(Double.pi * Double(step) / Double(max(totalSteps, 1)))))
    }

    /// Runs one step and returns the batch's loss and accuracy.
    /// - Throws: `NonFiniteLossError` when the loss is not finite (nothing is updated then).
    @discardableResult
    public func trainStep() throws -> (loss: Float, accuracy: Float) {
        let c = classifier.configuration
        let epoch = step / stepsPerEpoch, index = step % stepsPerEpoch
        // The shuffle of one epoch, cut into batches; the same on every run with the same seed.
        let order = SeededShuffle.permutation(count: dataset.count, seed: c.seed, epoch: epoch)
        let indices = Array(order[(index * c.batchSize)..<((index + 1) * c.batchSize)])
        let batch = dataset.gather(indices)
        let images = Tensor(shape: [indices.count, dataset.channels, dataset.height, dataset.width], scalars: batch.pixels)
        let batchLabels = indices.map { labels[$0] }
        let logits = classifier(images)
        let loss = softmaxCrossEntropy(logits: logits, labels: batchLabels)
        guard loss.scalar.isFinite else { throw NonFiniteLossError(term: "classifier loss", step: step, value: loss.scalar) }
        optimizer.learningRate = learningRate(atStep: step)
        optimizer.update(gradients: gradient(of: loss, wrt: optimizer.parameters.map { $0.parameter.value }))
        let values = logits.scalars
        var correct = 0
        for (i, label) in batchLabels.enumerated() where argmax(values, row: i, width: c.classCount) == label { correct += 1 }
        step += 1
        return (loss.scalar, Float(correct) / Float(indices.count))
    }

    /// Trains for all steps, calling `progress` every `reportEvery` steps with a readable line.
    public func train(reportEvery: Int = 100, progress: (String) -> Void = { _ in }) throws {
        let start = Date()
        var lossSum: Float = 0, accuracySum: Float = 0, count = 0
        while step < totalSteps {
            let (loss, accuracy) = try trainStep()
            lossSum += loss
            accuracySum += accuracy
            count += 1
            if step % reportEvery == 0 || step == totalSteps {
                let elapsed = Date().timeIntervalSince(start)
                let rate = Double(step * classifier.configuration.batchSize) / max(elapsed, 1e-9)
                progress(String(format: "step %d/%d (epoch %d)  %.0f img/s  loss %.4f  train accuracy %.3f",
                                step, totalSteps, (step - 1) / stepsPerEpoch + 1, rate, lossSum / Float(count),
                                accuracySum / Float(count)))
                lossSum = 0; accuracySum = 0; count = 0
            }
        }
    }
}
