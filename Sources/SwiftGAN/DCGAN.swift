import SwiftGANNN
import SwiftGANData
import SwiftGANVoxels

/// One generator stage: transposed convolution, batch normalization (class-conditional in a conditional GAN), ReLU.
public final class GeneratorBlock: Module {
    public let conv: TransposedConvolution
    /// Batch normalization of an unconditional generator.
    public let norm: BatchNorm?
    /// Class-conditional batch normalization of a conditional generator.
    public let conditionalNorm: ConditionalBatchNorm?

    init<G: RandomNumberGenerator>(spatialRank: Int, inputChannels: Int, outputChannels: Int, stride: Int, padding: Int,
                                   classCount: Int?, using rng: inout G) {
        conv = TransposedConvolution(spatialRank: spatialRank, inputChannels: inputChannels, outputChannels: outputChannels,
                                     kernelSize: 4, stride: stride,
                                     padding: padding, bias: false, initializer: .dcgan, using: &rng)
        if let classes = classCount {
            norm = nil
            conditionalNorm = ConditionalBatchNorm(featureCount: outputChannels, classCount: classes, using: &rng)
        } else {
            norm = BatchNorm(featureCount: outputChannels, weightInitializer: .normal(mean: 1, standardDeviation: 0.02), using: &rng)
            conditionalNorm = nil
        }
    }

    public func callAsFunction(_ input: Tensor, labels: [Int]?) -> Tensor {
        let h = conv(input)
        if let conditional = conditionalNorm {
            guard let labels = labels else { preconditionFailure("GeneratorBlock: a conditional generator needs labels") }
            return conditional(h, labels: labels).relu()
        }
        guard let norm else { return h.relu() }
        return norm.normalizedThenReLU(h)
    }
}

/// The DCGAN generator (Radford et al. 2015): latent `[N, latentSize]` to images `[N, C, S, S]` in [-1, 1].
///
/// A 4x4 transposed convolution turns z into a 4x4 map of `width * 2^(k-1)` channels; each further stage doubles the
/// side and halves the channels (kernel 4, stride 2, padding 1); the last stage outputs the image channels with tanh.
public final class DCGANGenerator: Module {
    public let blocks: [GeneratorBlock]
    public let output: TransposedConvolution
    public let latentSize: Int

    public init<G: RandomNumberGenerator>(configuration c: DCGANConfiguration, using rng: inout G) {
        let stages = c.upsamplingLayers
        var channels = c.generatorWidth << (stages - 1)
        let rank = c.spatialRank
        var blocks = [GeneratorBlock(spatialRank: rank, inputChannels: c.latentSize, outputChannels: channels, stride: 1,
                                     padding: 0, classCount: c.classCount, using: &rng)]
        for _ in 1..<stages {
            blocks.append(GeneratorBlock(spatialRank: rank, inputChannels: channels, outputChannels: channels / 2, stride: 2,
                                         padding: 1, classCount: c.classCount, using: &rng))
            channels /= 2
        }
        self.blocks = blocks
        output = TransposedConvolution(spatialRank: rank, inputChannels: channels, outputChannels: c.imageChannels, kernelSize: 4,
                                       stride: 2, padding: 1, bias: false, initializer: .dcgan, using: &rng)
        latentSize = c.latentSize
        spatialRank = rank
    }

    /// 2 for images, 3 for voxel grids.
    public let spatialRank: Int

    /// - Parameters:
    ///   - input: latent vectors `[N, latentSize]`.
    ///   - labels: the class of each image, for a conditional generator.
    public func callAsFunction(_ input: Tensor, labels: [Int]? = nil) -> Tensor {
        let z = input.reshaped(to: [input.shape[0], latentSize] + [Int](repeating: 1, count: spatialRank))
        return output(blocks.reduce(z) { $1($0, labels: labels) }).tanh()
    }

    /// The generator in evaluation mode as one chain of transposed convolutions (`Tensor.transposedConvolutionChain`):
    /// each batch normalization folded into the weights before it (scaled per output channel) and a bias, then ReLU;
    /// tanh after the last. Nil for a conditional generator, whose normalization depends on the class.
    public func evaluationChain() -> [TransposedConvolutionStage]? {
        var stages: [TransposedConvolutionStage] = []
        for block in blocks {
            guard let norm = block.norm, block.conv.bias == nil, block.conv.outputPadding.allSatisfy({ $0 == 0 }) else { return nil }
            let (scale, shift) = norm.evaluationScaleAndShift
            // weight [in, out, kernel...]: output channel o is scaled by scale[o].
            let w = block.conv.weight.value
            let perOutput = w.scalarCount / (w.shape[0] * w.shape[1])
            var folded = w.scalars
            for i in 0..<folded.count { folded[i] *= scale[(i / perOutput) % w.shape[1]] }
            stages.append(TransposedConvolutionStage(weight: Tensor(shape: w.shape, scalars: folded), bias: shift,
                                                     stride: block.conv.stride, padding: block.conv.padding, activation: .relu))
        }
        guard output.outputPadding.allSatisfy({ $0 == 0 }) else { return nil }
        let outputChannels = output.weight.value.shape[1]
        stages.append(TransposedConvolutionStage(weight: output.weight.value.detached,
                                                 bias: output.bias?.value.scalars ?? [Float](repeating: 0, count: outputChannels),
                                                 stride: output.stride, padding: output.padding, activation: .tanh))
        return stages
    }
}

/// One discriminator stage: strided convolution, batch normalization (left out under spectral normalization),
/// leaky ReLU (slope 0.2).
public final class DiscriminatorBlock: Layer {
    public let conv: Convolution
    public let norm: BatchNorm?

    init<G: RandomNumberGenerator>(spatialRank: Int, inputChannels: Int, outputChannels: Int, spectralNormalization: Bool,
                                   using rng: inout G) {
        conv = Convolution(spatialRank: spatialRank, inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 4,
                           stride: 2, padding: 1,
                           bias: spectralNormalization, spectralNormalization: spectralNormalization, initializer: .dcgan, using: &rng)
        norm = spectralNormalization ? nil
            : BatchNorm(featureCount: outputChannels, weightInitializer: .normal(mean: 1, standardDeviation: 0.02), using: &rng)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let h = conv(input)
        return norm.map { $0.normalizedThenLeakyRelu(h, slope: 0.2) } ?? h.leakyRelu(slope: 0.2)
    }
}

/// The DCGAN discriminator: images `[N, C, S, S]` to one logit per image `[N, 1]` (no sigmoid; the loss takes logits).
///
/// In a conditional GAN it is a projection discriminator (Miyato and Koyama 2018): the logit gains the inner
/// product of a learned class embedding with the last feature map summed over its positions.
public final class DCGANDiscriminator: Module {
    public let input: Convolution
    public let blocks: [DiscriminatorBlock]
    public let output: Convolution
    /// Class embeddings of a projection discriminator.
    public let projection: Embedding?

    public init<G: RandomNumberGenerator>(configuration c: DCGANConfiguration, using rng: inout G) {
        let stages = c.upsamplingLayers
        let sn = c.spectralNormalization
        var channels = c.discriminatorWidth
        let rank = c.spatialRank
        input = Convolution(spatialRank: rank, inputChannels: c.imageChannels, outputChannels: channels, kernelSize: 4, stride: 2,
                            padding: 1, bias: sn, spectralNormalization: sn, initializer: .dcgan, using: &rng)
        var blocks: [DiscriminatorBlock] = []
        for _ in 1..<stages {
            blocks.append(DiscriminatorBlock(spatialRank: rank, inputChannels: channels, outputChannels: channels * 2,
                                             spectralNormalization: sn, using: &rng))
            channels *= 2
        }
        self.blocks = blocks
        output = Convolution(spatialRank: rank, inputChannels: channels, outputChannels: 1, kernelSize: 4, stride: 1, padding: 0,
                             bias: false, spectralNormalization: sn, initializer: .dcgan, using: &rng)
        projection = c.classCount.map { Embedding(count: $0, dimension: channels, initializer: .dcgan, using: &rng) }
    }

    public func callAsFunction(_ images: Tensor, labels: [Int]? = nil) -> Tensor {
        let features = blocks.reduce(input(images).leakyRelu(slope: 0.2)) { $1($0) }
        let logits = output(features).reshaped(to: [images.shape[0], 1])
        guard let projection = projection else { return logits }
        guard let labels = labels else { preconditionFailure("DCGANDiscriminator: a projection discriminator needs labels") }
        let pooled = features.sum(alongAxes: Array(2..<features.rank))      // [N, C]
        return logits + (pooled * projection(labels)).sum(alongAxes: [1], keepingDimensions: true)
    }
}

/// A generator and a discriminator built from one configuration.
public final class DCGAN: Module {
    public let generator: DCGANGenerator
    public let discriminator: DCGANDiscriminator
    /// The exponential moving average of the generator's weights (and batch-norm running statistics), when the
    /// configuration asks for one (`generatorAverageDecay`); sampling uses it instead of `generator`.
    public let averagedGenerator: DCGANGenerator?
    public let configuration: DCGANConfiguration

    public init(configuration: DCGANConfiguration) {
        var rng = SplitMix64(seed: configuration.seed)
        generator = DCGANGenerator(configuration: configuration, using: &rng)
        discriminator = DCGANDiscriminator(configuration: configuration, using: &rng)
        if configuration.generatorAverageDecay != nil {
            // The same seed as the generator's, so the average starts equal to it.
            var averageRNG = SplitMix64(seed: configuration.seed)
            averagedGenerator = DCGANGenerator(configuration: configuration, using: &averageRNG)
        } else {
            averagedGenerator = nil
        }
        self.configuration = configuration
    }

    /// The generator that makes samples: the weight average when there is one, else the trained generator.
    public var samplingGenerator: DCGANGenerator { averagedGenerator ?? generator }

    /// Moves the averaged generator toward the trained one after training step `step` (1-based):
    /// `average = d * average + (1 - d) * generator` with `d = min(decay, (1 + step) / (10 + step))`, so the first
    /// steps' weights, which training soon leaves behind, are forgotten quickly.
    public func updateGeneratorAverage(step: Int) {
        guard let average = averagedGenerator, let decay = configuration.generatorAverageDecay else { return }
        let d = min(decay, Float(1 + step) / Float(10 + step))
        GradientRecording.withoutRecording {
            for (a, live) in zip(average.namedParameters(), generator.namedParameters()) {
                a.parameter.value = a.parameter.value.detached * d + live.parameter.value.detached * (1 - d)
            }
        }
    }

    /// Sets the averaged generator equal to the trained one (when averaging starts on a resumed run).
    public func resetGeneratorAverage() {
        guard let average = averagedGenerator else { return }
        for (a, live) in zip(average.namedParameters(), generator.namedParameters()) { a.parameter.value = live.parameter.value.detached }
    }

    /// `count` latent vectors drawn from N(0, 1) with `seed`: the same seed always gives the same vectors.
    public func latents(count: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.randomNormal(shape: [count, configuration.latentSize], using: &rng)
    }

    /// True for a class-conditional GAN.
    public var isConditional: Bool { configuration.classCount != nil }

    /// Images for `latents` (of the classes `labels`, for a conditional GAN), with batch normalization in evaluation
    /// mode (running averages), so each image depends only on its own latent vector and class; computed in chunks of
    /// `batchSize` without recording gradients.
    ///
    /// Uses the averaged generator when the GAN keeps one (see `samplingGenerator`).
    public func generate(_ latents: Tensor, labels: [Int]? = nil, batchSize: Int = 64) -> Tensor {
        precondition(isConditional == (labels != nil), isConditional ? "generate: a conditional GAN needs labels" : "generate: this GAN takes no labels")
        let generator = samplingGenerator
        generator.setTraining(false)
        defer { generator.setTraining(true) }
        return GradientRecording.withoutRecording {
            let n = latents.shape[0]
            // Unconditional: the folded chain, the same function with fewer passes over memory.
            let chain = generator.evaluationChain()
            var parts: [Tensor] = []
            var start = 0
            while start < n {
                let end = min(n, start + batchSize)
                let z = latents.sliced(alongAxis: 0, start..<end)
                if let chain {
                    let shaped = z.reshaped(to: [end - start, generator.latentSize] + [Int](repeating: 1, count: generator.spatialRank))
                    parts.append(Tensor.transposedConvolutionChain(shaped, stages: chain))
                } else {
                    parts.append(generator(z, labels: labels.map { Array($0[start..<end]) }))
                }
                start = end
            }
            return parts.count == 1 ? parts[0] : Tensor.concatenate(parts, alongAxis: 0)
        }
    }
}

extension DCGAN {
    /// A picture of the generator's output for `latents`: an 8-column grid, or for a conditional GAN one row per
    /// class, each row drawing the first 8 latent vectors with that class.
    public func previewGrid(latents: Tensor) -> RasterImage {
        let c = configuration
        let columns = min(8, latents.shape[0])
        let images: Tensor
        if let classes = c.classCount {
            let rowLatents = latents.sliced(alongAxis: 0, 0..<columns)
            let all = Tensor.concatenate(Array(repeating: rowLatents, count: classes), alongAxis: 0)
            images = generate(all, labels: (0..<classes).flatMap { [Int](repeating: $0, count: columns) })
        } else {
            images = generate(latents)
        }
        if c.spatialRank == 3 {
            // Voxel grids: each shape's surface (marching cubes), shaded and seen from the front left.
            return VoxelPreview.renderSheet(DCGAN.voxelGrids(from: images), columns: columns, imageSize: 96, options: renderOptions)
        }
        return ImageGrid.tile(images: images.scalars, count: images.shape[0], channels: c.imageChannels,
                              height: c.imageSize, width: c.imageSize, columns: columns)
    }


    /// `count` seeded class labels, uniform over the classes.
    public func randomLabels(count: Int, seed: UInt64) -> [Int] {
        guard let classes = configuration.classCount else { return [] }
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Int(rng.next() % UInt64(classes)) }
    }
}
