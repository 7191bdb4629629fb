import Foundation
import SwiftGANData
import SwiftGANNN

/// The numbers one training step reports.
public struct TrainingStatistics: Codable, Equatable {
    public var step: Int
    /// The discriminator's loss: `BCE(D(x), 1) + BCE(D(G(z)), 0)`, or the hinge loss.
    public var discriminatorLoss: Float
    /// The generator's loss: non-saturating `BCE(D(G(z)), 1)`, or hinge `-mean(D(G(z)))`.
    public var generatorLoss: Float
    /// Mean `sigmoid(D(x))` on the real batch: the discriminator's belief that real images are real (for the hinge
    /// loss, the sigmoid of its score).
    public var realScore: Float
    /// Mean `sigmoid(D(G(z)))` before the discriminator update.
    public var fakeScore: Float
}

/// A loss that is not a finite number: training has diverged.
public struct NonFiniteLossError: Error, CustomStringConvertible {
    public let term: String
    public let step: Int
    public let value: Float
    /// Advice appended to the message (what the user can do next); empty for none.
    public var advice = "a lower --learning-rate (given with --resume, or for a new run), or --nan-retries N to roll back "
        + "and halve it automatically, may help"
    public init(term: String, step: Int, value: Float) {
        self.term = term
        self.step = step
        self.value = value
    }
    public var description: String {
        "the \(term) became \(value.isNaN ? "NaN" : "\(value)") at step \(step); stopping without saving that step "
            + "(a checkpoint saved earlier is left as it was)" + (advice.isEmpty ? "" : "; " + advice)
    }
}

/// Trains a DCGAN with the non-saturating loss: per step, one discriminator update on a real and a generated batch,
/// then one generator update through the updated discriminator (the generated batch is reused).
public final class DCGANTrainer {
    public let gan: DCGAN
    public let generatorOptimizer: Adam
    public let discriminatorOptimizer: Adam
    public let dataset: any TrainingSet
    /// Steps completed.
    public private(set) var step: Int

    /// - Throws: `DataError.invalidDataset` when the dataset's images do not match the configuration or are too few
    ///   for one batch.
    public init(gan: DCGAN, dataset: any TrainingSet, step: Int = 0) throws {
        let c = gan.configuration
        guard dataset.sampleShape == c.sampleShape else {
            let shown = { (shape: [Int]) in shape.map(String.init).joined(separator: "x") }
            throw DataError.invalidDataset(
                "the dataset has \(shown(dataset.sampleShape)) samples but the model makes \(shown(c.sampleShape))")
        }
        try dataset.validateBatchSize(c.batchSize)
        if let classes = c.classCount {
            guard let labels = dataset.labels else {
                throw DataError.invalidDataset("a conditional GAN needs labels, and the dataset \(c.dataset) has none")
            }
            if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
                throw DataError.invalidDataset("the dataset \(c.dataset) has label \(bad), outside the model's \(classes) classes")
            }
        }
        self.gan = gan
        self.dataset = dataset
        self.step = step
        generatorOptimizer = Adam(parameters: gan.generator.namedTrainableParameters(), learningRate: c.learningRate,
                                  beta1: c.beta1, beta2: c.beta2)
        discriminatorOptimizer = Adam(parameters: gan.discriminator.namedTrainableParameters(),
                                      learningRate: c.discriminatorLearningRate ?? c.learningRate, beta1: c.beta1, beta2: c.beta2)
    }

    /// The real batch of a step and its labels (the same on every run with the same seed, including a resumed one).
    func realBatch(atStep step: Int) throws -> (images: Tensor, labels: [Int]?) {
        let c = gan.configuration
        let indices = try dataset.batch(atStep: step, size: c.batchSize, seed: c.seed)
        let batch = dataset.gather(indices)
        return (Tensor(shape: [indices.count] + dataset.sampleShape, scalars: batch.pixels), batch.labels)
    }

    /// Runs one step and returns its statistics.
    /// - Throws: `NonFiniteLossError` when a loss is not finite (nothing is updated then).
    @discardableResult
    public func trainStep() throws -> TrainingStatistics {
        let c = gan.configuration
        let (real, realLabels) = try realBatch(atStep: step)
        let n = real.shape[0]
        let noiseSeed = SeededRandomNumberGenerator.mix(c.seed, UInt64(step) &+ 0x5EED)
        let z = gan.latents(count: n, seed: noiseSeed)
        // A conditional GAN draws the generated images' classes uniformly.
        let fakeLabels: [Int]? = gan.isConditional ? gan.randomLabels(count: n, seed: noiseSeed &+ 1) : nil
        let fake = gan.generator(z, labels: fakeLabels)

        // Discriminator: real images toward "real", generated ones (detached from the generator) toward "fake".
        let realLogits = gan.discriminator(real, labels: gan.isConditional ? realLabels : nil)
        let fakeLogits = gan.discriminator(fake.detached, labels: fakeLabels)
        let discriminatorLoss: Tensor
        switch c.loss {
        case .nonSaturating:
            discriminatorLoss = binaryCrossEntropy(logits: realLogits, label: 1) + binaryCrossEntropy(logits: fakeLogits, label: 0)
        case .hinge:
            discriminatorLoss = hingeDiscriminatorLoss(realLogits: realLogits, fakeLogits: fakeLogits)
        }
        guard discriminatorLoss.scalar.isFinite else {
            throw NonFiniteLossError(term: "discriminator loss", step: step + 1, value: discriminatorLoss.scalar)
        }
        // 3D-GAN's rule: leave a discriminator that is already accurate enough alone this step.
        let accuracy = (realLogits.scalars.filter { $0 > 0 }.count + fakeLogits.scalars.filter { $0 < 0 }.count)
        let skipDiscriminator = c.discriminatorAccuracyLimit.map { Float(accuracy) / Float(2 * n) > $0 } ?? false
        if !skipDiscriminator {
            let dParameters = discriminatorOptimizer.parameters.map { $0.parameter.value }
            discriminatorOptimizer.update(gradients: gradient(of: discriminatorLoss, wrt: dParameters))
        }

        // Generator: make the updated discriminator call the same generated images real.
        let fakeLogitsAfter = gan.discriminator(fake, labels: fakeLabels)
        let generatorLoss = c.loss == .hinge ? hingeGeneratorLoss(fakeLogits: fakeLogitsAfter)
            : binaryCrossEntropy(logits: fakeLogitsAfter, label: 1)
        guard generatorLoss.scalar.isFinite else {
            throw NonFiniteLossError(term: "generator loss", step: step + 1, value: generatorLoss.scalar)
        }
        let gParameters = generatorOptimizer.parameters.map { $0.parameter.value }
        generatorOptimizer.update(gradients: gradient(of: generatorLoss, wrt: gParameters))
        gan.updateGeneratorAverage(step: step + 1)
        // Finite losses can still come with an update that overflowed the weights (a far too high learning rate);
        // such a state must never be saved.
        for (network, module) in [("generator", gan.generator as Module), ("discriminator", gan.discriminator as Module)] {
            for (name, p) in module.namedParameters() {
                if let bad = p.value.scalars.first(where: { !$0.isFinite }) {
                    throw NonFiniteLossError(term: "\(network) weight \(name)", step: step + 1, value: bad)
                }
            }
        }

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
    public static func resuming(from checkpoint: Checkpoint, path: String, dataset: any TrainingSet) throws -> DCGANTrainer {
        let gan = try checkpoint.makeGAN(path: path)
        let trainer = try DCGANTrainer(gan: gan, dataset: dataset, step: checkpoint.step)
        try checkpoint.restore(generatorOptimizer: trainer.generatorOptimizer,
                               discriminatorOptimizer: trainer.discriminatorOptimizer, path: path)
        return trainer
    }
}
