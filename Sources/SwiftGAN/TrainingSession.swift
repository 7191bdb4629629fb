import Foundation
import SwiftGANData
import SwiftGANNN

/// Where a training run keeps its files.
///
/// ```
/// RUN/checkpoint.safetensors    latest training state (weights, optimizer moments, configuration, step)
/// RUN/best.safetensors          the state with the lowest in-training evaluation value (with --classifier)
/// RUN/samples/step-000500.png   grid from the run's fixed latent vectors, every --sample-every steps
/// RUN/samples/latest.png        the newest grid
/// RUN/log.jsonl                 one JSON object per logged step: losses, D(x), D(G(z)), images/s
/// RUN/configuration.json        the configuration, readable
/// RUN/classes.json              a conditional GAN's class map: label number and class name (class subfolders)
/// RUN/tensorboard/              TensorBoard event files: the log's scalars and the sample grids
/// ```
public struct RunDirectory {
    public let path: String
    public init(_ path: String) { self.path = path }
    public var checkpoint: String { path + "/checkpoint.safetensors" }
    /// The checkpoint with the lowest in-training evaluation value so far (see `TrainingSession.evaluation`).
    public var best: String { path + "/best.safetensors" }
    public var samples: String { path + "/samples" }
    public var log: String { path + "/log.jsonl" }
    public var configuration: String { path + "/configuration.json" }
    public var classMap: String { path + "/classes.json" }
    /// The folder of TensorBoard event files (`tensorboard --logdir RUN/tensorboard`).
    public var tensorboard: String { path + "/tensorboard" }
    public func sample(step: Int) -> String { samples + "/" + String(format: "step-%06d.png", step) }

    /// Creates the folder and its `samples` folder.
    /// - Throws: `DataError.writeFailed` naming the folder when it cannot be made (a file in the way, no permission).
    public func create() throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw DataError.writeFailed(path: path, reason: "a file is in the way of the run folder")
        }
        do {
            try FileManager.default.createDirectory(atPath: samples, withIntermediateDirectories: true)
        } catch {
            throw DataError.writeFailed(path: path, reason: "cannot create the run folder (\((error as NSError).localizedFailureReason ?? "permission denied or a file in the way"))")
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw DataError.writeFailed(path: path, reason: "the run folder is not writable")
        }
    }
}

/// A quality measure that training computes every `every` steps (lower is better), logged under `name`.
public struct PeriodicEvaluation {
    public var name: String
    public var every: Int
    public var measure: (DCGAN) throws -> Double

    public init(name: String, every: Int, measure: @escaping (DCGAN) throws -> Double) {
        self.name = name
        self.every = every
        self.measure = measure
    }
}

/// Options of a training run that do not change the model.
public struct TrainingSchedule {
    public var steps = 3000
    public var sampleEvery = 250
    public var checkpointEvery = 500
    public var logEvery = 50
    public init() {}
}

/// Runs the training loop with progress, sample grids, logs and checkpoints.
public final class TrainingSession {
    /// The trainer; replaced by a fresh one when the session rolls back after a divergence.
    public private(set) var trainer: DCGANTrainer
    public let directory: RunDirectory
    public let schedule: TrainingSchedule
    /// Checked after every step; when it returns true the session saves a checkpoint and returns.
    public var shouldStop: () -> Bool = { false }
    /// Receives each progress line.
    public var report: (String) -> Void = { print($0) }
    /// Fixed latent vectors for the sample grids: the same images evolve over the run.
    public let fixedLatents: Tensor
    /// A quality measure computed every so often during training; the best checkpoint by it is kept.
    public var evaluation: PeriodicEvaluation?
    /// How many times a run whose loss becomes NaN or infinite may go back to its last checkpoint with halved
    /// learning rates and continue (0: stop with `NonFiniteLossError`). With retries, a checkpoint is saved before the
    /// first step when there is none, so there is always a state to go back to.
    public var nanRetries = 0
    /// The run folder's lock when the caller took it already (before loading data, say); otherwise `run()` takes
    /// and releases it.
    public var runLock: RunLock?
    /// Rollbacks made in this session.
    public private(set) var rollbacks = 0
    /// The event file of the current `run()`, nil outside it.
    private var tensorBoard: TensorBoardWriter?

    public init(trainer: DCGANTrainer, run: RunDirectory, schedule: TrainingSchedule) {
        self.trainer = trainer
        self.directory = run
        self.schedule = schedule
        fixedLatents = trainer.gan.latents(count: 64, seed: trainer.gan.configuration.seed &+ 0xF1C5ED)
    }

    /// How a session ended.
    public enum Outcome: Equatable { case finished, interrupted }

    /// Trains until `schedule.steps` steps are done (counting steps of earlier sessions) or `shouldStop` says so.
    /// - Throws: `NonFiniteLossError` on divergence (the last checkpoint on disk is left as it was), `DataError`
    ///   when a file cannot be written.
    @discardableResult
    public func run() throws -> Outcome {
        try directory.create()
        let ownLock = runLock == nil ? try RunLock(directory: directory) : nil
        defer { ownLock?.release() }
        if trainer.step > 0 { try forgetLogLinesAfter(step: trainer.step) }
        try writeConfiguration()
        let c = trainer.gan.configuration
        let startStep = trainer.step
        let start = Date()
        var lastLog = start
        var imagesSinceLog = 0
        if startStep >= schedule.steps {
            report("already trained \(startStep) steps (target \(schedule.steps)); nothing to do")
            return .finished
        }
        tensorBoard = try TensorBoardWriter(directory: directory.tensorboard)
        if startStep > 0 { try tensorBoard?.addSessionStart(step: startStep + 1) }
        defer {
            try? tensorBoard?.close()
            tensorBoard = nil
        }
        let kind = (c.classCount.map { "\($0)-class conditional " } ?? "") + (c.spatialRank == 3 ? "volumetric GAN" : "DCGAN")
        let shapeText = c.sampleShape.dropFirst().map(String.init).joined(separator: "x") + "x\(c.imageChannels)"
        report("training \(shapeText) \(kind) on \(c.dataset) (\(trainer.dataset.count) \(c.spatialRank == 3 ? "shapes" : "images")), "
               + "steps \(startStep + 1)-\(schedule.steps), batch \(c.batchSize), "
               + "\(trainer.gan.generator.trainableScalarCount + trainer.gan.discriminator.trainableScalarCount) parameters, output \(directory.path)")
        if nanRetries > 0 && !FileManager.default.fileExists(atPath: directory.checkpoint) { try saveCheckpoint() }
        while trainer.step < schedule.steps {
            let stats: TrainingStatistics
            do {
                stats = try trainer.trainStep()
            } catch let divergence as NonFiniteLossError where rollbacks < nanRetries {
                try rollBack(after: divergence)
                continue
            } catch var divergence as NonFiniteLossError where nanRetries > 0 {
                divergence.advice = "\(nanRetries) roll-back(s) with halved learning rates did not help; the run's settings "
                    + "(data, model, losses) need a look"
                throw divergence
            }
            imagesSinceLog += c.batchSize
            let step = trainer.step
            if step % schedule.logEvery == 0 || step == schedule.steps || step == startStep + 1 {
                let now = Date()
                let rate = Double(imagesSinceLog) / max(now.timeIntervalSince(lastLog), 1e-9)
                let overall = Double((step - startStep) * c.batchSize) / max(now.timeIntervalSince(start), 1e-9)
                let eta = Double((schedule.steps - step) * c.batchSize) / max(overall, 1e-9)
                report(String(format: "step %d/%d  %.1f img/s  ETA %@  loss D %.3f G %.3f  D(x) %.2f  D(G(z)) %.2f",
                              step, schedule.steps, rate, TrainingSession.duration(eta), stats.discriminatorLoss,
                              stats.generatorLoss, stats.realScore, stats.fakeScore))
                try appendLog(stats, imagesPerSecond: rate)
                lastLog = now
                imagesSinceLog = 0
            }
            if step % schedule.sampleEvery == 0 || step == schedule.steps { try writeSamples(step: step) }
            if let evaluation = evaluation, step % evaluation.every == 0 || step == schedule.steps { try evaluate(evaluation, step: step) }
            if step % schedule.checkpointEvery == 0 || step == schedule.steps { try saveCheckpoint() }
            if shouldStop() {
                try saveCheckpoint()
                try writeSamples(step: step)
                report("interrupted at step \(step); checkpoint saved to \(directory.checkpoint) (resume with --resume)")
                return .interrupted
            }
        }
        report("done: \(trainer.step) steps in \(TrainingSession.duration(Date().timeIntervalSince(start))); "
               + "samples in \(directory.samples), checkpoint \(directory.checkpoint)")
        return .finished
    }

    /// Runs `evaluation`, logs its value (JSON lines and TensorBoard), and saves `best.safetensors` when the value is the
    /// lowest so far (also across resumed sessions: the best file records its value).
    func evaluate(_ evaluation: PeriodicEvaluation, step: Int) throws {
        let started = Date()
        let value = try evaluation.measure(trainer.gan)
        let line = String(format: "{\"step\":%d,\"%@\":%.6g,\"time\":%.3f}\n", step, evaluation.name, value, Date().timeIntervalSince1970)
        try appendLine(line)
        if let tensorBoard {
            try tensorBoard.addScalar(tag: evaluation.name, value: Float(value), step: step)
            try tensorBoard.flush()
        }
        let previousBest = (try? SafeTensorsFile.read(directory.best))?.metadata["evaluation_value"].flatMap(Double.init)
        var note = ""
        if value.isFinite && value < (previousBest ?? .infinity) {
            try trainer.checkpoint().write(to: directory.best, extraMetadata: ["evaluation_name": evaluation.name,
                                                                               "evaluation_value": "\(value)"])
            note = "  new best, saved \(directory.best)"
        } else if let best = previousBest {
            note = String(format: "  best %.4g", best)
        }
        report(String(format: "step %d  %@ %.4g (%.1f s)%@", step, evaluation.name, value, Date().timeIntervalSince(started), note))
    }

    /// Goes back to the run's checkpoint with both learning rates halved, and saves that state at once so a later
    /// `--resume` continues with the lowered rates.
    func rollBack(after divergence: NonFiniteLossError) throws {
        var checkpoint = try Checkpoint.read(directory.checkpoint)
        checkpoint.configuration.learningRate /= 2
        checkpoint.configuration.discriminatorLearningRate = checkpoint.configuration.discriminatorLearningRate.map { $0 / 2 }
        trainer = try DCGANTrainer.resuming(from: checkpoint, path: directory.checkpoint, dataset: trainer.dataset)
        rollbacks += 1
        try saveCheckpoint()
        try writeConfiguration()
        let c = trainer.gan.configuration
        let rates = c.discriminatorLearningRate.map { "\(c.learningRate) (discriminator \($0))" } ?? "\(c.learningRate)"
        let value = divergence.value.isNaN ? "NaN" : "\(divergence.value)"
        report("the \(divergence.term) became \(value) at step \(divergence.step); rolled back to step \(checkpoint.step) and "
               + "halved the learning rate to \(rates) (retry \(rollbacks) of \(nanRetries))")
        try appendLine(String(format: "{\"step\":%d,\"rollback_to\":%d,\"learning_rate\":%.6g,\"time\":%.3f}\n", divergence.step,
                              checkpoint.step, c.learningRate, Date().timeIntervalSince1970))
        try tensorBoard?.addSessionStart(step: checkpoint.step + 1)
    }

    /// Writes `configuration.json` and, for a GAN with named classes, `classes.json`.
    func writeConfiguration() throws {
        let c = trainer.gan.configuration
        try writeAtomically(Data(c.jsonString().utf8), to: directory.configuration)
        if let names = c.classNames {
            struct ClassEntry: Encodable { let label: Int; let name: String }
            let entries = names.enumerated().map { ClassEntry(label: $0.offset, name: $0.element) }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try writeAtomically(try encoder.encode(entries), to: directory.classMap)
        }
    }

    public func saveCheckpoint() throws {
        try trainer.checkpoint().write(to: directory.checkpoint)
    }

    public func writeSamples(step: Int) throws {
        let grid = trainer.gan.previewGrid(latents: fixedLatents)
        try ImageIO.writePNG(grid, to: directory.sample(step: step))
        try ImageIO.writePNG(grid, to: directory.samples + "/latest.png")
        if let tensorBoard {
            try tensorBoard.addImage(tag: "samples", image: grid, step: step)
            try tensorBoard.flush()
        }
    }

    func appendLog(_ stats: TrainingStatistics, imagesPerSecond: Double) throws {
        let line = String(format: "{\"step\":%d,\"loss/discriminator\":%.6g,\"loss/generator\":%.6g,\"score/real\":%.6g,\"score/fake\":%.6g,\"images_per_second\":%.4g,\"time\":%.3f}\n",
                          stats.step, stats.discriminatorLoss, stats.generatorLoss, stats.realScore, stats.fakeScore,
                          imagesPerSecond, Date().timeIntervalSince1970)
        try appendLine(line)
        if let tensorBoard {
            try tensorBoard.addScalars([("loss/discriminator", stats.discriminatorLoss), ("loss/generator", stats.generatorLoss),
                                        ("score/real", stats.realScore), ("score/fake", stats.fakeScore),
                                        ("images_per_second", Float(imagesPerSecond))], step: stats.step)
            try tensorBoard.flush()
        }
    }

    /// Drops log lines of steps after `step`: steps that a run stopped without a checkpoint (killed, or the machine
    /// went down) had logged, and that the resumed run is about to train and log again.
    func forgetLogLinesAfter(step: Int) throws {
        guard let data = FileManager.default.contents(atPath: directory.log) else { return }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
        let kept = lines.filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let lineStep = object["step"] as? Int else { return true }
            return lineStep <= step
        }
        guard kept.count < lines.count else { return }
        try writeAtomically(Data((kept.joined(separator: "\n") + "\n").utf8), to: directory.log)
        report("dropped \(lines.count - kept.count) log line(s) of steps after \(step), which the checkpoint does not include")
    }

    /// Appends one line to the run's JSON-lines log.
    func appendLine(_ line: String) throws {
        if let handle = FileHandle(forWritingAtPath: directory.log) {
            defer { try? handle.close() }
            handle.seekToEndOfFile()
            handle.write(Data(line.utf8))
        } else if !FileManager.default.createFile(atPath: directory.log, contents: Data(line.utf8)) {
            throw DataError.writeFailed(path: directory.log, reason: "cannot create the file")
        }
    }

    /// `1h02m`, `12m05s`, `42s`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        if s >= 60 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return "\(s)s"
    }
}

/// An exclusive lock on a run folder (`RUN/.lock`, `flock`), held while a session trains, so two processes never
/// write one run's checkpoint and log at once. The system releases it when the process ends, however it ends.
public struct RunLock {
    let descriptor: Int32

    public init(directory: RunDirectory) throws {
        let path = directory.path + "/.lock"
        descriptor = open(path, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw DataError.writeFailed(path: path, reason: "cannot create the run's lock file") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw DataError.writeFailed(path: directory.path, reason: "another training process\(holder.isEmpty ? "" : " (pid \(holder))") "
                                        + "is using this run folder; wait for it to finish or choose another --out")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    public func release() {
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
