import XCTest
import Foundation
@testable import SwiftGAN
import SwiftGANData
import SwiftGANNN
import SwiftGANVoxels

func smallConfiguration(size: Int = 32, width: Int = 4, batch: Int = 8) -> DCGANConfiguration {
    var c = DCGANConfiguration()
    c.imageSize = size
    c.generatorWidth = width
    c.discriminatorWidth = width
    c.batchSize = batch
    c.latentSize = 16
    return c
}

/// Four steps straight, and two steps + checkpoint at `checkpoint` + resumed + two more steps, of the same configuration.
func trainStraightAndResumed(_ c: DCGANConfiguration, dataset: any TrainingSet,
                             checkpoint path: String) throws -> (straight: DCGANTrainer, resumed: DCGANTrainer) {
    let straight = try DCGANTrainer(gan: DCGAN(configuration: c), dataset: dataset)
    for _ in 0..<4 { try straight.trainStep() }
    let first = try DCGANTrainer(gan: DCGAN(configuration: c), dataset: dataset)
    for _ in 0..<2 { try first.trainStep() }
    try first.checkpoint().write(to: path)
    let resumed = try DCGANTrainer.resuming(from: try Checkpoint.read(path), path: path, dataset: dataset)
    XCTAssertEqual(resumed.step, 2)
    for _ in 0..<2 { try resumed.trainStep() }
    return (straight, resumed)
}

func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "swiftgan-tests-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Real Fashion-MNIST images from the shared data folder, or nil (the caller skips) when it is absent.
func sharedFashionMNIST(targetSize: Int = 32) throws -> ImageDataset? {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    // The shared data folder beside the checkout, or the Debian package that the setup script installs.
    let candidates = [root.deletingLastPathComponent().appendingPathComponent("shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz").path,
                      "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"]
    guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { return nil }
    return try ImageDataset(imagesPath: path, targetSize: targetSize)
}

final class DCGANTests: XCTestCase {
    func testArchitectureShapesAndNames() {
        for size in [32, 64] {
            let c = smallConfiguration(size: size)
            let gan = DCGAN(configuration: c)
            let images = gan.generate(gan.latents(count: 3, seed: 1))
            XCTAssertEqual(images.shape, [3, 1, size, size])
            XCTAssertTrue(images.scalars.allSatisfy { $0 >= -1 && $0 <= 1 })
            XCTAssertEqual(gan.discriminator(images).shape, [3, 1])
            XCTAssertEqual(gan.generator.blocks.count, size == 32 ? 3 : 4)
        }
        let names = DCGAN(configuration: smallConfiguration()).namedParameters().map { $0.name }
        XCTAssertEqual(names.first, "generator.blocks.0.conv.weight")
        XCTAssertTrue(names.contains("generator.blocks.0.norm.runningMean"))
        XCTAssertTrue(names.contains("discriminator.blocks.1.norm.weight"))
        XCTAssertTrue(names.contains("discriminator.output.weight"))
        // The paper's layer widths: 32x32 generator 4*ngf -> 2*ngf -> ngf -> image.
        let gan = DCGAN(configuration: smallConfiguration(width: 8))
        XCTAssertEqual(gan.generator.blocks.map { $0.conv.weight.value.shape[1] }, [32, 16, 8])
        XCTAssertEqual(gan.discriminator.blocks.map { $0.conv.weight.value.shape[0] }, [16, 32])
    }

    func testDCGANInitialization() {
        var c = smallConfiguration(width: 32)
        c.latentSize = 100
        let w = DCGAN(configuration: c).generator.blocks[1].conv.weight.value
        let std = (w.squared().mean().scalar - w.mean().scalar * w.mean().scalar).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.002)
        XCTAssertEqual(w.mean().scalar, 0, accuracy: 0.002)
    }

    func testCheckpointRoundTripGivesTheSameImages() throws {
        let dir = temporaryDirectory("checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gan = DCGAN(configuration: smallConfiguration())
        let path = dir + "/c.safetensors"
        try Checkpoint(gan: gan, step: 17).write(to: path)
        let loaded = try Checkpoint.read(path)
        XCTAssertEqual(loaded.step, 17)
        XCTAssertEqual(loaded.configuration, gan.configuration)
        let again = try loaded.makeGAN(path: path)
        let z = gan.latents(count: 4, seed: 3)
        XCTAssertEqual(gan.generate(z).scalars, again.generate(z).scalars)
        // The file is ordinary safetensors with the configuration in its metadata.
        let raw = try SafeTensorsFile.read(path)
        XCTAssertEqual(raw.metadata["format"], "swiftgan-dcgan")
        XCTAssertNotNil(raw.tensors["generator.blocks.0.conv.weight"])
    }

    func testDamagedCheckpointsAreRefusedWithTheFileName() throws {
        let dir = temporaryDirectory("bad-checkpoint")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let gan = DCGAN(configuration: smallConfiguration())
        let path = dir + "/c.safetensors"
        var checkpoint = Checkpoint(gan: gan, step: 1)
        checkpoint.tensors["generator.output.weight"] = nil
        try checkpoint.write(to: path)
        XCTAssertThrowsError(try Checkpoint.read(path).makeGAN(path: path)) { error in
            XCTAssertTrue("\(error)".contains(path), "\(error)")
            XCTAssertTrue("\(error)".contains("missing output.weight"), "\(error)")
        }
        // Weights that are not finite.
        var diverged = Checkpoint(gan: gan, step: 1)
        var weights = diverged.tensors["generator.blocks.1.conv.weight"]!.scalars
        weights[3] = .nan
        diverged.tensors["generator.blocks.1.conv.weight"] = Tensor(shape: diverged.tensors["generator.blocks.1.conv.weight"]!.shape, scalars: weights)
        try diverged.write(to: path)
        XCTAssertThrowsError(try Checkpoint.read(path).makeGAN(path: path)) { error in
            XCTAssertTrue("\(error)".contains("generator.blocks.1.conv.weight contains NaN"), "\(error)")
        }
        // Not a checkpoint at all.
        var other = SafeTensorsFile()
        other.tensors["x"] = NamedArray(shape: [1], values: [0])
        try other.write(to: path)
        XCTAssertThrowsError(try Checkpoint.read(path)) { error in
            XCTAssertTrue("\(error)".contains("not a SwiftGAN DCGAN checkpoint"), "\(error)")
        }
        // Truncated file.
        try checkpoint.write(to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Checkpoint.read(path)) { error in XCTAssertTrue("\(error)".contains(path), "\(error)") }
    }

    /// A few real steps on Fashion-MNIST: losses finite and changing, the weights move.
    func testTrainingStepsOnRealFashionMNIST() throws {
        guard let dataset = try sharedFashionMNIST() else {
            throw XCTSkip("neither ../shared/data/fashion-mnist nor the dataset-fashion-mnist package is here; skipping the real-data training test")
        }
        let gan = DCGAN(configuration: smallConfiguration(width: 8, batch: 16))
        let trainer = try DCGANTrainer(gan: gan, dataset: dataset)
        let before = gan.generator.blocks[0].conv.weight.value.scalars
        var stats: [TrainingStatistics] = []
        for _ in 0..<6 { stats.append(try trainer.trainStep()) }
        XCTAssertTrue(stats.allSatisfy { $0.discriminatorLoss.isFinite && $0.generatorLoss.isFinite })
        XCTAssertNotEqual(stats.first?.discriminatorLoss, stats.last?.discriminatorLoss)
        XCTAssertNotEqual(before, gan.generator.blocks[0].conv.weight.value.scalars)
        // The discriminator learns to separate real from generated quickly.
        XCTAssertLessThan(stats.last!.discriminatorLoss, stats.first!.discriminatorLoss)
        XCTAssertEqual(trainer.step, 6)
    }

    /// Training 4 steps straight and 2 + checkpoint + 2 give the same weights.
    func testResumingContinuesExactlyWhereTrainingStopped() throws {
        let dir = temporaryDirectory("resume")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 1)
        let pixels = Tensor.randomUniform(shape: [40 * 32 * 32], lowerBound: -1, upperBound: 1, using: &rng).scalars
        let dataset = try ImageDataset(images: pixels, labels: nil, channels: 1, height: 32, width: 32)
        let (straight, resumed) = try trainStraightAndResumed(smallConfiguration(), dataset: dataset, checkpoint: dir + "/c.safetensors")
        let a = straight.gan.stateDictionary(), b = resumed.gan.stateDictionary()
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, t) in a {
            let u = b[name]!
            let diff = zip(t.scalars, u.scalars).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(diff, 1e-5, name)
        }
    }

    func testTrainerRefusesMismatchedData() throws {
        let dataset = try ImageDataset(images: [Float](repeating: 0, count: 20 * 28 * 28), labels: nil, channels: 1, height: 28, width: 28)
        XCTAssertThrowsError(try DCGANTrainer(gan: DCGAN(configuration: smallConfiguration()), dataset: dataset)) { error in
            XCTAssertTrue("\(error)".contains("1x28x28"), "\(error)")
        }
        let small = try ImageDataset(images: [Float](repeating: 0, count: 4 * 32 * 32), labels: nil, channels: 1, height: 32, width: 32)
        XCTAssertThrowsError(try DCGANTrainer(gan: DCGAN(configuration: smallConfiguration(batch: 8)), dataset: small))
    }

    func testSessionWritesSamplesCheckpointAndLogAndStopsOnRequest() throws {
        let dir = temporaryDirectory("session")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dataset = try ImageDataset(images: [Float](repeating: 0.5, count: 16 * 32 * 32), labels: nil, channels: 1, height: 32, width: 32)
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: smallConfiguration()), dataset: dataset)
        var schedule = TrainingSchedule()
        schedule.steps = 10
        schedule.sampleEvery = 2
        schedule.checkpointEvery = 100
        schedule.logEvery = 1
        let session = TrainingSession(trainer: trainer, run: RunDirectory(dir), schedule: schedule)
        var lines: [String] = []
        session.report = { lines.append($0) }
        session.shouldStop = { trainer.step >= 3 }
        XCTAssertEqual(try session.run(), .interrupted)
        XCTAssertEqual(try Checkpoint.read(dir + "/checkpoint.safetensors").step, 3)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/samples/step-000002.png"))
        let grid = try ImageIO.readImage(dir + "/samples/latest.png")
        XCTAssertEqual(grid.width, 8 * 32 + 9 * 2)
        let log = try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 3)
        XCTAssertTrue(lines.contains { $0.contains("step 2/10") && $0.contains("img/s") && $0.contains("ETA") })
    }
}

final class PeriodicEvaluationTests: XCTestCase {
    /// The evaluation runs on schedule, is logged, and the lowest value's state is kept as best.safetensors.
    func testBestCheckpointFollowsTheLowestValue() throws {
        let dir = temporaryDirectory("evaluation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dataset = try ImageDataset(images: [Float](repeating: 0.5, count: 16 * 32 * 32), labels: nil, channels: 1, height: 32, width: 32)
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: smallConfiguration()), dataset: dataset)
        var schedule = TrainingSchedule()
        schedule.steps = 6
        schedule.logEvery = 100
        schedule.sampleEvery = 100
        schedule.checkpointEvery = 100
        let session = TrainingSession(trainer: trainer, run: RunDirectory(dir), schedule: schedule)
        session.report = { _ in }
        let values: [Int: Double] = [2: 5.0, 4: 3.0, 6: 4.0]
        var calls: [Int] = []
        session.evaluation = PeriodicEvaluation(name: "metrics/test_distance", every: 2) { gan in
            calls.append(trainer.step)
            return values[trainer.step] ?? .nan
        }
        try session.run()
        XCTAssertEqual(calls, [2, 4, 6])
        let best = try SafeTensorsFile.read(dir + "/best.safetensors")
        XCTAssertEqual(best.metadata["evaluation_value"], "3.0")
        XCTAssertEqual(best.metadata["step"], "4", "the best state is the one at step 4, not the last")
        let log = try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8)
        XCTAssertEqual(log.components(separatedBy: "metrics/test_distance").count - 1, 3)
    }
}

final class InterpolationTests: XCTestCase {
    func norm(_ v: [Float]) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }

    func testEndpointsAndMidpoints() {
        let a: [Float] = [1, 0, 0], b: [Float] = [0, 2, 0]
        for mode in LatentInterpolation.allCases {
            let path = mode.path(from: a, to: b, steps: 5)
            XCTAssertEqual(path.shape, [5, 3])
            let rows = path.scalars
            for k in 0..<3 {
                XCTAssertEqual(rows[k], a[k], accuracy: 1e-6)
                XCTAssertEqual(rows[12 + k], b[k], accuracy: 1e-6)
            }
        }
        let mid = LatentInterpolation.slerp(a, b, 0.5)
        // Halfway along the quarter circle, with the length halfway between 1 and 2.
        XCTAssertEqual(mid[0], 1.5 * Float(0.5.squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(mid[1], 1.5 * Float(0.5.squareRoot()), accuracy: 1e-5)
        XCTAssertEqual(LatentInterpolation.lerp(a, b, 0.5), [0.5, 1, 0])
    }

    func testSphericalStaysFiniteForEqualOppositeAndZeroVectors() {
        let a: [Float] = [0.3, -1.2, 0.5, 2.0]
        let opposite = a.map { -$0 }
        for t in stride(from: Float(0), through: 1, by: 0.125) {
            let same = LatentInterpolation.slerp(a, a, t)
            for (x, y) in zip(same, a) { XCTAssertEqual(x, y, accuracy: 1e-5) }
            let turn = LatentInterpolation.slerp(a, opposite, t)
            XCTAssertTrue(turn.allSatisfy { $0.isFinite })
            XCTAssertEqual(norm(turn), norm(a), accuracy: 1e-4, "the turn keeps the length")
            XCTAssertTrue(LatentInterpolation.slerp([0, 0, 0, 0], a, t).allSatisfy { $0.isFinite })
        }
    }
}

/// Images whose batches turn into NaN on chosen `gather` calls, to make a training run diverge on purpose.
final class PoisonedTrainingSet: TrainingSet {
    let base: ImageDataset
    var poisonedCalls: Set<Int>
    private(set) var calls = 0
    init(_ base: ImageDataset, poisonedCalls: Set<Int>) {
        self.base = base
        self.poisonedCalls = poisonedCalls
    }
    var count: Int { base.count }
    var sampleShape: [Int] { base.sampleShape }
    var labels: [Int]? { base.labels }
    func validateBatchSize(_ size: Int) throws { try base.validateBatchSize(size) }
    func batch(atStep step: Int, size: Int, seed: UInt64) throws -> [Int] { try base.batch(atStep: step, size: size, seed: seed) }
    func gather(_ indices: [Int]) -> (pixels: [Float], labels: [Int]?) {
        calls += 1
        var batch = base.gather(indices)
        if poisonedCalls.contains(calls) { batch.pixels[0] = .nan }
        return batch
    }
}

final class DivergenceTests: XCTestCase {
    func session(_ dir: String, poisonedCalls: Set<Int>, retries: Int) throws -> (TrainingSession, PoisonedTrainingSet) {
        var rng = SplitMix64(seed: 3)
        let pixels = Tensor.randomUniform(shape: [32 * 32 * 32], lowerBound: -1, upperBound: 1, using: &rng).scalars
        let data = PoisonedTrainingSet(try ImageDataset(images: pixels, labels: nil, channels: 1, height: 32, width: 32),
                                       poisonedCalls: poisonedCalls)
        var c = smallConfiguration()
        c.discriminatorLearningRate = 4e-4
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: c), dataset: data)
        var schedule = TrainingSchedule()
        schedule.steps = 6
        schedule.sampleEvery = 100
        schedule.checkpointEvery = 2
        schedule.logEvery = 100
        let session = TrainingSession(trainer: trainer, run: RunDirectory(dir), schedule: schedule)
        session.nanRetries = retries
        return (session, data)
    }

    /// Without retries a NaN stops the run with the term and the step; the last checkpoint stays as it was.
    func testNaNStopsWithoutRetries() throws {
        let dir = temporaryDirectory("nan-stop")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (session, _) = try session(dir, poisonedCalls: [5], retries: 0)
        session.report = { _ in }
        XCTAssertThrowsError(try session.run()) { error in
            XCTAssertTrue("\(error)".contains("discriminator loss became NaN at step 5"), "\(error)")
            XCTAssertTrue("\(error)".contains("--nan-retries"), "\(error)")
        }
        XCTAssertEqual(try Checkpoint.read(dir + "/checkpoint.safetensors").step, 4)
    }

    /// With retries the run goes back to its checkpoint, halves both learning rates, and finishes.
    func testNaNRollsBackHalvesTheLearningRatesAndFinishes() throws {
        let dir = temporaryDirectory("nan-rollback")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (session, data) = try session(dir, poisonedCalls: [5], retries: 2)
        var lines: [String] = []
        session.report = { lines.append($0) }
        XCTAssertEqual(try session.run(), .finished)
        XCTAssertEqual(session.rollbacks, 1)
        XCTAssertEqual(session.trainer.step, 6)
        XCTAssertEqual(data.calls, 7, "steps 1-5, then 5 and 6 again")
        XCTAssertEqual(session.trainer.gan.configuration.learningRate, 1e-4, accuracy: 1e-9)
        XCTAssertEqual(session.trainer.gan.configuration.discriminatorLearningRate ?? 0, 2e-4, accuracy: 1e-9)
        XCTAssertEqual(session.trainer.generatorOptimizer.learningRate, 1e-4, accuracy: 1e-9)
        XCTAssertTrue(lines.contains { $0.contains("became NaN at step 5; rolled back to step 4") && $0.contains("retry 1 of 2") }, "\(lines)")
        // The saved state carries the lowered rate, so --resume continues with it.
        XCTAssertEqual(try Checkpoint.read(dir + "/checkpoint.safetensors").configuration.learningRate, 1e-4, accuracy: 1e-9)
        XCTAssertTrue(try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).contains("\"rollback_to\":4"))
        XCTAssertTrue(session.trainer.gan.stateDictionary().values.allSatisfy { $0.scalars.allSatisfy { $0.isFinite } })
    }

    /// An update that overflows the weights while the losses are still finite is caught at once and never saved.
    func testOverflowingWeightsStopTheRunAndAreNeverSaved() throws {
        let dir = temporaryDirectory("overflow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SplitMix64(seed: 3)
        let pixels = Tensor.randomUniform(shape: [16 * 32 * 32], lowerBound: -1, upperBound: 1, using: &rng).scalars
        var c = smallConfiguration()
        c.learningRate = 1e15
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: c),
                                       dataset: try ImageDataset(images: pixels, labels: nil, channels: 1, height: 32, width: 32))
        var schedule = TrainingSchedule()
        schedule.steps = 3
        schedule.checkpointEvery = 1
        let session = TrainingSession(trainer: trainer, run: RunDirectory(dir), schedule: schedule)
        session.report = { _ in }
        session.nanRetries = 2
        XCTAssertThrowsError(try session.run()) { error in
            XCTAssertTrue("\(error)".contains("weight") && "\(error)".contains("at step 1"), "\(error)")
            XCTAssertTrue("\(error)".contains("2 roll-back(s) with halved learning rates did not help"), "\(error)")
        }
        // What is on disk is the finite starting state, which loads.
        let saved = try Checkpoint.read(dir + "/checkpoint.safetensors")
        XCTAssertEqual(saved.step, 0)
        XCTAssertNoThrow(try saved.makeGAN(path: dir + "/checkpoint.safetensors"))
    }

    /// A divergence that keeps coming back uses up the retries and then stops; before the first checkpoint the run
    /// goes back to its starting state.
    func testRetriesRunOutAndEarlyDivergenceGoesBackToTheStart() throws {
        let dir = temporaryDirectory("nan-exhausted")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (session, _) = try session(dir, poisonedCalls: [1, 2, 3], retries: 2)
        var lines: [String] = []
        session.report = { lines.append($0) }
        XCTAssertThrowsError(try session.run()) { error in XCTAssertTrue("\(error)".contains("at step 1"), "\(error)") }
        XCTAssertEqual(session.rollbacks, 2)
        XCTAssertTrue(lines.contains { $0.contains("rolled back to step 0") && $0.contains("retry 2 of 2") }, "\(lines)")
        XCTAssertEqual(try Checkpoint.read(dir + "/checkpoint.safetensors").configuration.learningRate, 5e-5, accuracy: 1e-9)
    }
}

final class RunFolderTests: XCTestCase {
    /// Two sessions cannot train in one run folder at once; the lock goes with the session.
    func testRunFolderLockRefusesASecondProcessUntilReleased() throws {
        let dir = temporaryDirectory("lock")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = RunDirectory(dir)
        try run.create()
        let first = try RunLock(directory: run)
        XCTAssertThrowsError(try RunLock(directory: run)) { error in
            XCTAssertTrue("\(error)".contains("another training process (pid \(getpid()))"), "\(error)")
            XCTAssertTrue("\(error)".contains(dir), "\(error)")
        }
        first.release()
        try RunLock(directory: run).release()
    }

    /// A run killed after logging steps its checkpoint does not have: resuming drops those lines instead of
    /// logging the steps twice.
    func testResumingDropsLogLinesPastTheCheckpoint() throws {
        let dir = temporaryDirectory("log-prune")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dataset = try ImageDataset(images: [Float](repeating: 0.5, count: 16 * 32 * 32), labels: nil, channels: 1, height: 32, width: 32)
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: smallConfiguration()), dataset: dataset, step: 4)
        var lines = (1...7).map { "{\"step\":\($0),\"loss/discriminator\":1}" }
        lines.insert("not json", at: 2)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/log.jsonl", atomically: true, encoding: .utf8)
        var schedule = TrainingSchedule()
        schedule.steps = 4
        let session = TrainingSession(trainer: trainer, run: RunDirectory(dir), schedule: schedule)
        var reports: [String] = []
        session.report = { reports.append($0) }
        XCTAssertEqual(try session.run(), .finished)
        let kept = try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(kept, ["{\"step\":1,\"loss/discriminator\":1}", "{\"step\":2,\"loss/discriminator\":1}", "not json",
                              "{\"step\":3,\"loss/discriminator\":1}", "{\"step\":4,\"loss/discriminator\":1}"])
        XCTAssertTrue(reports.contains { $0.contains("dropped 3 log line(s) of steps after 4") }, "\(reports)")
    }
}

/// Sampling through the folded chain gives what the layers give one by one.
final class EvaluationChainTests: XCTestCase {
    func check(_ configuration: DCGANConfiguration) {
        let gan = DCGAN(configuration: configuration)
        let generator = gan.generator
        // Batch-norm statistics and scales away from their initial values, so folding them matters.
        var rng = SplitMix64(seed: 9)
        for block in generator.blocks {
            guard let norm = block.norm else { continue }
            let c = norm.weight.value.scalarCount
            norm.runningMean.value = Tensor.randomNormal(shape: [c], using: &rng) * 0.5
            norm.runningVariance.value = Tensor(shape: [c], scalars: (0..<c).map { _ in Float.random(in: 0.5...2, using: &rng) })
            norm.bias.value = Tensor.randomNormal(shape: [c], using: &rng) * 0.3
        }
        let z = gan.latents(count: 5, seed: 3)
        generator.setTraining(false)
        let layerByLayer = GradientRecording.withoutRecording { generator(z) }
        generator.setTraining(true)
        XCTAssertNotNil(generator.evaluationChain())
        let chained = gan.generate(z, batchSize: 4)
        XCTAssertEqual(chained.shape, layerByLayer.shape)
        let a = chained.scalars, b = layerByLayer.scalars
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThan(worst, 1e-4, "largest difference \(worst)")
        XCTAssertGreaterThan(Set(b).count, b.count / 2, "most pixels differ from each other")
    }

    func testImageGenerator() {
        var c = DCGANConfiguration()
        c.imageSize = 32
        c.generatorWidth = 12
        c.discriminatorWidth = 8
        check(c)
    }

    func testVolumeGenerator() {
        var c = DCGANConfiguration()
        c.spatialRank = 3
        c.imageSize = 16
        c.generatorWidth = 8
        c.discriminatorWidth = 8
        check(c)
    }

    func testConditionalGeneratorHasNoChain() {
        var c = DCGANConfiguration()
        c.imageSize = 32
        c.classCount = 3
        c.generatorWidth = 8
        XCTAssertNil(DCGAN(configuration: c).generator.evaluationChain())
    }
}

/// Shapes loaded for fitting and evaluation stand as the model's shapes do.
final class VoxelComparisonTests: XCTestCase {
    func testUpAxisOutOfRangeIsAConfigurationProblem() {
        var c = DCGANConfiguration()
        XCTAssertNil(c.problem)
        c.upAxis = 9
        XCTAssertEqual(c.problem, "the up axis must be 0 (x), 1 (y) or 2 (z), got 9")
    }

    func testQuarterTurnMovesYUpToZUpAndBack() {
        let n = 5
        var grid = VoxelGrid(size: n, values: [Float](repeating: 0, count: n * n * n))
        grid.values[(1 * n + (n - 1)) * n + 2] = 1          // (x 1, y top, z 2)
        let turned = grid.rotatedQuarterTurnAboutX(yUpToZUp: true)
        XCTAssertEqual(turned.occupiedCount, 1)
        XCTAssertEqual(turned.values[(1 * n + (n - 3)) * n + (n - 1)], 1, "the top along y is the top along z")
        XCTAssertEqual(turned.rotatedQuarterTurnAboutX(yUpToZUp: false), grid)
    }

    /// Between every pair of axes: a stick from the origin along one axis lies along the other after the turn, the
    /// turn back restores the grid, and the turn is proper (x to y then y to z then z to x gives the grid back).
    func testQuarterTurnBetweenAnyTwoAxes() {
        let n = 4
        func stick(along axis: Int) -> VoxelGrid {
            var grid = VoxelGrid(size: n, values: [Float](repeating: 0, count: n * n * n))
            for i in 0..<n { var p = [0, 0, 0]; p[axis] = i; grid.values[(p[0] * n + p[1]) * n + p[2]] = 1 }
            return grid
        }
        var asymmetric = VoxelGrid(size: n, values: (0..<(n * n * n)).map { Float(($0 * 7) % 11) / 10 })
        asymmetric.values[0] = 1
        for from in 0..<3 {
            for to in 0..<3 where to != from {
                let turned = stick(along: from).rotatedQuarterTurn(bringing: from, to: to)
                // The stick keeps its length and points along `to`, at the far side of `from`.
                var expected = VoxelGrid(size: n, values: [Float](repeating: 0, count: n * n * n))
                for i in 0..<n { var p = [0, 0, 0]; p[to] = i; p[from] = n - 1; expected.values[(p[0] * n + p[1]) * n + p[2]] = 1 }
                XCTAssertEqual(turned, expected, "\(from) -> \(to)")
                XCTAssertEqual(asymmetric.rotatedQuarterTurn(bringing: from, to: to).rotatedQuarterTurn(bringing: to, to: from),
                               asymmetric, "\(from) -> \(to) and back")
            }
        }
        XCTAssertEqual(asymmetric.rotatedQuarterTurn(bringing: 1, to: 2), asymmetric.rotatedQuarterTurnAboutX(yUpToZUp: true))
        XCTAssertEqual(asymmetric.rotatedQuarterTurn(bringing: 0, to: 0), asymmetric)
    }

    func testShapesAreTurnedFileByFileToTheModelsUpAxisAndEmptyShapesNamed() throws {
        let folder = temporaryDirectory("comparison")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let n = 8
        func layer(_ index: (Int, Int) -> Int) -> VoxelGrid {
            var grid = VoxelGrid(size: n, values: [Float](repeating: 0, count: n * n * n))
            for a in 0..<n { for b in 0..<n { grid.values[index(a, b)] = 1 } }
            return grid
        }
        let yFloor = layer { x, z in (x * n + 0) * n + z }      // the y = 0 layer: a floor when y is up
        let zFloor = layer { x, y in (x * n + y) * n + 0 }      // the z = 0 layer: a floor when z is up
        // One folder, one file of each convention: each is turned on its own.
        try FileManager.default.createDirectory(atPath: folder + "/mixed", withIntermediateDirectories: true)
        try VoxelIO.writeBinvox(yFloor, to: folder + "/mixed/a.binvox")
        try VoxelIO.writeNPY(zFloor, to: folder + "/mixed/b.npy")
        XCTAssertEqual(VoxelDataset.storedUpAxis(folder + "/mixed/a.binvox"), 1)
        XCTAssertEqual(VoxelDataset.storedUpAxis(folder + "/mixed/b.npy"), 2)
        let zUp = try VoxelDataset.loadForComparison(folder + "/mixed", size: n, upAxis: 2)
        XCTAssertEqual(zUp.map(\.grid), [zFloor, zFloor])
        XCTAssertEqual(zUp.map(\.source), [folder + "/mixed/a.binvox", folder + "/mixed/b.npy"])
        let yUp = try VoxelDataset.loadForComparison(folder + "/mixed", size: n, upAxis: 1)
        XCTAssertEqual(yUp.map(\.grid), [yFloor, yFloor])
        // A file that breaks its format's convention: its up axis given explicitly.
        let overridden = try VoxelDataset.loadForComparison(folder + "/mixed/b.npy", size: n, upAxis: 2, filesUpAxis: 1)
        XCTAssertEqual(overridden.map(\.grid), [zFloor.rotatedQuarterTurn(bringing: 1, to: 2)])
        let xFloor = layer { y, z in (0 * n + y) * n + z }      // the x = 0 layer: a floor when x is up
        XCTAssertEqual(try VoxelDataset.loadForComparison(folder + "/mixed/b.npy", size: n, upAxis: 0).map(\.grid), [xFloor])

        // An empty shape is loaded, and refused by name where it is used.
        let empty = folder + "/empty.npy"
        try VoxelIO.writeNPY(VoxelGrid(size: n, values: [Float](repeating: 0, count: n * n * n)), to: empty)
        let loaded = try VoxelDataset.loadForComparison(empty, size: n, upAxis: 2)
        XCTAssertThrowsError(try VoxelDataset.requireOccupied(loaded[0].grid, source: loaded[0].source)) { error in
            XCTAssertTrue("\(error)".contains("empty.npy is empty"), "\(error)")
        }
    }
}
