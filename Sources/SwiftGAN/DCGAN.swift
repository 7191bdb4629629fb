import SwiftGANNN

/// One generator stage: transposed convolution, batch normalization, ReLU.
public final class GeneratorBlock: Layer {
    public let conv: TransposedConvolution
    public let norm: BatchNorm

    init<G: RandomNumberGenerator>(inputChannels: Int, outputChannels: Int, stride: Int, padding: Int, using rng: inout G) {
        conv = TransposedConvolution(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 4, stride: stride,
                                     padding: padding, bias: false, initializer: .dcgan, using: &rng)
        norm = BatchNorm(featureCount: outputChannels, weightInitializer: .normal(mean: 1, standardDeviation: 0.02), using: &rng)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { norm(conv(input)).relu() }
}

/// The DCGAN generator (Radford et al. 2015): latent `[N, latentSize]` to images `[N, C, S, S]` in [-1, 1].
///
/// A 4x4 transposed convolution turns z into a 4x4 map of `width * 2^(k-1)` channels; each further stage doubles the
/// side and halves the channels (kernel 4, stride 2, padding 1); the last stage outputs the image channels with tanh.
public final class DCGANGenerator: Layer {
    public let blocks: [GeneratorBlock]
    public let output: TransposedConvolution
    public let latentSize: Int

    public init<G: RandomNumberGenerator>(configuration c: DCGANConfiguration, using rng: inout G) {
        let stages = c.upsamplingLayers
        var channels = c.generatorWidth << (stages - 1)
        var blocks = [GeneratorBlock(inputChannels: c.latentSize, outputChannels: channels, stride: 1, padding: 0, using: &rng)]
        for _ in 1..<stages {
            blocks.append(GeneratorBlock(inputChannels: channels, outputChannels: channels / 2, stride: 2, padding: 1, using: &rng))
            channels /= 2
        }
        self.blocks = blocks
        output = TransposedConvolution(inputChannels: channels, outputChannels: c.imageChannels, kernelSize: 4, stride: 2,
                                       padding: 1, bias: false, initializer: .dcgan, using: &rng)
        latentSize = c.latentSize
    }

    /// - Parameter input: latent vectors `[N, latentSize]` (or `[N, latentSize, 1, 1]`).
    public func callAsFunction(_ input: Tensor) -> Tensor {
        let z = input.rank == 4 ? input : input.reshaped(to: [input.shape[0], latentSize, 1, 1])
        return output(blocks.reduce(z) { $1($0) }).tanh()
    }
}

/// One discriminator stage: strided convolution, batch normalization, leaky ReLU (slope 0.2).
public final class DiscriminatorBlock: Layer {
    public let conv: Convolution
    public let norm: BatchNorm

    init<G: RandomNumberGenerator>(inputChannels: Int, outputChannels: Int, using rng: inout G) {
        conv = Convolution(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: 4, stride: 2, padding: 1,
                           bias: false, initializer: .dcgan, using: &rng)
        norm = BatchNorm(featureCount: outputChannels, weightInitializer: .normal(mean: 1, standardDeviation: 0.02), using: &rng)
    }

    public func callAsFunction(_ input: Tensor) -> Tensor { norm(conv(input)).leakyRelu(slope: 0.2) }
}

/// The DCGAN discriminator: images `[N, C, S, S]` to one logit per image `[N, 1]` (no sigmoid; the loss takes logits).
public final class DCGANDiscriminator: Layer {
    public let input: Convolution
    public let blocks: [DiscriminatorBlock]
    public let output: Convolution

    public init<G: RandomNumberGenerator>(configuration c: DCGANConfiguration, using rng: inout G) {
        let stages = c.upsamplingLayers
        var channels = c.discriminatorWidth
        input = Convolution(inputChannels: c.imageChannels, outputChannels: channels, kernelSize: 4, stride: 2, padding: 1,
                            bias: false, initializer: .dcgan, using: &rng)
        var blocks: [DiscriminatorBlock] = []
        for _ in 1..<stages {
            blocks.append(DiscriminatorBlock(inputChannels: channels, outputChannels: channels * 2, using: &rng))
            channels *= 2
        }
        self.blocks = blocks
        output = Convolution(inputChannels: channels, outputChannels: 1, kernelSize: 4, stride: 1, padding: 0, bias: false,
                             initializer: .dcgan, using: &rng)
    }

    public func callAsFunction(_ images: Tensor) -> Tensor {
        let features = blocks.reduce(input(images).leakyRelu(slope: 0.2)) { $1($0) }
        return output(features).reshaped(to: [images.shape[0], 1])
    }
}

/// A generator and a discriminator built from one configuration.
public final class DCGAN: Module {
    public let generator: DCGANGenerator
    public let discriminator: DCGANDiscriminator
    public let configuration: DCGANConfiguration

    public init(configuration: DCGANConfiguration) {
        var rng = SplitMix64(seed: configuration.seed)
        generator = DCGANGenerator(configuration: configuration, using: &rng)
        discriminator = DCGANDiscriminator(configuration: configuration, using: &rng)
        self.configuration = configuration
    }

    /// `count` latent vectors drawn from N(0, 1) with `seed`: the same seed always gives the same vectors.
    public func latents(count: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.randomNormal(shape: [count, configuration.latentSize], using: &rng)
    }

    /// Images for `latents`, with batch normalization in evaluation mode (running averages), so each image depends
    /// only on its own latent vector; computed in chunks of `batchSize` without recording gradients.
    public func generate(_ latents: Tensor, batchSize: Int = 64) -> Tensor {
        generator.setTraining(false)
        defer { generator.setTraining(true) }
        return GradientRecording.withoutRecording {
            let n = latents.shape[0]
            var parts: [Tensor] = []
            var start = 0
            while start < n {
                let end = min(n, start + batchSize)
                parts.append(generator(latents.sliced(alongAxis: 0, start..<end)))
                start = end
            }
            return parts.count == 1 ? parts[0] : Tensor.concatenate(parts, alongAxis: 0)
        }
    }
}
