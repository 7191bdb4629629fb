import XCTest
import Foundation
@testable import SwiftGAN
import SwiftGANData
import SwiftGANNN

/// Labelled Fashion-MNIST from the shared data folder (`train` or `t10k` files), or nil when it is absent.
func sharedLabelledFashionMNIST(split: DatasetLocator.Split) throws -> ImageDataset? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let folder = root.deletingLastPathComponent().appendingPathComponent("shared/data/fashion-mnist")
    let prefix = split == .train ? "train" : "t10k"
    let images = folder.appendingPathComponent("\(prefix)-images-idx3-ubyte.gz").path
    let labels = folder.appendingPathComponent("\(prefix)-labels-idx1-ubyte.gz").path
    guard FileManager.default.fileExists(atPath: images), FileManager.default.fileExists(atPath: labels) else { return nil }
    return try ImageDataset(imagesPath: images, labelsPath: labels, targetSize: 32)
}

/// A narrow classifier trained for one epoch on 3,000 Fashion-MNIST training images, with the labelled splits;
/// trained once and shared by the tests that need one (nil when the shared data is absent).
func briefFashionMNISTClassifier() throws -> (classifier: Classifier, train: ImageDataset, test: ImageDataset)? {
    if let cached = BriefClassifierCache.value { return cached }
    guard let train = try sharedLabelledFashionMNIST(split: .train), let test = try sharedLabelledFashionMNIST(split: .test) else {
        return nil
    }
    var c = tinyClassifierConfiguration(width: 8, features: 32)
    c.batchSize = 32
    let trainer = try ClassifierTrainer(configuration: c, dataset: Evaluation.shuffledPrefix(train, 3000, seed: 1))
    try trainer.train()
    BriefClassifierCache.value = (trainer.classifier, train, test)
    return BriefClassifierCache.value
}

enum BriefClassifierCache {
    nonisolated(unsafe) static var value: (classifier: Classifier, train: ImageDataset, test: ImageDataset)?
}

func tinyClassifierConfiguration(classes: Int = 10, width: Int = 4, features: Int = 16) -> ClassifierConfiguration {
    var c = ClassifierConfiguration()
    c.classCount = classes
    c.width = width
    c.featureSize = features
    c.batchSize = 16
    c.epochs = 1
    return c
}

final class ClassifierTests: XCTestCase {
    func testCrossEntropyValues() {
        // logsumexp(1, 2, 3) - 3 = log(1 + e^-1 + e^-2).
        let small = softmaxCrossEntropy(logits: Tensor(shape: [1, 3], scalars: [1, 2, 3]), labels: [2]).scalar
        XCTAssertEqual(Double(small), log(1 + exp(-1.0) + exp(-2.0)), accuracy: 1e-6)
        // Mean over the batch; huge logits stay finite and exact (a naive exp would overflow to infinity).
        let big = softmaxCrossEntropy(logits: Tensor(shape: [2, 2], scalars: [1000, 0, -500, 500]), labels: [1, 1]).scalar
        XCTAssertEqual(big, 500, accuracy: 1e-3)
        // Uniform logits: log(C).
        let uniform = softmaxCrossEntropy(logits: Tensor.zeros([4, 10]), labels: [0, 3, 9, 5]).scalar
        XCTAssertEqual(Double(uniform), log(10.0), accuracy: 1e-6)
    }

    func testCrossEntropyGradientsMatchFiniteDifferences() throws {
        var rng = SplitMix64(seed: 5)
        let logits = Tensor.randomNormal(shape: [5, 7], standardDeviation: 2, using: &rng)
        let labels = [0, 6, 3, 3, 1]
        // First and second order (the second through the recorded backward pass).
        try GradientCheck(step: 1e-2, tolerance: 1e-2).check(order: 2, at: [logits]) { xs in
            softmaxCrossEntropy(logits: xs[0], labels: labels)
        }
        // Large, shifted logits: the stabilizing shift must not change the gradient.
        let shifted = logits * 3 + 80
        try GradientCheck(step: 1e-2, tolerance: 1e-2).check(order: 1, at: [shifted]) { xs in
            softmaxCrossEntropy(logits: xs[0], labels: labels)
        }
        // The gradient is (softmax - one-hot) / N: each row sums to zero.
        let x = logits.requiringGradient()
        let g = gradient(of: softmaxCrossEntropy(logits: x, labels: labels), wrt: [x])[0].scalars
        for i in 0..<5 { XCTAssertEqual(g[(i * 7)..<(i * 7 + 7)].reduce(0, +), 0, accuracy: 1e-6) }
        XCTAssertLessThan(g[0], 0)
    }

    func testArchitectureShapesAndNames() {
        let classifier = Classifier(configuration: tinyClassifierConfiguration())
        var rng = SplitMix64(seed: 1)
        let images = Tensor.randomUniform(shape: [3, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &rng)
        XCTAssertEqual(classifier(images).shape, [3, 10])
        XCTAssertEqual(classifier.features(images).shape, [3, 16])
        XCTAssertEqual(classifier.blocks.count, 2)
        XCTAssertEqual(classifier.blocks.map { $0.conv.weight.value.shape[0] }, [4, 8])
        let names = classifier.namedParameters().map(\.name)
        XCTAssertEqual(names.first, "blocks.0.conv.weight")
        XCTAssertTrue(names.contains("hiddenNorm.runningVariance"))
        XCTAssertTrue(names.contains("output.bias"))
        var c = tinyClassifierConfiguration()
        c.imageSize = 64
        c.imageChannels = 3
        let big = Classifier(configuration: c)
        XCTAssertEqual(big.blocks.count, 3)
        XCTAssertEqual(big(Tensor.zeros([2, 3, 64, 64])).shape, [2, 10])
        // Features are post-ReLU and, in evaluation mode, each image's depends only on that image.
        let all = classifier.extractFeatures(images.scalars, count: 3, batchSize: 3)
        let one = classifier.extractFeatures(Array(images.scalars[1024..<2048]), count: 1)
        XCTAssertTrue(all.allSatisfy { $0 >= 0 })
        // Equal up to rounding: oneDNN may pick a different kernel (another summation order) for another batch size.
        XCTAssertEqual(one.count, 16)
        for (batched, alone) in zip(all[16..<32], one) {
            XCTAssertEqual(batched, alone, accuracy: 1e-5 * max(1, abs(alone)))
        }
        XCTAssertEqual(ClassifierConfiguration().featureNetworkName, "swiftgan_lenet_fashion-mnist")
        var named = ClassifierConfiguration()
        named.dataset = "/data/My Set/train-images-idx3-ubyte.gz"
        XCTAssertEqual(named.featureNetworkName, "swiftgan_lenet_train-images-idx3-ubyte-gz")
    }

    /// Two classes told apart by which half of the image is bright, with noise.
    func halvesDataset(count: Int, seed: UInt64) throws -> ImageDataset {
        var rng = SplitMix64(seed: seed)
        var pixels: [Float] = [], labels: [Int] = []
        for i in 0..<count {
            let label = i % 2
            for _ in 0..<32 {
                for x in 0..<32 {
                    let bright = (x < 16) == (label == 0)
                    pixels.append((bright ? 0.5 : -0.5) + Float.random(in: -0.8...0.8, using: &rng))
                }
            }
            labels.append(label)
        }
        return try ImageDataset(images: pixels, labels: labels, channels: 1, height: 32, width: 32)
    }

    func testTrainingLearnsASeparableTask() throws {
        let train = try halvesDataset(count: 256, seed: 1), test = try halvesDataset(count: 100, seed: 2)
        var c = tinyClassifierConfiguration(classes: 2)
        c.epochs = 2
        let trainer = try ClassifierTrainer(configuration: c, dataset: train)
        XCTAssertEqual(trainer.totalSteps, 32)
        XCTAssertEqual(trainer.learningRate(atStep: 0), c.learningRate)
        XCTAssertEqual(trainer.learningRate(atStep: 16), c.learningRate / 2, accuracy: 1e-7)
        let before = try trainer.classifier.accuracy(on: test)
        var lines: [String] = []
        try trainer.train(reportEvery: 8) { lines.append($0) }
        XCTAssertEqual(lines.count, 4)
        XCTAssertTrue(lines.last?.hasPrefix("step 32/32 (epoch 2)") ?? false, "\(lines)")
        let after = try trainer.classifier.accuracy(on: test)
        XCTAssertGreaterThan(after, 0.95, "accuracy \(before) before training")
        XCTAssertEqual(trainer.classifier.predict(test.pixels, count: test.count).count, 100)
    }

    func testSaveAndLoadGiveTheSameOutputs() throws {
        let dir = temporaryDirectory("classifier")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try halvesDataset(count: 64, seed: 3)
        let trainer = try ClassifierTrainer(configuration: tinyClassifierConfiguration(classes: 2), dataset: train)
        try trainer.train()
        trainer.classifier.recordTestAccuracy(0.875, count: 64)
        let path = dir + "/sub/c.safetensors"
        try trainer.classifier.write(to: path)
        let loaded = try Classifier.read(path)
        XCTAssertEqual(loaded.configuration, trainer.classifier.configuration)
        XCTAssertEqual(loaded.configuration.testAccuracy, 0.875)
        XCTAssertEqual(loaded.extractFeatures(train.pixels, count: 64), trainer.classifier.extractFeatures(train.pixels, count: 64))
        let raw = try SafeTensorsFile.read(path)
        XCTAssertEqual(raw.metadata["format"], "swiftgan-classifier")
        XCTAssertTrue(raw.metadata["configuration"]?.contains("\"testAccuracy\":0.875") ?? false)
        XCTAssertNotNil(raw.tensors["blocks.1.norm.runningMean"])

        // A DCGAN checkpoint is not a classifier; a missing file is named.
        let dcgan = dir + "/gan.safetensors"
        try Checkpoint(gan: DCGAN(configuration: smallConfiguration()), step: 1).write(to: dcgan)
        XCTAssertThrowsError(try Classifier.read(dcgan)) {
            XCTAssertTrue("\($0)".hasPrefix("\(dcgan): unsupported: not a SwiftGAN classifier (metadata format is 'swiftgan-dcgan'"), "\($0)")
        }
        XCTAssertThrowsError(try Classifier.read(dir + "/none.safetensors")) { XCTAssertTrue("\($0)".contains("none.safetensors"), "\($0)") }
        // Weights that do not fit the configuration.
        var file = raw
        file.tensors["output.bias"] = NamedArray(shape: [3], values: [0, 0, 0])
        try file.write(to: dir + "/bad.safetensors")
        XCTAssertThrowsError(try Classifier.read(dir + "/bad.safetensors")) {
            XCTAssertTrue("\($0)".contains("bad.safetensors: malformed: the weights do not fit the model: output.bias has shape [3]"), "\($0)")
        }
    }

    func testUnlabelledOrMismatchedDataIsRefused() throws {
        let unlabelled = try ImageDataset(images: [Float](repeating: 0, count: 4 * 1024), labels: nil, channels: 1, height: 32, width: 32)
        XCTAssertThrowsError(try ClassifierTrainer(configuration: tinyClassifierConfiguration(), dataset: unlabelled)) {
            XCTAssertTrue("\($0)".contains("no labels"), "\($0)")
        }
        let tooManyClasses = try ImageDataset(images: [Float](repeating: 0, count: 4 * 1024), labels: [0, 1, 2, 11], channels: 1,
                                              height: 32, width: 32)
        XCTAssertThrowsError(try ClassifierTrainer(configuration: tinyClassifierConfiguration(), dataset: tooManyClasses)) {
            XCTAssertTrue("\($0)".contains("label 11 is outside the 10 classes"), "\($0)")
        }
        let small = try ImageDataset(images: [Float](repeating: 0, count: 4 * 256), labels: [0, 1, 0, 1], channels: 1, height: 16, width: 16)
        XCTAssertThrowsError(try ClassifierTrainer(configuration: tinyClassifierConfiguration(), dataset: small)) {
            XCTAssertTrue("\($0)".contains("1x16x16 images but the classifier takes 1x32x32"), "\($0)")
        }
    }

    func testLearnsFashionMNIST() throws {
        guard let trained = try briefFashionMNISTClassifier() else {
            throw XCTSkip("Fashion-MNIST is not in ../shared/data/fashion-mnist; skipping the real-data classifier test")
        }
        // A narrow network on 3,000 images for one epoch (debug builds are slow): far above chance (10%). The full
        // network on all 60,000 images reaches about 92% (`swiftgan classifier train`).
        let accuracy = try trained.classifier.accuracy(on: Evaluation.shuffledPrefix(trained.test, 2000, seed: 2))
        print("brief Fashion-MNIST classifier: test accuracy \(accuracy)")
        XCTAssertGreaterThan(accuracy, 0.7)
    }
}
