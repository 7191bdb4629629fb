import XCTest
import Foundation
@testable import SwiftGAN
import SwiftGANData
import SwiftGANNN

/// The exponential moving average of the generator's weights (`--generator-average`).
final class GeneratorAverageTests: XCTestCase {
    func averagedConfiguration(decay: Float = 0.9) -> DCGANConfiguration {
        var c = smallConfiguration()
        c.generatorAverageDecay = decay
        return c
    }

    func randomDataset(count: Int = 40) throws -> ImageDataset {
        var rng = SplitMix64(seed: 5)
        let pixels = Tensor.randomUniform(shape: [count * 32 * 32], lowerBound: -1, upperBound: 1, using: &rng).scalars
        return try ImageDataset(images: pixels, labels: nil, channels: 1, height: 32, width: 32)
    }

    func testAverageStartsEqualAndFollowsTheFormula() {
        let gan = DCGAN(configuration: averagedConfiguration(decay: 0.9))
        let average = gan.averagedGenerator!
        let pairs = zip(average.namedParameters(), gan.generator.namedParameters()).map { ($0.parameter, $1.parameter) }
        XCTAssertEqual(average.namedParameters().map { $0.name }, gan.generator.namedParameters().map { $0.name })
        for (a, g) in pairs { XCTAssertEqual(a.value.scalars, g.value.scalars) }
        // Move the generator's weights, keep a copy of the old average, update at step 50 (d = min(0.9, 51/60) = 0.85).
        let old = pairs.map { $0.0.value.scalars }
        for (_, g) in pairs { g.value = g.value.detached + 1 }
        gan.updateGeneratorAverage(step: 50)
        let d: Float = 51.0 / 60.0
        for ((a, g), before) in zip(pairs, old) {
            for (i, value) in a.value.scalars.enumerated() {
                XCTAssertEqual(value, d * before[i] + (1 - d) * g.value.scalars[i], accuracy: 1e-5)
            }
        }
        // Late in training the decay itself applies.
        let beforeLate = pairs[0].0.value.scalars
        gan.updateGeneratorAverage(step: 10_000)
        XCTAssertEqual(pairs[0].0.value.scalars[0], 0.9 * beforeLate[0] + 0.1 * pairs[0].1.value.scalars[0], accuracy: 1e-5)
    }

    func testSamplingUsesTheAverageAndTrainingMovesIt() throws {
        let gan = DCGAN(configuration: averagedConfiguration())
        let trainer = try DCGANTrainer(gan: gan, dataset: try randomDataset())
        for _ in 0..<3 { try trainer.trainStep() }
        let average = gan.averagedGenerator!
        let z = gan.latents(count: 4, seed: 2)
        let live = gan.generator.blocks[0].conv.weight.value.scalars
        let averaged = average.blocks[0].conv.weight.value.scalars
        XCTAssertNotEqual(live, averaged, "the average lags behind the trained weights")
        // generate() draws from the average, in evaluation mode.
        average.setTraining(false)
        let expected = GradientRecording.withoutRecording { average(z) }
        average.setTraining(true)
        // generate() runs the folded chain: equal up to rounding, and farther from the live generator's images.
        gan.generator.setTraining(false)
        let liveImages = GradientRecording.withoutRecording { gan.generator(z) }.scalars
        gan.generator.setTraining(true)
        let generated = gan.generate(z).scalars
        let toAverage = zip(generated, expected.scalars).map { abs($0 - $1) }.max()!
        let toLive = zip(generated, liveImages).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(toAverage, 1e-5)
        XCTAssertGreaterThan(toLive, 100 * toAverage)
        XCTAssertTrue(gan.samplingGenerator === average)
        let plain = DCGAN(configuration: smallConfiguration())
        XCTAssertNil(plain.averagedGenerator)
        XCTAssertTrue(plain.samplingGenerator === plain.generator)
    }

    func testCheckpointKeepsTheAverageAndResumesExactly() throws {
        let dir = temporaryDirectory("average")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let dataset = try randomDataset()
        let path = dir + "/c.safetensors"
        let (straight, resumed) = try trainStraightAndResumed(averagedConfiguration(decay: 0.99), dataset: dataset, checkpoint: path)
        XCTAssertNotNil(try SafeTensorsFile.read(path).tensors["averagedGenerator.blocks.0.conv.weight"])
        let a = straight.gan.averagedGenerator!.stateDictionary(), b = resumed.gan.averagedGenerator!.stateDictionary()
        for (name, t) in a {
            let diff = zip(t.scalars, b[name]!.scalars).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(diff, 1e-5, name)
        }
    }

    /// A run trained without an average may start one when resumed: the average starts from the trained weights.
    func testAverageStartedOnResumeBeginsAtTheTrainedWeights() throws {
        let dir = temporaryDirectory("average-resume")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: smallConfiguration()), dataset: try randomDataset())
        for _ in 0..<2 { try trainer.trainStep() }
        let path = dir + "/c.safetensors"
        try trainer.checkpoint().write(to: path)
        var checkpoint = try Checkpoint.read(path)
        checkpoint.configuration.generatorAverageDecay = 0.999
        let gan = try checkpoint.makeGAN(path: path)
        XCTAssertEqual(gan.averagedGenerator!.blocks[1].conv.weight.value.scalars, trainer.gan.generator.blocks[1].conv.weight.value.scalars)
        XCTAssertEqual(gan.averagedGenerator!.blocks[1].norm!.runningMean.value.scalars,
                       trainer.gan.generator.blocks[1].norm!.runningMean.value.scalars)
    }

    func testDecayOutsideTheOpenUnitIntervalIsRefused() {
        for bad: Float in [0, 1, 1.5, -0.1, .nan] {
            var c = smallConfiguration()
            c.generatorAverageDecay = bad
            XCTAssertNotNil(c.problem, "\(bad)")
            XCTAssertTrue(c.problem?.contains("--generator-average") ?? false)
        }
        XCTAssertNil(averagedConfiguration(decay: 0.999).problem)
    }
}
