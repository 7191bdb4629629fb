import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels

/// Set by SIGINT/SIGTERM; the training loop saves a checkpoint and stops when it sees it.
nonisolated(unsafe) var stopRequested: Int32 = 0

enum TrainCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("data", "NAME|PATH", "dataset name (fashion-mnist, mnist), an IDX images file or folder, a folder of images, or a packed file", default: "fashion-mnist"),
        OptionSpec("out", "DIR", "run folder for samples, checkpoint and log", default: "runs/<data name>"),
        OptionSpec("steps", "N", "train until this many steps in total", default: "3000"),
        OptionSpec("batch-size", "N", "images per step", default: "64"),
        OptionSpec("image-size", "32|64", "generated image side; 28x28 data is padded to 32 or resized to 64", default: "32"),
        OptionSpec("latent-size", "N", "length of the latent vector z", default: "100"),
        OptionSpec("width", "N", "channel width of both networks (ngf = ndf; the paper uses 64)", default: "32"),
        OptionSpec("generator-width", "N", "generator width only", default: "--width"),
        OptionSpec("discriminator-width", "N", "discriminator width only", default: "--width"),
        OptionSpec("learning-rate", "X", "Adam learning rate of both networks", default: "0.0002"),
        OptionSpec("beta1", "X", "Adam beta1", default: "0.5"),
        OptionSpec("seed", "N", "seed for weights, noise and data order", default: "1"),
        OptionSpec("sample-every", "N", "write a sample grid every N steps", default: "250"),
        OptionSpec("checkpoint-every", "N", "save the checkpoint every N steps", default: "500"),
        OptionSpec("log-every", "N", "print progress every N steps", default: "50"),
        OptionSpec("threads", "N", "CPU threads for the kernels", default: "all cores"),
        OptionSpec("conditional", nil, "class-conditional GAN on the dataset's labels (conditional batch norm, projection discriminator)"),
        OptionSpec("loss", "non-saturating|hinge", "adversarial loss", default: "non-saturating"),
        OptionSpec("spectral-norm", nil, "spectral normalization in the discriminator (replaces its batch norm)"),
        OptionSpec("channels", "1|3|auto", "image channels; auto: 3 for an image folder with any colour image, else 1", default: "auto"),
        OptionSpec("crop", "center|pad|stretch", "how images of another shape in a folder are fitted to the square", default: "center"),
        OptionSpec("skip-unreadable", nil, "train without the image files that cannot be decoded (listed in a warning)"),
        OptionSpec("classifier", "PATH", "a classifier from 'swiftgan classifier train': compute the Frechet distance on its features during training and keep the best checkpoint as best.safetensors"),
        OptionSpec("evaluate-every", "N", "steps between those evaluations", default: "500"),
        OptionSpec("evaluate-count", "N", "generated images per evaluation", default: "2000"),
        OptionSpec("discriminator-learning-rate", "X", "the discriminator's own learning rate", default: "--learning-rate"),
        OptionSpec("discriminator-accuracy-limit", "X", "skip the discriminator's update when it classifies more than this fraction of a batch correctly",
                   default: "none; 0.8 for shapes"),
        OptionSpec("generator-average", "DECAY", "keep an exponential moving average of the generator's weights with this decay (e.g. 0.999) and sample from it; may be switched on when resuming",
                   default: "none"),
        OptionSpec("up-axis", "x|y|z", "shapes: the axis that points up in renders", default: "y for .binvox, z otherwise"),
        OptionSpec("nan-retries", "N", "when a loss becomes NaN or infinite, go back to the last checkpoint with halved learning rates and continue, up to N times",
                   default: "0: stop with a message"),
        OptionSpec("resume", nil, "continue from the run folder's checkpoint"),
    ]

    static let help = helpText(
        command: "train", summary: "Train a DCGAN (Radford et al. 2015) and write sample grids as PNG.", specs: specs,
        examples: ["swiftgan train                                   # Fashion-MNIST, 32x32, 3000 steps",
                   "swiftgan train --data mnist --steps 5000 --out runs/digits",
                   "swiftgan train --conditional --loss hinge --out runs/fashion-conditional",
                   "swiftgan train --data chairs-voxels32-idx4-ubyte.gz --out runs/chairs   # 3D shapes: a volumetric GAN",
                   "swiftgan train --out runs/digits --steps 8000 --resume   # continue a run"])

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(help); return 0 }
        let options = try ParsedArguments(arguments, specs: specs, command: "train")
        let requested = try configuration(from: options, base: DCGANConfiguration())
        var schedule = TrainingSchedule()
        schedule.steps = try options.int("steps", range: 1...100_000_000) ?? schedule.steps
        schedule.sampleEvery = try options.int("sample-every", range: 1...Int.max) ?? schedule.sampleEvery
        schedule.checkpointEvery = try options.int("checkpoint-every", range: 1...Int.max) ?? schedule.checkpointEvery
        schedule.logEvery = try options.int("log-every", range: 1...Int.max) ?? schedule.logEvery
        let threads = try options.kernelThreads()
        KernelThreads.set(threads)
        let nanRetries = try options.int("nan-retries", range: 0...100) ?? 0
        let upAxis = try options.upAxis()  // checked before any data is read; applies to shape data only (below)

        let dataName = URL(fileURLWithPath: requested.dataset).deletingPathExtension().lastPathComponent
        let run = RunDirectory(options.string("out") ?? "runs/\(dataName)")
        let hasCheckpoint = FileManager.default.fileExists(atPath: run.checkpoint)
        let folderExisted = FileManager.default.fileExists(atPath: run.path)
        try run.create()  // before loading data, so a bad --out fails at once
        let lock = try RunLock(directory: run)  // and so does a run folder that another process is training in
        defer { lock.release() }
        // A run folder this command made is removed again when setting up fails before training starts (bad data,
        // a bad option found late): nothing is in it but the lock and an empty samples folder.
        var trainingStarted = false
        defer {
            if !folderExisted && !trainingStarted { try? FileManager.default.removeItem(atPath: run.path) }
        }

        let trainer: DCGANTrainer
        if options.has("resume") {
            guard hasCheckpoint else { throw UsageError("--resume: there is no checkpoint at \(run.checkpoint)") }
            // Options not given keep the checkpoint's values; options given must agree with it.
            var checkpoint = try Checkpoint.read(run.checkpoint)
            let merged = try configuration(from: options, base: checkpoint.configuration)
            if let upAxis {
                guard checkpoint.configuration.spatialRank == 3 else {
                    throw UsageError("--up-axis applies to 3D shape data; the run in \(run.path) trains on images")
                }
                guard upAxis == checkpoint.configuration.upAxis else {
                    throw UsageError("--up-axis: the run in \(run.path) renders with \(["x", "y", "z"][checkpoint.configuration.upAxis]) "
                                     + "up, set when it started; leave --up-axis out to resume it")
                }
            }
            // The learning rates may change on resume (for example lowered after a divergence).
            var notes: [String] = []
            if merged.learningRate != checkpoint.configuration.learningRate
                || merged.discriminatorLearningRate != checkpoint.configuration.discriminatorLearningRate {
                notes.append("learning rate \(checkpoint.configuration.learningRate) -> \(merged.learningRate)")
                checkpoint.configuration.learningRate = merged.learningRate
                checkpoint.configuration.discriminatorLearningRate = merged.discriminatorLearningRate
            }
            let startsAverage = checkpoint.configuration.generatorAverageDecay == nil && merged.generatorAverageDecay != nil
            if startsAverage {
                // Averaging may start on a resumed run: the average starts from the trained weights.
                checkpoint.configuration.generatorAverageDecay = merged.generatorAverageDecay
            }
            var differences = checkpoint.configuration.differences(from: merged)
            if options.has("conditional") && checkpoint.configuration.classCount == nil {
                differences.append("classes: none (checkpoint) vs conditional (requested)")
            }
            if !differences.isEmpty {
                throw UsageError("\(run.checkpoint) was trained with a different configuration: " + differences.joined(separator: "; "))
            }
            let saved = checkpoint.configuration
            let dataset: any TrainingSet = saved.spatialRank == 3 ? try loadVoxels(saved)
                : try loadDataset(saved, channels: saved.imageChannels, options: options)
            // Class folders renamed, added or removed would silently give the labels other meanings.
            if let names = saved.classNames, let now = (dataset as? ImageDataset)?.classNames, names != now {
                throw UsageError("\(saved.dataset): the class folders are now \(now.joined(separator: ", ")) but \(run.checkpoint) was "
                                 + "trained on \(names.joined(separator: ", ")); restore the folder names or start a new run")
            }
            trainer = try DCGANTrainer.resuming(from: checkpoint, path: run.checkpoint, dataset: dataset)
            // (Not said when the run is already at its target: nothing is trained or saved then.)
            if startsAverage && checkpoint.step < schedule.steps { notes.append("the generator average starts here from the trained weights") }
            print("resuming \(run.checkpoint) at step \(checkpoint.step)" + notes.map { "; " + $0 }.joined())
        } else {
            if hasCheckpoint {
                throw UsageError("\(run.checkpoint) already exists: add --resume to continue that run, or choose another --out")
            }
            let explicitChannels = options.string("channels").flatMap { $0 == "auto" ? nil : requested.imageChannels }
            var chosen = requested
            let dataset: any TrainingSet
            if PackedDataset.isPacked(requested.dataset) {
                // A packed file was fitted to the square when it was packed: record that, and refuse another policy.
                let packedCrop = (try? PackedDataset.read(requested.dataset))?.metadata.conversion?.crop ?? "center"
                if let asked = options.string("crop"), asked != packedCrop {
                    throw UsageError("--crop: \(requested.dataset) was packed with --crop \(packedCrop); pack the folder again to change it")
                }
                chosen.crop = packedCrop
            }
            if VoxelDataset.looksVolumetric(requested.dataset) {
                chosen = try volumetricConfiguration(requested, options: options)
                dataset = try loadVoxels(chosen)
            } else {
                if upAxis != nil { throw UsageError("--up-axis applies to 3D shape data; \(requested.dataset) holds images") }
                let images = try loadDataset(requested, channels: explicitChannels, options: options)
                chosen.imageChannels = images.channels
                dataset = images
            }
            if options.has("conditional") {
                guard let classes = dataset.labelCount, dataset.labels != nil else {
                    throw UsageError("--conditional: the dataset \(requested.dataset) has no labels")
                }
                guard classes >= 2 else { throw UsageError("--conditional: the dataset \(requested.dataset) has only one class") }
                chosen.classCount = classes
                if let names = (dataset as? ImageDataset)?.classNames, names.count == classes { chosen.classNames = names }
            }
            trainer = try DCGANTrainer(gan: DCGAN(configuration: chosen), dataset: dataset)
        }

        let session = TrainingSession(trainer: trainer, run: run, schedule: schedule)
        session.runLock = lock
        signal(SIGINT) { _ in stopRequested = 1 }
        signal(SIGTERM) { _ in stopRequested = 1 }
        session.shouldStop = { stopRequested != 0 }
        session.nanRetries = nanRetries
        if let classifierPath = options.string("classifier") {
            session.evaluation = try periodicEvaluation(classifierPath: classifierPath, trainer: trainer, options: options)
        } else if options.has("evaluate-every") || options.has("evaluate-count") {
            throw UsageError("--evaluate-every and --evaluate-count need --classifier PATH")
        }
        trainingStarted = true
        let outcome = try session.run()
        return outcome == .finished ? 0 : 130
    }

    /// The in-training Frechet distance on the classifier's features, against up to 5,000 training images.
    static func periodicEvaluation(classifierPath: String, trainer: DCGANTrainer, options: ParsedArguments) throws -> PeriodicEvaluation {
        let every = try options.int("evaluate-every", range: 1...Int.max) ?? 500
        let count = try options.int("evaluate-count", range: 2...100_000) ?? 2000
        guard let images = trainer.dataset as? ImageDataset else {
            throw UsageError("--classifier: in-training evaluation works on image datasets only")
        }
        let classifier = try Classifier.read(classifierPath)
        try Evaluation.checkCompatible(gan: trainer.gan, classifier: classifier)
        let reference = try Evaluation.referenceStatistics(classifier: classifier, dataset: images)
        return PeriodicEvaluation(name: "metrics/frechet_distance_" + classifier.configuration.featureNetworkName, every: every) { gan in
            try Evaluation.quick(gan: gan, classifier: classifier, reference: reference, count: count)
        }
    }

    static func configuration(from options: ParsedArguments, base: DCGANConfiguration) throws -> DCGANConfiguration {
        var c = base
        // A path is kept absolute, so the run can be resumed from any folder; a dataset name stays a name.
        if let data = options.string("data") {
            c.dataset = FileManager.default.fileExists(atPath: data) ? URL(fileURLWithPath: data).standardizedFileURL.path : data
        }
        c.batchSize = try options.int("batch-size", range: 2...65536) ?? c.batchSize
        c.imageSize = try options.int("image-size") ?? c.imageSize
        c.latentSize = try options.int("latent-size", range: 1...100_000) ?? c.latentSize
        if let width = try options.int("width", range: 1...1024) {
            c.generatorWidth = width
            c.discriminatorWidth = width
        }
        c.generatorWidth = try options.int("generator-width", range: 1...1024) ?? c.generatorWidth
        c.discriminatorWidth = try options.int("discriminator-width", range: 1...1024) ?? c.discriminatorWidth
        c.learningRate = try options.float("learning-rate", positive: true) ?? c.learningRate
        c.beta1 = try options.float("beta1") ?? c.beta1
        c.seed = try options.uint64("seed") ?? c.seed
        if options.string("channels") != "auto" { c.imageChannels = try options.int("channels", range: 1...3) ?? c.imageChannels }
        if let text = options.string("loss") {
            guard let loss = GANLoss(rawValue: text) else {
                throw UsageError("--loss: '\(text)' is not one of \(GANLoss.allCases.map { $0.rawValue }.joined(separator: ", "))")
            }
            c.loss = loss
        }
        if options.has("spectral-norm") { c.spectralNormalization = true }
        if let text = options.string("crop") {
            guard CropPolicy(rawValue: text) != nil else { throw UsageError("--crop: '\(text)' is not one of center, pad, stretch") }
            c.crop = text
        }
        if let rate = try options.float("discriminator-learning-rate", positive: true) { c.discriminatorLearningRate = rate }
        if let limit = try options.float("discriminator-accuracy-limit", positive: true) { c.discriminatorAccuracyLimit = limit }
        if let decay = try options.float("generator-average", positive: true) { c.generatorAverageDecay = decay }
        if let problem = c.problem { throw UsageError(problem) }
        return c
    }

    /// `channels` nil: the data's own (see `ImageDataset.load`); `--crop` and `--skip-unreadable` apply to image folders.
    /// The volumetric GAN's settings for shape data: a 200-long latent (Wu et al. 2016) unless given, the
    /// discriminator left alone on steps where it is already 80% accurate (the paper's rule) unless given, and the up
    /// axis of the data's format for renders (y for `.binvox`, z otherwise, as ModelNet's grids stand).
    static func volumetricConfiguration(_ requested: DCGANConfiguration, options: ParsedArguments) throws -> DCGANConfiguration {
        var c = requested
        c.spatialRank = 3
        c.imageChannels = 1
        if !options.has("latent-size") { c.latentSize = 200 }
        if !options.has("discriminator-accuracy-limit") { c.discriminatorAccuracyLimit = 0.8 }
        c.upAxis = try options.upAxis() ?? VoxelDataset.storedUpAxis(requested.dataset)
        if let problem = c.problem { throw UsageError(problem) }
        return c
    }

    static func loadVoxels(_ c: DCGANConfiguration) throws -> VoxelDataset {
        let started = Date()
        let dataset = try VoxelDataset.load(c.dataset, size: c.imageSize)
        print(String(format: "loaded %d shapes (%d^3 voxels) from %@ in %.1f s", dataset.count, dataset.size, c.dataset,
                     Date().timeIntervalSince(started)))
        return dataset
    }

    static func loadDataset(_ c: DCGANConfiguration, channels: Int?, options: ParsedArguments) throws -> ImageDataset {
        let started = Date()
        let dataset = try ImageDataset.load(c.dataset, targetSize: c.imageSize, sizePolicy: c.imageSize == 32 ? .pad : .resize,
                                            channels: channels, crop: CropPolicy(rawValue: c.crop) ?? .center, skipUnreadable: options.has("skip-unreadable"),
                                            warn: { print("warning: \($0)") })
        print(String(format: "loaded %d images (%dx%dx%d) from %@ in %.1f s", dataset.count, dataset.channels, dataset.height,
                     dataset.width, c.dataset, Date().timeIntervalSince(started)))
        return dataset
    }
}
