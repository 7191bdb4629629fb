import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels

/// Set by SIGINT/SIGTERM; the training loop saves a checkpoint and stops when it sees it.
nonisolated(unsafe) var stopRequested: Int32 = 0

enum TrainCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("data", "NAME|PATH", "dataset name (fashion-mnist, mnist) or an IDX images file or folder", default: "fashion-mnist"),
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
        OptionSpec("resume", nil, "continue from the run folder's checkpoint"),
    ]

    static let help = helpText(
        command: "train", summary: "Train a DCGAN (Radford et al. 2015) and write sample grids as PNG.", specs: specs,
        examples: ["swiftgan train                                   # Fashion-MNIST, 32x32, 3000 steps",
                   "swiftgan train --data mnist --steps 5000 --out runs/digits",
                   "swiftgan train --out runs/digits --steps 8000 --resume   # continue a run"])

    /// Options that change the model or its training; on resume they must agree with the checkpoint.
    static let configurationOptions = ["data", "batch-size", "image-size", "latent-size", "width", "generator-width",
                                       "discriminator-width", "learning-rate", "beta1", "seed"]

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(help); return 0 }
        let options = try ParsedArguments(arguments, specs: specs, command: "train")
        let requested = try configuration(from: options, base: DCGANConfiguration())
        var schedule = TrainingSchedule()
        schedule.steps = try options.int("steps", range: 1...100_000_000) ?? schedule.steps
        schedule.sampleEvery = try options.int("sample-every", range: 1...Int.max) ?? schedule.sampleEvery
        schedule.checkpointEvery = try options.int("checkpoint-every", range: 1...Int.max) ?? schedule.checkpointEvery
        schedule.logEvery = try options.int("log-every", range: 1...Int.max) ?? schedule.logEvery
        let threads = try options.int("threads", range: 1...1024) ?? ProcessInfo.processInfo.activeProcessorCount
        KernelThreads.set(threads)

        let dataName = URL(fileURLWithPath: requested.dataset).deletingPathExtension().lastPathComponent
        let run = RunDirectory(options.string("out") ?? "runs/\(dataName)")
        let hasCheckpoint = FileManager.default.fileExists(atPath: run.checkpoint)

        let trainer: DCGANTrainer
        if options.has("resume") {
            guard hasCheckpoint else { throw UsageError("--resume: there is no checkpoint at \(run.checkpoint)") }
            let checkpoint = try Checkpoint.read(run.checkpoint)
            // Options not given keep the checkpoint's values; options given must agree with it.
            let merged = try configuration(from: options, base: checkpoint.configuration)
            let differences = checkpoint.configuration.differences(from: merged)
            if !differences.isEmpty {
                throw UsageError("\(run.checkpoint) was trained with a different configuration: " + differences.joined(separator: "; "))
            }
            let dataset = try loadDataset(checkpoint.configuration)
            trainer = try DCGANTrainer.resuming(from: checkpoint, path: run.checkpoint, dataset: dataset)
            print("resuming \(run.checkpoint) at step \(checkpoint.step)")
        } else {
            if hasCheckpoint {
                throw UsageError("\(run.checkpoint) already exists: add --resume to continue that run, or choose another --out")
            }
            let dataset = try loadDataset(requested)
            trainer = try DCGANTrainer(gan: DCGAN(configuration: requested), dataset: dataset)
        }

        let session = TrainingSession(trainer: trainer, run: run, schedule: schedule)
        signal(SIGINT) { _ in stopRequested = 1 }
        signal(SIGTERM) { _ in stopRequested = 1 }
        session.shouldStop = { stopRequested != 0 }
        let outcome = try session.run()
        return outcome == .finished ? 0 : 130
    }

    static func configuration(from options: ParsedArguments, base: DCGANConfiguration) throws -> DCGANConfiguration {
        var c = base
        c.dataset = options.string("data") ?? c.dataset
        c.batchSize = try options.int("batch-size", range: 2...65536) ?? c.batchSize
        c.imageSize = try options.int("image-size") ?? c.imageSize
        c.latentSize = try options.int("latent-size", range: 1...100_000) ?? c.latentSize
        if let width = try options.int("width", range: 1...4096) {
            c.generatorWidth = width
            c.discriminatorWidth = width
        }
        c.generatorWidth = try options.int("generator-width", range: 1...4096) ?? c.generatorWidth
        c.discriminatorWidth = try options.int("discriminator-width", range: 1...4096) ?? c.discriminatorWidth
        c.learningRate = try options.float("learning-rate", positive: true) ?? c.learningRate
        c.beta1 = try options.float("beta1") ?? c.beta1
        c.seed = try options.uint64("seed") ?? c.seed
        if let problem = c.problem { throw UsageError(problem) }
        return c
    }

    static func loadDataset(_ c: DCGANConfiguration) throws -> ImageDataset {
        let started = Date()
        let dataset = try ImageDataset.load(c.dataset, targetSize: c.imageSize, sizePolicy: c.imageSize == 32 ? .pad : .resize)
        print(String(format: "loaded %d images (%dx%dx%d) from %@ in %.1f s", dataset.count, dataset.channels, dataset.height,
                     dataset.width, c.dataset, Date().timeIntervalSince(started)))
        return dataset
    }
}
