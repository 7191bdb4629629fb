import Foundation
import SwiftGANData
import SwiftGANNN

/// The numbers one training step reports.
public struct TrainingStatistics: Codable, Equatable {
    public var step: Int
    /// `BCE(D(x), 1) + BCE(D(G(z)), 0)`.
    public var discriminatorLoss: Float
    /// The non-saturating generator loss `BCE(D(G(z)), 1)`.
    public var generatorLoss: Float
    /// Mean `sigmoid(D(x))` on the real batch: the discriminator's belief that real images are real.
    public var realScore: Float
    /// Mean `sigmoid(D(G(z)))` before the discriminator update.
    public var fakeScore: Float
}

/// A loss that is not a finite number: training has diverged.
public struct NonFiniteLossError: Error, CustomStringConvertible {
    public let term: String
    public let step: Int
    public let value: Float
    public var description: String { "the \(term) became \(value) at step \(step); stopping (the last checkpoint is kept)" }
}

/// Trains a DCGAN with the non-saturating loss: per step, one discriminator update on a real and a generated batch,
/// then one generator update through the updated discriminator (the generated batch is reused).
public final class DCGANTrainer {
    public let gan: DCGAN
    public let generatorOptimizer: Adam
    public let discriminatorOptimizer: Adam
    public let dataset: ImageDataset
    /// Steps completed.
    public private(set) var step: Int

    /// - Throws: `DataError.invalidDataset` when the dataset's images do not match the configuration or are too few
    ///   for one batch.
    public init(gan: DCGAN, dataset: ImageDataset, step: Int = 0) throws {
        let c = gan.configuration
        guard dataset.channels == c.imageChannels, dataset.height == c.imageSize, dataset.width == c.imageSize else {
            throw DataError.invalidDataset(
                "the dataset has \(dataset.channels)x\(dataset.height)x\(dataset.width) images but the model makes \(c.imageChannels)x\(c.imageSize)x\(c.imageSize)")
        }
        try dataset.validateBatchSize(c.batchSize)
        self.gan = gan
        self.dataset = dataset
        self.step = step
        generatorOptimizer = Adam(parameters: gan.generator.namedTrainableParameters(), learningRate: c.learningRate,
                                  beta1: c.beta1, beta2: c.beta2)
        discriminatorOptimizer = Adam(parameters: gan.discriminator.namedTrainableParameters(), learningRate: c.learningRate,
                                      beta1: c.beta1, beta2: c.beta2)
    }

    /// The real batch of a step (the same on every run with the same seed, including a resumed one).
    func realBatch(atStep step: Int) throws -> Tensor {
        let c = gan.configuration
        let indices = try dataset.batch(atStep: step, size: c.batchSize, seed: c.seed)
        let pixels = dataset.gather(indices).pixels
        return Tensor(shape: [indices.count, dataset.channels, dataset.height, dataset.width], scalars: pixels)
    }

    /// Runs one step and returns its statistics.
    /// - Throws: `NonFiniteLossError` when a loss is not finite (nothing is updated then).
    @discardableResult
    public func trainStep() throws -> TrainingStatistics {
        let c = gan.configuration
        let real = try realBatch(atStep: step)
        let z = gan.latents(count: real.shape[0], seed: SeededRandomNumberGenerator.mix(c.seed, UInt64(step) &+ 0x5EED))
        let fake = gan.generator(z)

        // Discriminator: real images toward 1, generated (detached from the generator) toward 0.
        let realLogits = gan.discriminator(real)
        let fakeLogits = gan.discriminator(fake.detached)
        let discriminatorLoss = binaryCrossEntropy(logits: realLogits, label: 1) + binaryCrossEntropy(logits: fakeLogits, label: 0)
        guard discriminatorLoss.scalar.isFinite else {
            throw NonFiniteLossError(term: "discriminator loss", step: step, value: discriminatorLoss.scalar)
        }
        let dParameters = discriminatorOptimizer.parameters.map { $0.parameter.value }
        discriminatorOptimizer.update(gradients: gradient(of: discriminatorLoss, wrt: dParameters))

        // Generator: make the updated discriminator call the same generated images real.
        let generatorLoss = binaryCrossEntropy(logits: gan.discriminator(fake), label: 1)
        guard generatorLoss.scalar.isFinite else {
            throw NonFiniteLossError(term: "generator loss", step: step, value: generatorLoss.scalar)
        }
        let gParameters = generatorOptimizer.parameters.map { $0.parameter.value }
        generatorOptimizer.update(gradients: gradient(of: generatorLoss, wrt: gParameters))

        let statistics = TrainingStatistics(step: step + 1, discriminatorLoss: discriminatorLoss.scalar,
                                            generatorLoss: generatorLoss.scalar,
                                            realScore: realLogits.detached.sigmoid().mean().scalar,
                                            fakeScore: fakeLogits.detached.sigmoid().mean().scalar)
        step += 1
        return statistics
    }

    /// The full training state.
    public func checkpoint() -> Checkpoint {
        Checkpoint(gan: gan, generatorOptimizer: generatorOptimizer, discriminatorOptimizer: discriminatorOptimizer, step: step)
    }

    /// A trainer that continues from `checkpoint`.
    public static func resuming(from checkpoint: Checkpoint, path: String, dataset: ImageDataset) throws -> DCGANTrainer {
        let gan = try checkpoint.makeGAN(path: path)
        let trainer = try DCGANTrainer(gan: gan, dataset: dataset, step: checkpoint.step)
        try checkpoint.restore(generatorOptimizer: trainer.generatorOptimizer,
                               discriminatorOptimizer: trainer.discriminatorOptimizer, path: path)
        return trainer
    }
}
