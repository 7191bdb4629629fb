import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels

/// `swiftgan classifier train|test`: the domain classifier whose features `swiftgan evaluate` compares.
enum ClassifierCommand {
    static let trainSpecs: [OptionSpec] = [
        OptionSpec("data", "NAME|PATH", "labelled dataset: a name (fashion-mnist, mnist), an IDX images file or folder", default: "fashion-mnist"),
        OptionSpec("out", "PATH", "where to save the classifier", default: "classifiers/<data name>.safetensors"),
        OptionSpec("image-size", "32|64", "input side; 28x28 data is padded to 32 or resized to 64 (match the GAN's)", default: "32"),
        OptionSpec("epochs", "N", "passes over the training set", default: "3"),
        OptionSpec("batch-size", "N", "images per step", default: "64"),
        OptionSpec("learning-rate", "X", "Adam's peak learning rate (half-cosine decay to 0)", default: "0.002"),
        OptionSpec("width", "N", "channels of the first convolution (doubled at each stage)", default: "32"),
        OptionSpec("feature-size", "N", "length of the penultimate-layer features the metrics use", default: "128"),
        OptionSpec("seed", "N", "seed for weights and data order", default: "1"),
        OptionSpec("log-every", "N", "print progress every N steps", default: "200"),
        OptionSpec("threads", "N", "CPU threads for the kernels", default: "all cores"),
    ]

    static let testSpecs: [OptionSpec] = [
        OptionSpec("classifier", "PATH", "a classifier saved by 'swiftgan classifier train' (required)"),
        OptionSpec("data", "NAME|PATH", "labelled dataset whose test split to classify", default: "the classifier's"),
        OptionSpec("threads", "N", "CPU threads for the kernels", default: "all cores"),
    ]

    static let help = """
    usage: swiftgan classifier <train|test> [options]

    A small convolutional classifier (LeNet-class) trained on a dataset's labels. Its penultimate-layer features are
    the feature space of 'swiftgan evaluate' (a Frechet LeNet distance, as used for MNIST, not Inception FID).

    subcommands:
      train   train on the training split, report accuracy on the test split, save
      test    report a saved classifier's accuracy on a test split

    Run 'swiftgan classifier train --help' or 'swiftgan classifier test --help' for their options.
    """

    static let trainHelp = helpText(
        command: "classifier train",
        summary: "Train the domain classifier on a dataset's labels, report its test accuracy and save it (safetensors).",
        specs: trainSpecs,
        examples: ["swiftgan classifier train                       # Fashion-MNIST, 32x32, 3 epochs",
                   "swiftgan classifier train --data mnist --out classifiers/mnist.safetensors"])

    static let testHelp = helpText(
        command: "classifier test", summary: "Measure a saved classifier's accuracy on a dataset's test split.",
        specs: testSpecs, examples: ["swiftgan classifier test --classifier classifiers/fashion-mnist.safetensors"])

    /// The default file of the classifier for `dataset`.
    static func defaultPath(forDataset dataset: String) -> String {
        "classifiers/" + URL(fileURLWithPath: dataset).deletingPathExtension().lastPathComponent + ".safetensors"
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        guard let sub = arguments.first else { print(help); return 2 }
        let rest = Array(arguments.dropFirst())
        switch sub {
        case "--help", "-h", "help": print(help); return 0
        case "train": return try train(rest)
        case "test": return try test(rest)
        default: throw UsageError("classifier: unknown subcommand '\(sub)' (subcommands: train, test)")
        }
    }

    static func loadSplit(_ spec: String, split: DatasetLocator.Split, imageSize: Int) throws -> ImageDataset {
        var resolved = spec
        var isDirectory: ObjCBool = false
        if split == .test, FileManager.default.fileExists(atPath: spec, isDirectory: &isDirectory), !isDirectory.boolValue {
            // A single file names one split; its test split is the file with "train" replaced, when that exists.
            let name = (spec as NSString).lastPathComponent
            let folder = (spec as NSString).deletingLastPathComponent
            let candidates = ["t10k", "test"].map { name.replacingOccurrences(of: "train", with: $0) }
                .filter { $0 != name }.map { (folder as NSString).appendingPathComponent($0) }
            guard let test = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
                throw UsageError("\(spec) is one file, so its test split is unknown: give the folder holding both splits "
                                 + "(files named *train*images* and *t10k*images* or *test*images*)")
            }
            resolved = test
        }
        return try ImageDataset.load(resolved, split: split, targetSize: imageSize, sizePolicy: imageSize == 32 ? .pad : .resize)
    }

    static func train(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(trainHelp); return 0 }
        let options = try ParsedArguments(arguments, specs: trainSpecs, command: "classifier train")
        var c = ClassifierConfiguration()
        c.dataset = options.string("data") ?? c.dataset
        c.imageSize = try options.int("image-size") ?? c.imageSize
        c.epochs = try options.int("epochs", range: 1...1000) ?? c.epochs
        c.batchSize = try options.int("batch-size", range: 2...65536) ?? c.batchSize
        c.learningRate = try options.float("learning-rate", positive: true) ?? c.learningRate
        c.width = try options.int("width", range: 1...1024) ?? c.width
        c.featureSize = try options.int("feature-size", range: 1...65536) ?? c.featureSize
        c.seed = try options.uint64("seed") ?? c.seed
        let logEvery = try options.int("log-every", range: 1...Int.max) ?? 200
        KernelThreads.set(try options.kernelThreads())
        if let problem = c.problem { throw UsageError(problem) }
        let out = options.string("out") ?? defaultPath(forDataset: c.dataset)

        let started = Date()
        let train = try loadSplit(c.dataset, split: .train, imageSize: c.imageSize)
        let test = try loadSplit(c.dataset, split: .test, imageSize: c.imageSize)
        guard let trainClasses = train.classCount else {
            throw DataError.invalidDataset("\(c.dataset): no label file found beside the training images; a classifier needs labels")
        }
        c.classCount = max(trainClasses, test.classCount ?? 0)
        c.imageChannels = train.channels
        print(String(format: "loaded %d training and %d test images (%dx%dx%d, %d classes) from %@ in %.1f s", train.count,
                     test.count, train.channels, train.height, train.width, c.classCount, c.dataset, Date().timeIntervalSince(started)))
        let trainer = try ClassifierTrainer(configuration: c, dataset: train)
        print("training the classifier: \(c.epochs) epochs of \(trainer.totalSteps / c.epochs) steps, batch \(c.batchSize), "
              + "\(trainer.classifier.trainableScalarCount) parameters")
        let trainStart = Date()
        try trainer.train(reportEvery: logEvery) { print($0) }
        let trainSeconds = Date().timeIntervalSince(trainStart)
        let accuracy = try trainer.classifier.accuracy(on: test)
        trainer.classifier.recordTestAccuracy(accuracy, count: test.count)
        try trainer.classifier.write(to: out)
        print(String(format: "test accuracy %.4f (%d of %d test images); trained in %@, total %@; saved %@", accuracy,
                     Int((accuracy * Double(test.count)).rounded()), test.count, TrainingSession.duration(trainSeconds),
                     TrainingSession.duration(Date().timeIntervalSince(started)), out))
        return 0
    }

    static func test(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(testHelp); return 0 }
        let options = try ParsedArguments(arguments, specs: testSpecs, command: "classifier test")
        guard let path = options.string("classifier") else { throw UsageError("classifier test: --classifier PATH is required") }
        KernelThreads.set(try options.kernelThreads())
        let classifier = try Classifier.read(path)
        let c = classifier.configuration
        let data = options.string("data") ?? c.dataset
        let test = try loadSplit(data, split: .test, imageSize: c.imageSize)
        let accuracy = try classifier.accuracy(on: test)
        print(String(format: "test accuracy %.4f on %d images of %@ (recorded at training: %@)", accuracy, test.count, data,
                     c.testAccuracy.map { String(format: "%.4f", $0) } ?? "none"))
        return 0
    }
}
