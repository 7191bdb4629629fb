import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels

/// `swiftgan augment`: synthetic labelled images from a class-conditional GAN, and the measurement of whether they
/// help a classifier.
enum AugmentCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("data", "PATH|NAME", "labelled real training images: an IDX images file (labels found beside it by name), a folder or a dataset name",
                   default: "the checkpoint's dataset"),
        OptionSpec("labels", "PATH", "the IDX labels file of --data, when it is not found by name"),
        OptionSpec("test-data", "PATH", "labelled real test images for --evaluate", default: "--data with 'train' replaced by 'test' in the file name"),
        OptionSpec("checkpoint", "PATH", "a conditional checkpoint from 'swiftgan train --conditional' (or give --steps)"),
        OptionSpec("steps", "N", "instead of --checkpoint: train a conditional GAN for N steps in OUT/gan (resumed if it is there)"),
        OptionSpec("per-class", "N", "synthetic images per class", default: "1000"),
        OptionSpec("class-counts", "equal|match-real", "equal: N for every class; match-real: N x classes in all, in the real class ratio", default: "equal"),
        OptionSpec("out", "DIR", "output folder (required)"),
        OptionSpec("format", "png|idx", "png: images/class-K/*.png with labels.csv; idx: an IDX images/labels pair", default: "png"),
        OptionSpec("seed", "N", "seed of the latent vectors of the written images", default: "0"),
        OptionSpec("consistency-classifier", "PATH", "a classifier from 'swiftgan classifier train': report how many written images it assigns to their class"),
        OptionSpec("evaluate", nil, "train a classifier on real only, real + synthetic and synthetic only, several seeds, and report test metrics"),
        OptionSpec("seeds", "N", "with --evaluate: seeds 1..N per condition", default: "3"),
        OptionSpec("fraction", "X", "with --evaluate: also a stratified subset of this fraction of the real training set (1: full set only)", default: "0.1"),
        OptionSpec("subset-seed", "N", "seed of the stratified subset", default: "1"),
        OptionSpec("reduced-checkpoint", "PATH", "with --evaluate and --checkpoint: a generator trained on the subset only"),
        OptionSpec("reduced-steps", "N", "with --evaluate and --steps: steps of the GAN trained on the subset (OUT/gan-reduced)", default: "--steps"),
        OptionSpec("control", nil, "with --evaluate: also real + resampled real (as many extra real images per class as synthetic ones)"),
        OptionSpec("classifier-steps", "N", "with --evaluate: training steps per classifier, whatever its training set's size", default: "500"),
        OptionSpec("classifier-width", "N", "with --evaluate: the classifier's first-layer channels", default: "16"),
        OptionSpec("classifier-batch-size", "N", "with --evaluate: the classifier's batch size", default: "64"),
        OptionSpec("image-size", "32|64", "with --steps: image side (28x28 data is padded to 32 or resized to 64)", default: "32"),
        OptionSpec("width", "N", "with --steps: channel width of both networks", default: "32"),
        OptionSpec("batch-size", "N", "with --steps: GAN batch size (capped by the number of images)", default: "64"),
        OptionSpec("learning-rate", "X", "with --steps: Adam learning rate", default: "0.0002"),
        OptionSpec("loss", "non-saturating|hinge", "with --steps: adversarial loss", default: "non-saturating"),
        OptionSpec("spectral-norm", nil, "with --steps: spectral normalization in the discriminator"),
        OptionSpec("gan-seed", "N", "with --steps: seed of the GAN's weights, noise and data order", default: "1"),
        OptionSpec("generator-average", "DECAY", "with --steps: keep a moving average of the generator's weights and draw the synthetic images from it", default: "none"),
        OptionSpec("threads", "N", "CPU threads for the kernels", default: "all cores"),
    ]

    static let help = helpText(
        command: "augment",
        summary: """
        Write synthetic labelled images from a class-conditional GAN (each marked synthetic: labels.csv has synthetic=true and
        metadata.json gives the checkpoint, step and seed), per-class sample grids beside grids of real images, and with
        --evaluate a report (OUT/report.md, OUT/report.json) of whether they help a classifier on the real test split:
        accuracy, balanced accuracy and ROC AUC, mean ± standard deviation over seeds, on the full and a reduced training set.
        """,
        specs: specs,
        examples: ["swiftgan augment --checkpoint runs/fashion-conditional/checkpoint.safetensors --per-class 100 --out synthetic/fashion \\",
                   "    --consistency-classifier classifiers/fashion-mnist.safetensors",
                   "swiftgan augment --data medmnist/idx/pneumoniamnist-train-images-idx3-ubyte.gz --steps 2000 --per-class 1000 \\",
                   "    --out runs/pneumonia-augment --evaluate --seeds 3 --fraction 0.1"])

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(help); return 0 }
        let options = try ParsedArguments(arguments, specs: specs, command: "augment")
        guard let out = options.string("out") else { throw UsageError("augment: --out DIR is required") }
        let hasCheckpoint = options.has("checkpoint"), hasSteps = options.has("steps")
        guard hasCheckpoint != hasSteps else {
            throw UsageError("augment: give either --checkpoint PATH (a trained conditional GAN) or --steps N (train one here)")
        }
        let perClass = try options.int("per-class", range: 1...1_000_000) ?? 1000
        let rule = try options.string("class-counts").map { text -> SyntheticClassCounts in
            guard let r = SyntheticClassCounts(rawValue: text) else { throw UsageError("--class-counts: '\(text)' is not one of equal, match-real") }
            return r
        } ?? .equal
        let format = try options.string("format").map { text -> SyntheticFormat in
            guard let f = SyntheticFormat(rawValue: text) else { throw UsageError("--format: '\(text)' is not one of png, idx") }
            return f
        } ?? .png
        let seed = try options.uint64("seed") ?? 0
        let evaluate = options.has("evaluate")
        for name in ["seeds", "fraction", "subset-seed", "reduced-checkpoint", "reduced-steps", "control", "classifier-steps",
                     "classifier-width", "classifier-batch-size", "test-data"] where options.has(name) && !evaluate {
            throw UsageError("--\(name) applies only with --evaluate")
        }
        for name in ["image-size", "width", "batch-size", "learning-rate", "loss", "spectral-norm", "gan-seed", "reduced-steps",
                     "generator-average"]
            where options.has(name) && !hasSteps {
            throw UsageError("--\(name) applies only with --steps (a checkpoint brings its own configuration)")
        }
        if options.has("reduced-checkpoint") && !hasCheckpoint { throw UsageError("--reduced-checkpoint applies only with --checkpoint") }
        let seedCount = try options.int("seeds", range: 1...100) ?? 3
        let fraction = try options.float("fraction", positive: true).map(Double.init) ?? 0.1
        guard fraction <= 1 else { throw UsageError("--fraction: \(fraction) is above 1") }
        KernelThreads.set(try options.kernelThreads())

        // The generator's configuration, from the checkpoint or from the options.
        var checkpoint: Checkpoint?
        if let path = options.string("checkpoint") {
            let read = try Checkpoint.read(path)
            // Checked before any data is loaded, so the message is about the checkpoint the user gave.
            guard read.configuration.spatialRank == 2, read.configuration.classCount != nil else {
                let kind = (read.configuration.classCount == nil ? "an unconditional " : "a conditional ")
                    + (read.configuration.spatialRank == 3 ? "volumetric (3D) GAN" : "GAN")
                throw UsageError("--checkpoint: augment needs a class-conditional image GAN (train with --conditional); \(path) is \(kind)")
            }
            checkpoint = read
        }
        let imageSize = try checkpoint?.configuration.imageSize ?? (options.int("image-size") ?? 32)
        guard [32, 64].contains(imageSize) else { throw UsageError("--image-size: must be 32 or 64, got \(imageSize)") }
        guard let dataSpec = options.string("data") ?? checkpoint?.configuration.dataset else {
            throw UsageError("augment: --data PATH is required with --steps")
        }

        let train = try loadLabelled(dataSpec, labels: options.string("labels"), split: .train, imageSize: imageSize, option: "--data")
        guard let classCount = train.classCount, classCount >= 2 else { throw UsageError("--data: \(dataSpec) has fewer than 2 classes") }
        let realCounts = Augmentation.classCounts(train.labels ?? [], classCount: classCount)
        print("real training images: \(train.count) (\(train.channels)x\(train.height)x\(train.width)), class counts \(realCounts)")

        let gan: DCGAN, checkpointPath: String, step: Int
        if let checkpoint, let path = options.string("checkpoint") {
            gan = try checkpoint.makeGAN(path: path)
            try checkCompatible(gan, path: path, data: train, classCount: classCount)
            checkpointPath = path
            step = checkpoint.step
        } else {
            let c = try ganConfiguration(options, dataset: dataSpec, channels: train.channels, imageSize: imageSize, classCount: classCount)
            let steps = try options.int("steps", range: 1...100_000_000) ?? 1
            (gan, checkpointPath, step) = try trainGAN(c, dataset: train, directory: out + "/gan", steps: steps)
        }

        // The synthetic set.
        let counts = rule.counts(perClass: perClass, realCounts: realCounts)
        let synthetic = try Augmentation.generate(gan: gan, counts: counts, seed: seed)
        let metadata = SyntheticMetadata(storage: format, checkpoint: checkpointPath, step: step, seed: seed, classCounts: counts,
                                         classCountRule: rule.rawValue, configuration: gan.configuration)
        try Augmentation.write(synthetic, metadata: metadata, to: out)
        print("wrote \(synthetic.count) synthetic images \(counts) to \(out) (\(format == .png ? "images/, labels.csv" : "IDX pair"), metadata.json) "
              + "from \(checkpointPath) at step \(step), seed \(seed)")
        let grids = out + "/grids"
        // Real images for comparison: a seeded random sample, not the first ones of the file.
        let smallestClass = max(1, realCounts.filter { $0 > 0 }.min() ?? 1)
        let realSample = try Augmentation.stratifiedSubset(train, fraction: min(1, 64 / Double(smallestClass)), seed: 7).dataset
        for k in 0..<classCount {
            let name = Augmentation.classFolder(k, classCount: classCount)
            if let grid = Augmentation.classGrid(synthetic, classIndex: k) { try ImageIO.writePNG(grid, to: "\(grids)/synthetic-\(name).png") }
            if let grid = Augmentation.classGrid(realSample, classIndex: k) { try ImageIO.writePNG(grid, to: "\(grids)/real-\(name).png") }
        }
        print("wrote per-class grids of synthetic and real images to \(grids)/")

        if let path = options.string("consistency-classifier") {
            let classifier = try Classifier.read(path)
            do { try Evaluation.checkCompatible(gan: gan, classifier: classifier) } catch let error as EvaluationError {
                throw EvaluationError("\(path) does not fit the generator: \(error.description)")
            }
            guard classifier.configuration.classCount >= classCount else {
                throw UsageError("--consistency-classifier: \(path) knows \(classifier.configuration.classCount) classes, the data has \(classCount)")
            }
            let result = try Augmentation.classConsistency(images: synthetic, classifier: classifier)
            print(String(format: "class consistency: %.1f%% of %d generated images are classified as the class asked for by %@ (test accuracy %@)",
                         result.overall * 100, result.count, path, classifier.configuration.testAccuracy.map { String(format: "%.1f%%", $0 * 100) } ?? "unknown"))
            print("  per class: " + result.perClass.enumerated().map { String(format: "%d: %.1f%%", $0, $1 * 100) }.joined(separator: "  "))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try writeAtomically(try encoder.encode(result), to: out + "/consistency.json")
            print("wrote \(out)/consistency.json")
        }

        guard evaluate else { return 0 }
        let testSpec = try options.string("test-data") ?? derivedTestPath(dataSpec)
        let test = try loadLabelled(testSpec, labels: nil, split: .test, imageSize: imageSize, option: "--test-data")
        print("real test images: \(test.count), class counts \(Augmentation.classCounts(test.labels ?? [], classCount: max(classCount, test.classCount ?? 0)))")
        let fullDescription = "\(checkpointPath) (step \(step), trained on \(gan.configuration.dataset))"
        var sets = [AugmentationTrainingSet(name: "full", real: train, synthetic: .generator(gan, description: fullDescription))]
        var notes: [String] = []
        if fraction < 1 {
            let subsetSeed = try options.uint64("subset-seed") ?? 1
            let reduced = try Augmentation.stratifiedSubset(train, fraction: fraction, seed: subsetSeed).dataset
            let name = String(format: "%g%%", fraction * 100)
            let reducedSource: SyntheticSource
            if let path = options.string("reduced-checkpoint") {
                let reducedCheckpoint = try Checkpoint.read(path)
                let reducedGAN = try reducedCheckpoint.makeGAN(path: path)
                try checkCompatible(reducedGAN, path: path, data: train, classCount: classCount)
                reducedSource = .generator(reducedGAN, description: "\(path) (step \(reducedCheckpoint.step), trained on \(reducedGAN.configuration.dataset))")
            } else if hasSteps {
                var c = try ganConfiguration(options, dataset: dataSpec, channels: train.channels, imageSize: imageSize, classCount: classCount)
                c.dataset = dataSpec + " (\(name) stratified subset, seed \(subsetSeed))"
                c.batchSize = min(c.batchSize, reduced.count)
                let steps = try options.int("reduced-steps", range: 1...100_000_000) ?? (options.int("steps", range: 1...100_000_000) ?? 1)
                print("training a second GAN on the \(reduced.count)-image subset only, so that its synthetic images carry no information from the rest")
                let (reducedGAN, path, reducedStep) = try trainGAN(c, dataset: reduced, directory: out + "/gan-reduced", steps: steps)
                reducedSource = .generator(reducedGAN, description: "\(path) (step \(reducedStep), trained on the \(reduced.count)-image subset only)")
                for k in 0..<classCount {
                    let images = try Augmentation.generate(gan: reducedGAN, counts: (0..<classCount).map { $0 == k ? 64 : 0 }, seed: seed)
                    if let grid = Augmentation.classGrid(images, classIndex: k) {
                        try ImageIO.writePNG(grid, to: "\(grids)/synthetic-reduced-\(Augmentation.classFolder(k, classCount: classCount)).png")
                    }
                }
            } else {
                reducedSource = .generator(gan, description: fullDescription)
                notes.append("The \(name) rows use the generator trained on the full training set: its synthetic images carry information "
                             + "from real images the \(name) classifier never sees, so those rows overstate what augmentation gives with only "
                             + "\(name) of the data. Give --reduced-checkpoint for a fair comparison.")
            }
            sets.append(AugmentationTrainingSet(name: name, real: reduced, synthetic: reducedSource))
        }
        var settings = AugmentationEvaluationOptions()
        settings.seeds = (1...seedCount).map { UInt64($0) }
        settings.perClass = perClass
        settings.classCounts = rule
        if options.has("control") { settings.conditions.append(.realPlusResampled) }
        settings.classifierSteps = try options.int("classifier-steps", range: 1...10_000_000) ?? settings.classifierSteps
        settings.classifier.width = try options.int("classifier-width", range: 1...1024) ?? settings.classifier.width
        settings.classifier.batchSize = try options.int("classifier-batch-size", range: 2...65536) ?? settings.classifier.batchSize
        notes.append("The official validation split is not used: every classifier trains for a fixed number of steps, with no model selection.")
        let report = try AugmentationEvaluation.run(dataset: dataSpec, trainingSets: sets, test: test, options: settings, notes: notes) { print($0) }
        try writeAtomically(Data(report.markdown().utf8), to: out + "/report.md")
        try writeAtomically(try report.json(), to: out + "/report.json")
        print("")
        print(report.markdown())
        print("wrote \(out)/report.md and \(out)/report.json (\(TrainingSession.duration(report.seconds)))")
        return 0
    }

    /// A labelled dataset: `labels` given, or found beside the images.
    static func loadLabelled(_ spec: String, labels: String?, split: DatasetLocator.Split, imageSize: Int, option: String) throws -> ImageDataset {
        let policy: ImageDataset.SizePolicy = imageSize == 32 ? .pad : .resize
        let dataset: ImageDataset
        if let labels {
            dataset = try ImageDataset(imagesPath: spec, labelsPath: labels, targetSize: imageSize, sizePolicy: policy)
        } else {
            dataset = try ImageDataset.load(spec, split: split, targetSize: imageSize, sizePolicy: policy)
        }
        guard dataset.labels != nil else {
            throw UsageError("\(option): \(spec) has no labels (no labels-idx1 file beside it); give the labels file")
        }
        return dataset
    }

    /// The test split next to a training file: the last `train` in the file name replaced by `test` (or `t10k`).
    static func derivedTestPath(_ data: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: data, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return data   // a dataset name or folder: its test split is found by name
        }
        let url = URL(fileURLWithPath: data)
        let name = url.lastPathComponent
        if let range = name.range(of: "train", options: .backwards) {
            for replacement in ["test", "t10k"] {
                let candidate = url.deletingLastPathComponent().appendingPathComponent(name.replacingCharacters(in: range, with: replacement)).path
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
        }
        throw UsageError("--test-data: no test file found beside \(data) (tried 'train' -> 'test'/'t10k' in its name); give --test-data PATH")
    }

    static func checkCompatible(_ gan: DCGAN, path: String, data: ImageDataset, classCount: Int) throws {
        let c = gan.configuration
        guard let classes = c.classCount else {
            throw UsageError("\(path) is an unconditional GAN: augmentation needs a conditional one (train with --conditional)")
        }
        guard classes >= classCount else { throw UsageError("\(path) generates \(classes) classes, the data has \(classCount)") }
        guard c.spatialRank == 2, c.imageChannels == data.channels, c.imageSize == data.height else {
            throw UsageError("\(path) makes \(c.imageChannels)x\(c.imageSize)x\(c.imageSize) images, the data has \(data.channels)x\(data.height)x\(data.width)")
        }
    }

    static func ganConfiguration(_ options: ParsedArguments, dataset: String, channels: Int, imageSize: Int, classCount: Int) throws -> DCGANConfiguration {
        var c = DCGANConfiguration()
        c.dataset = dataset
        c.imageSize = imageSize
        c.imageChannels = channels
        c.classCount = classCount
        if let width = try options.int("width", range: 1...4096) {
            c.generatorWidth = width
            c.discriminatorWidth = width
        }
        c.batchSize = try options.int("batch-size", range: 2...65536) ?? c.batchSize
        c.learningRate = try options.float("learning-rate", positive: true) ?? c.learningRate
        c.seed = try options.uint64("gan-seed") ?? c.seed
        if let text = options.string("loss") {
            guard let loss = GANLoss(rawValue: text) else {
                throw UsageError("--loss: '\(text)' is not one of \(GANLoss.allCases.map { $0.rawValue }.joined(separator: ", "))")
            }
            c.loss = loss
        }
        if options.has("spectral-norm") { c.spectralNormalization = true }
        c.generatorAverageDecay = try options.float("generator-average", positive: true)
        if let problem = c.problem { throw UsageError(problem) }
        return c
    }

    /// Trains (or continues, when `directory` holds a checkpoint of the same configuration) a conditional GAN to `steps`.
    static func trainGAN(_ c: DCGANConfiguration, dataset: ImageDataset, directory: String, steps: Int) throws -> (DCGAN, String, Int) {
        let run = RunDirectory(directory)
        var configuration = c
        configuration.batchSize = min(c.batchSize, dataset.count)
        let trainer: DCGANTrainer
        if FileManager.default.fileExists(atPath: run.checkpoint) {
            let checkpoint = try Checkpoint.read(run.checkpoint)
            let differences = checkpoint.configuration.differences(from: configuration)
            guard differences.isEmpty else {
                throw UsageError("\(run.checkpoint) was trained with a different configuration (\(differences.joined(separator: "; "))); "
                                 + "delete it or choose another --out")
            }
            trainer = try DCGANTrainer.resuming(from: checkpoint, path: run.checkpoint, dataset: dataset)
            print("continuing \(run.checkpoint) from step \(checkpoint.step)")
        } else {
            trainer = try DCGANTrainer(gan: DCGAN(configuration: configuration), dataset: dataset)
        }
        var schedule = TrainingSchedule()
        schedule.steps = steps
        schedule.sampleEvery = max(1, steps / 4)
        schedule.checkpointEvery = 500
        schedule.logEvery = 100
        try TrainingSession(trainer: trainer, run: run, schedule: schedule).run()
        return (trainer.gan, run.checkpoint, trainer.step)
    }
}
