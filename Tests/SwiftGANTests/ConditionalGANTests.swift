import XCTest
import Foundation
@testable import SwiftGAN
import SwiftGANData
import SwiftGANNN
import SwiftGANVoxels

final class ConditionalGANTests: XCTestCase {
    func labelledDataset(count: Int = 24, classes: Int = 3) throws -> ImageDataset {
        var rng = SplitMix64(seed: 4)
        let pixels = Tensor.randomUniform(shape: [count * 32 * 32], lowerBound: -1, upperBound: 1, using: &rng).scalars
        return try ImageDataset(images: pixels, labels: (0..<count).map { $0 % classes }, channels: 1, height: 32, width: 32)
    }

    func testConditionalModelUsesItsLabels() {
        var c = smallConfiguration()
        c.classCount = 3
        let gan = DCGAN(configuration: c)
        let names = gan.namedParameters().map { $0.name }
        XCTAssertTrue(names.contains("generator.blocks.0.conditionalNorm.scale.weight"))
        XCTAssertTrue(names.contains("discriminator.projection.weight"))
        let z = gan.latents(count: 2, seed: 1)
        let zz = Tensor.concatenate([z.sliced(alongAxis: 0, 0..<1), z.sliced(alongAxis: 0, 0..<1)], alongAxis: 0)
        // Break the symmetry of the freshly initialized class tables so classes differ.
        for block in gan.generator.blocks {
            var rng = SplitMix64(seed: 9)
            let table = block.conditionalNorm!.shift.weight
            table.value = Tensor.randomNormal(shape: table.value.shape, using: &rng)
        }
        let images = gan.generate(zz, labels: [0, 2]).scalars
        let half = images.count / 2
        XCTAssertNotEqual(Array(images[..<half]), Array(images[half...]), "the same latent with another class gives another image")
        let grid = gan.previewGrid(latents: gan.latents(count: 64, seed: 2))
        XCTAssertEqual(grid.height, 3 * 32 + 4 * 2, "one row per class")
        XCTAssertEqual(gan.discriminator(Tensor.zeros([2, 1, 32, 32]), labels: [0, 1]).shape, [2, 1])
    }

    func testConditionalHingeSpectralNormTrainingAndCheckpoint() throws {
        var c = smallConfiguration()
        c.classCount = 3
        c.loss = .hinge
        c.spectralNormalization = true
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: c), dataset: labelledDataset())
        XCTAssertNil(trainer.gan.discriminator.blocks[0].norm, "spectral normalization replaces batch norm in D")
        var stats: [TrainingStatistics] = []
        for _ in 0..<4 { stats.append(try trainer.trainStep()) }
        XCTAssertTrue(stats.allSatisfy { $0.discriminatorLoss.isFinite && $0.generatorLoss.isFinite })
        // The power-iteration vectors are saved and restored.
        let dir = temporaryDirectory("conditional")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try trainer.checkpoint().write(to: dir + "/c.safetensors")
        let loaded = try Checkpoint.read(dir + "/c.safetensors")
        XCTAssertEqual(loaded.configuration, c)
        XCTAssertNotNil(loaded.tensors["discriminator.input.spectralNorm.u"])
        let again = try loaded.makeGAN(path: dir + "/c.safetensors")
        XCTAssertEqual(again.discriminator.input.spectralNorm!.u.value.scalars, trainer.gan.discriminator.input.spectralNorm!.u.value.scalars)
        let z = trainer.gan.latents(count: 3, seed: 5)
        XCTAssertEqual(again.generate(z, labels: [0, 1, 2]).scalars, trainer.gan.generate(z, labels: [0, 1, 2]).scalars)
    }

    func testConditionalTrainingRefusesUnlabelledOrOutOfRangeData() throws {
        var c = smallConfiguration()
        c.classCount = 2
        let unlabelled = try ImageDataset(images: [Float](repeating: 0, count: 16 * 32 * 32), labels: nil, channels: 1, height: 32, width: 32)
        XCTAssertThrowsError(try DCGANTrainer(gan: DCGAN(configuration: c), dataset: unlabelled)) { error in
            XCTAssertTrue("\(error)".contains("needs labels"), "\(error)")
        }
        XCTAssertThrowsError(try DCGANTrainer(gan: DCGAN(configuration: c), dataset: labelledDataset(classes: 3))) { error in
            XCTAssertTrue("\(error)".contains("label 2"), "\(error)")
        }
    }

    /// Checkpoints written before the conditional options existed still load, as unconditional models.
    func testOlderConfigurationJSONStillDecodes() throws {
        let old = #"{"batchSize":64,"beta1":0.5,"beta2":0.999,"dataset":"fashion-mnist","discriminatorWidth":32,"generatorWidth":32,"imageChannels":1,"imageSize":32,"latentSize":100,"learningRate":0.0002,"seed":1}"#
        let c = try DCGANConfiguration.fromJSON(old)
        XCTAssertNil(c.classCount)
        XCTAssertEqual(c.loss, .nonSaturating)
        XCTAssertFalse(c.spectralNormalization)
        XCTAssertEqual(c.generatorWidth, 32)
    }
}

final class VolumetricGANTests: XCTestCase {
    func testThreeDimensionalModelTrainsOnVoxelGrids() throws {
        var c = smallConfiguration(batch: 4)
        c.spatialRank = 3
        c.latentSize = 8
        c.discriminatorLearningRate = 1e-5
        c.discriminatorAccuracyLimit = 0.8
        // Boxes of random sizes in a 32^3 grid.
        var rng = SplitMix64(seed: 6)
        var occupancy = [Float](repeating: 0, count: 8 * 32 * 32 * 32)
        for k in 0..<8 {
            let r = 4 + Int(rng.next() % 8)
            for z in (16 - r)..<(16 + r) { for y in (16 - r)..<(16 + r) { for x in (16 - r)..<(16 + r) {
                occupancy[((k * 32 + z) * 32 + y) * 32 + x] = 1
            }}}
        }
        let data = try VoxelDataset(occupancy: occupancy, count: 8, size: 32)
        XCTAssertEqual(data.sampleShape, [1, 32, 32, 32])
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: c), dataset: data)
        XCTAssertEqual(trainer.discriminatorOptimizer.learningRate, 1e-5)
        for _ in 0..<2 {
            let stats = try trainer.trainStep()
            XCTAssertTrue(stats.discriminatorLoss.isFinite && stats.generatorLoss.isFinite)
        }
        let volumes = trainer.gan.generate(trainer.gan.latents(count: 2, seed: 1))
        XCTAssertEqual(volumes.shape, [2, 1, 32, 32, 32])
        let preview = trainer.gan.previewGrid(latents: trainer.gan.latents(count: 8, seed: 1))
        XCTAssertEqual(preview.width, 8 * 96 + 9 * 2, "eight rendered shapes in a row")
        XCTAssertTrue(preview.pixels.contains { $0 < 200 }, "the renders show shaded surfaces, not only background")
        // Shape inversion: optimizing the latent lowers the error from where it started.
        let target = DCGAN.voxelGrids(from: trainer.gan.generate(trainer.gan.latents(count: 1, seed: 99)))[0].binarized()
        let goal = Tensor(shape: [1, 1, 32, 32, 32], scalars: target.values.map { $0 >= 0.5 ? 1 : -1 })
        trainer.gan.generator.setTraining(false)
        let startError = trainer.gan.meanSquaredError(trainer.gan.latents(count: 1, seed: 7), goal)
        trainer.gan.generator.setTraining(true)
        let fitted = trainer.gan.fitLatent(to: target, steps: 15, starts: 1, learningRate: 0.1)
        XCTAssertEqual(fitted.latent.count, 8)
        XCTAssertLessThan(fitted.error, startError)
        XCTAssertTrue((0...1).contains(fitted.iou))
        // 2D images are refused by a 3D model, with both shapes named.
        let images = try ImageDataset(images: [Float](repeating: 0, count: 8 * 32 * 32), labels: nil, channels: 1, height: 32, width: 32)
        XCTAssertThrowsError(try DCGANTrainer(gan: DCGAN(configuration: c), dataset: images)) { error in
            XCTAssertTrue("\(error)".contains("1x32x32") && "\(error)".contains("1x32x32x32"), "\(error)")
        }
    }
}
