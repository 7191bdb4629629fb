import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels
import SwiftGANNN

/// The sizes the benchmark cases are built with.
struct BenchSettings {
    /// Images per 2D training step, and the batch of the two single-layer cases.
    var batch = 64
    /// ngf = ndf of the 2D DCGANs.
    var width = 64
    /// Voxel grids per 3D training step.
    var volumeBatch = 32
    /// ngf = ndf of the volumetric GAN.
    var volumeWidth = 32
    /// Latent vectors per sampling iteration.
    static let sampleCount = 256

    /// The standard DCGAN at `imageSize` (nz 100, one channel, Adam 2e-4, betas (0.5, 0.999), BCE).
    func imageConfiguration(imageSize: Int) -> DCGANConfiguration {
        var c = DCGANConfiguration()
        c.imageSize = imageSize
        c.imageChannels = 1
        c.latentSize = 100
        c.batchSize = batch
        c.generatorWidth = width
        c.discriminatorWidth = width
        return c
    }

    /// The volumetric GAN as `swiftgan train` builds it for 32^3 grids (nz 200, one channel), but without the
    /// discriminator accuracy limit, so that every step does the same work.
    func volumeConfiguration() -> DCGANConfiguration {
        var c = DCGANConfiguration()
        c.spatialRank = 3
        c.imageSize = 32
        c.imageChannels = 1
        c.latentSize = 200
        c.batchSize = volumeBatch
        c.generatorWidth = volumeWidth
        c.discriminatorWidth = volumeWidth
        c.discriminatorAccuracyLimit = nil
        return c
    }
}

/// The nominal work of a benchmark case: 2 floating-point operations per multiply-add of the convolutions and
/// transposed convolutions, computed from the layer shapes. Batch normalization, activations, losses and the
/// optimizer are not counted. The PyTorch side (scripts/bench_pytorch.py) counts the same way, so both get the same
/// number and effective GFLOP/s compare like images/s do.
enum NominalWork {
    /// Multiply-adds of one forward pass of `layer` on inputs of spatial size `input`, and its output's spatial size.
    /// A convolution does `out * in * kernel` multiply-adds at every output position.
    static func convolution(_ layer: SwiftGANNN.Convolution, input: [Int]) -> (macs: Int, output: [Int]) {
        let w = layer.weight.value.shape                      // [O, C, kernel...]
        let kernel = Array(w[2...])
        let output = input.indices.map { (input[$0] + 2 * layer.padding[$0] - kernel[$0]) / layer.stride[$0] + 1 }
        return (w[0] * w[1] * kernel.reduce(1, *) * output.reduce(1, *), output)
    }

    /// A transposed convolution does `in * out * kernel` multiply-adds at every input position.
    static func transposedConvolution(_ layer: TransposedConvolution, input: [Int]) -> (macs: Int, output: [Int]) {
        let w = layer.weight.value.shape                      // [C, O, kernel...]
        let kernel = Array(w[2...])
        let output = input.indices.map {
            (input[$0] - 1) * layer.stride[$0] - 2 * layer.padding[$0] + kernel[$0] + layer.outputPadding[$0]
        }
        return (w[0] * w[1] * kernel.reduce(1, *) * input.reduce(1, *), output)
    }

    /// Multiply-adds of one generator forward pass for one sample.
    static func generatorMACs(_ generator: DCGANGenerator) -> Int {
        var spatial = [Int](repeating: 1, count: generator.spatialRank)
        var total = 0
        for layer in generator.blocks.map(\.conv) + [generator.output] {
            let (macs, output) = transposedConvolution(layer, input: spatial)
            total += macs
            spatial = output
        }
        return total
    }

    /// Multiply-adds of one discriminator forward pass for one sample of side `size`.
    static func discriminatorMACs(_ discriminator: DCGANDiscriminator, size: Int, spatialRank: Int) -> Int {
        var spatial = [Int](repeating: size, count: spatialRank)
        var total = 0
        for layer in [discriminator.input] + discriminator.blocks.map(\.conv) + [discriminator.output] {
            let (macs, output) = convolution(layer, input: spatial)
            total += macs
            spatial = output
        }
        return total
    }

    /// One GAN training step: `2 * batch * (9 * D + 3 * G)`, with D and G the forward multiply-adds per sample.
    /// The discriminator runs forward three times (real, generated, generated again for the generator's loss) and
    /// backward three times at twice the forward cost each (data and weight gradients); the generator runs forward
    /// once and backward once. Passes that a framework may leave out (the input gradient of the first layer, the
    /// discriminator's weight gradients in the generator's update) are counted all the same.
    static func trainingStepFLOPs(_ c: DCGANConfiguration) -> Int {
        let gan = DCGAN(configuration: c)
        let g = generatorMACs(gan.generator)
        let d = discriminatorMACs(gan.discriminator, size: c.imageSize, spatialRank: c.spatialRank)
        return 2 * c.batchSize * (9 * d + 3 * g)
    }

    /// Sampling: one generator forward pass per latent vector, `2 * count * G`.
    static func samplingFLOPs(_ c: DCGANConfiguration, count: Int) -> Int {
        2 * count * generatorMACs(DCGAN(configuration: c).generator)
    }

    /// One layer forward and backward (data and weight gradients): `2 * batch * 3 * layer`.
    static func layerFLOPs(macsPerSample: Int, batch: Int) -> Int { 2 * batch * 3 * macsPerSample }
}

/// One thing to time: what it runs, how many samples one iteration handles, and its nominal work per iteration.
struct BenchCase {
    let id: String
    let summary: String
    let items: Int
    let flops: Int
    /// Builds the model and data, and returns one iteration.
    let prepare: () throws -> () throws -> Void

    /// The case names, in the order they run by default.
    static let names = ["train-32", "sample-32", "train-64", "sample-64", "d-conv", "g-deconv", "train-3d"]

    /// The single layers of the project's CPU notes: input `[batch, 128, 16, 16]` -> `[batch, 256, 8, 8]`
    /// (discriminator convolution) and `[batch, 256, 8, 8]` -> `[batch, 128, 16, 16]` (generator transposed
    /// convolution), kernel 4, stride 2, padding 1, no bias, weights N(0, 0.02).
    static func discriminatorLayer() -> (SwiftGANNN.Convolution, input: [Int]) {
        var rng = SplitMix64(seed: 9)
        return (SwiftGANNN.Convolution(spatialRank: 2, inputChannels: 128, outputChannels: 256, kernelSize: 4, stride: 2, padding: 1,
                            bias: false, initializer: .dcgan, using: &rng), [128, 16, 16])
    }

    static func generatorLayer() -> (TransposedConvolution, input: [Int]) {
        var rng = SplitMix64(seed: 9)
        return (TransposedConvolution(spatialRank: 2, inputChannels: 256, outputChannels: 128, kernelSize: 4, stride: 2,
                                      padding: 1, bias: false, initializer: .dcgan, using: &rng), [256, 8, 8])
    }

    static func make(_ id: String, settings s: BenchSettings) -> BenchCase {
        switch id {
        case "train-32", "train-64":
            let size = id == "train-32" ? 32 : 64
            let c = s.imageConfiguration(imageSize: size)
            return BenchCase(id: id, summary: "DCGAN training step, \(size)x\(size), batch \(s.batch), width \(s.width)",
                             items: s.batch, flops: NominalWork.trainingStepFLOPs(c)) {
                var rng = SplitMix64(seed: 9)
                let count = s.batch * 2
                let pixels = Tensor.randomUniform(shape: [count * size * size], lowerBound: -1, upperBound: 1, using: &rng).scalars
                let dataset = try ImageDataset(images: pixels, labels: nil, channels: 1, height: size, width: size)
                let trainer = try DCGANTrainer(gan: DCGAN(configuration: c), dataset: dataset)
                printParameterCounts(id, trainer.gan)
                return { _ = try trainer.trainStep() }
            }
        case "sample-32", "sample-64":
            let size = id == "sample-32" ? 32 : 64
            let c = s.imageConfiguration(imageSize: size)
            let n = BenchSettings.sampleCount
            return BenchCase(id: id, summary: "DCGAN generator alone, \(n) samples, \(size)x\(size), width \(s.width), evaluation mode",
                             items: n, flops: NominalWork.samplingFLOPs(c, count: n)) {
                let gan = DCGAN(configuration: c)
                let latents = gan.latents(count: n, seed: 3)
                return { _ = gan.generate(latents, batchSize: n) }
            }
        case "d-conv":
            let (probe, input) = discriminatorLayer()
            let macs = NominalWork.convolution(probe, input: Array(input[1...])).macs
            return BenchCase(id: id, summary: "D conv 128x16^2 -> 256x8^2, k4 s2 p1, forward + backward, batch \(s.batch)",
                             items: s.batch, flops: NominalWork.layerFLOPs(macsPerSample: macs, batch: s.batch)) {
                let (layer, input) = discriminatorLayer()
                return layerIteration(layer, weight: layer.weight, input: [s.batch] + input)
            }
        case "g-deconv":
            let (probe, input) = generatorLayer()
            let macs = NominalWork.transposedConvolution(probe, input: Array(input[1...])).macs
            return BenchCase(id: id, summary: "G deconv 256x8^2 -> 128x16^2, k4 s2 p1, forward + backward, batch \(s.batch)",
                             items: s.batch, flops: NominalWork.layerFLOPs(macsPerSample: macs, batch: s.batch)) {
                let (layer, input) = generatorLayer()
                return layerIteration(layer, weight: layer.weight, input: [s.batch] + input)
            }
        default:  // "train-3d"
            let c = s.volumeConfiguration()
            return BenchCase(id: id, summary: "volumetric GAN training step, 32^3, nz 200, batch \(s.volumeBatch), width \(s.volumeWidth)",
                             items: s.volumeBatch, flops: NominalWork.trainingStepFLOPs(c)) {
                var rng = SplitMix64(seed: 9)
                let count = s.volumeBatch * 2
                let occupancy = (0..<(count * 32 * 32 * 32)).map { _ in Float(rng.next() & 1) }
                let dataset = try VoxelDataset(occupancy: occupancy, count: count, size: 32)
                let trainer = try DCGANTrainer(gan: DCGAN(configuration: c), dataset: dataset)
                printParameterCounts(id, trainer.gan)
                return { _ = try trainer.trainStep() }
            }
        }
    }

    /// A comment line with the model's size, which the PyTorch side prints too (a check that the two models match).
    static func printParameterCounts(_ id: String, _ gan: DCGAN) {
        let g = gan.generator.trainableScalarCount, d = gan.discriminator.trainableScalarCount
        print("# \(id): \(g + d) parameters (generator \(g), discriminator \(d))")
    }

    /// One forward pass on a fixed random input, then the gradients of the input and the weight for a fixed random
    /// output gradient.
    static func layerIteration(_ layer: any Layer, weight: Parameter, input shape: [Int]) -> () -> Void {
        var rng = SplitMix64(seed: 5)
        let x = Tensor.randomNormal(shape: shape, using: &rng).requiringGradient()
        let outputShape = GradientRecording.withoutRecording { layer(x).shape }
        let seed = Tensor.randomNormal(shape: outputShape, using: &rng)
        return {
            let y = layer(x)
            _ = gradient(of: y, wrt: [x, weight.value], seed: seed)
        }
    }
}

enum BenchCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("cases", "LIST", "comma-separated cases: " + BenchCase.names.joined(separator: ", "), default: "all"),
        OptionSpec("image-sizes", "LIST", "instead of --cases: the training and sampling cases at these sizes (32, 64)"),
        OptionSpec("batch-size", "N", "images per 2D training step, and the layer cases' batch", default: "64"),
        OptionSpec("width", "N", "ngf = ndf of the 2D DCGANs", default: "64"),
        OptionSpec("volume-batch-size", "N", "voxel grids per 3D training step", default: "32"),
        OptionSpec("volume-width", "N", "ngf = ndf of the volumetric GAN", default: "32"),
        OptionSpec("steps", "N", "timed iterations per case", default: "5"),
        OptionSpec("warmup", "N", "untimed iterations first", default: "2"),
        OptionSpec("threads", "N", "CPU threads for the kernels (oneDNN and OpenBLAS)", default: "all cores"),
        OptionSpec("gemm", nil, "instead of the cases, time cblas_sgemm (OpenBLAS) and dnnl_sgemm (oneDNN) on square matrices (max(3, --steps) calls after one warm-up each); the faster is the GEMM ceiling"),
        OptionSpec("gemm-size", "N", "the side of the --gemm matrices", default: "2048"),
        OptionSpec("list", nil, "print the selected cases and their nominal FLOP per iteration, without timing"),
    ]

    static let help = helpText(
        command: "bench",
        summary: """
        Time DCGAN training steps, sampling, single convolution layers and the volumetric GAN's training step on
        random data, and print the median milliseconds per iteration, images (or grids) per second and effective
        GFLOP/s. The FLOP count is nominal: 2 per multiply-add of the convolutions, from the layer shapes; a training
        step counts 9 discriminator passes and 3 generator passes, sampling one generator pass, a layer case 3 passes
        (forward, data and weight gradients). --gemm times OpenBLAS's cblas_sgemm and oneDNN's dnnl_sgemm instead (best
        and median GFLOP/s); the faster is the ceiling to compare against. scripts/bench.sh runs this next to the same cases in PyTorch.
        """,
        specs: specs,
        examples: ["swiftgan bench --cases train-32,d-conv --steps 10",
                   "swiftgan bench --gemm --threads 1",
                   "swiftgan bench --list"])

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(help); return 0 }
        let options = try ParsedArguments(arguments, specs: specs, command: "bench")
        var settings = BenchSettings()
        settings.batch = try options.int("batch-size", range: 2...4096) ?? settings.batch
        settings.width = try options.int("width", range: 1...1024) ?? settings.width
        settings.volumeBatch = try options.int("volume-batch-size", range: 2...4096) ?? settings.volumeBatch
        settings.volumeWidth = try options.int("volume-width", range: 1...1024) ?? settings.volumeWidth
        let steps = try options.int("steps", range: 1...10_000) ?? 5
        let warmup = try options.int("warmup", range: 0...10_000) ?? 2
        let threads = try options.kernelThreads()
        let gemmSize = try options.int("gemm-size", range: 16...16384) ?? 2048
        let ids = try selectedCases(options)
        if options.has("gemm") {
            guard !options.has("list") else { throw UsageError("bench: --gemm and --list do not go together") }
            for caseOption in ["cases", "image-sizes"] where options.has(caseOption) {
                throw UsageError("bench: --gemm times matrix products only; it does not go together with --\(caseOption)")
            }
            KernelThreads.set(threads)
            measureGemm(size: gemmSize, repetitions: max(3, steps), threads: threads)
            return 0
        }
        let cases = ids.map { BenchCase.make($0, settings: settings) }
        if options.has("list") {
            for c in cases {
                print("\(pad(c.id, 10)) \(c.flops) FLOP per iteration, \(c.items) per iteration: \(c.summary)")
            }
            return 0
        }

        KernelThreads.set(threads)
        print("threads \(threads), batch \(settings.batch), width \(settings.width), 3D batch \(settings.volumeBatch) "
              + "width \(settings.volumeWidth), \(steps) timed iterations after \(warmup) warm-up")
        print(Gemm.librarySummary)
        print("case        median ms     items/s   GFLOP/iter     GFLOP/s   what")
        for benchCase in cases {
            let iteration = try benchCase.prepare()
            var times: [Double] = []
            for i in 0..<(warmup + steps) {
                if i == warmup { KernelProfile.reset() }
                let start = DispatchTime.now().uptimeNanoseconds
                try iteration()
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                if i >= warmup { times.append(ms) }
            }
            let median = times.sorted()[times.count / 2]
            let gflop = Double(benchCase.flops) / 1e9
            print(pad(benchCase.id, 10) + String(format: " %10.1f  %10.1f  %11.3f  %10.1f", median,
                                                  Double(benchCase.items) / median * 1000, gflop, gflop / median * 1000)
                  + "   " + benchCase.summary)
            if KernelProfile.isEnabled {
                let total = times.reduce(0, +)
                let nameWidth = KernelProfile.report.map(\.name.count).max() ?? 0
                for row in KernelProfile.report {
                    print("#   " + pad(row.name, nameWidth) + String(format: " %6d calls %9.1f ms/iteration  %5.1f%%", row.calls / steps,
                                                             row.milliseconds / Double(steps), 100 * row.milliseconds / total))
                }
            }
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "peak resident memory: %.0f MiB", Double(usage.ru_maxrss) / 1024))
        return 0
    }

    /// The case names from --cases, or from --image-sizes (training and sampling at each size), or all of them.
    static func selectedCases(_ options: ParsedArguments) throws -> [String] {
        if options.has("cases") && options.has("image-sizes") {
            throw UsageError("bench: give --cases or --image-sizes, not both")
        }
        if let text = options.string("image-sizes") {
            return try text.split(separator: ",", omittingEmptySubsequences: false).flatMap { part -> [String] in
                guard part == "32" || part == "64" else { throw UsageError("--image-sizes: '\(part)' is not 32 or 64") }
                return ["train-\(part)", "sample-\(part)"]
            }
        }
        guard let text = options.string("cases"), text != "all" else { return BenchCase.names }
        return try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            guard BenchCase.names.contains(String(part)) else {
                throw UsageError("--cases: '\(part)' is not a case (\(BenchCase.names.joined(separator: ", ")))")
            }
            return String(part)
        }
    }

    /// Times `C = A B` on `size x size` matrices with OpenBLAS's `cblas_sgemm` and with oneDNN's `dnnl_sgemm`, each
    /// one untimed call then `repetitions` timed ones, and prints both and the faster one's numbers as the ceiling.
    static func measureGemm(size n: Int, repetitions: Int, threads: Int) {
        var rng = SplitMix64(seed: 11)
        let a = (0..<(n * n)).map { _ in Float(rng.next() % 2001) / 1000 - 1 }
        let b = (0..<(n * n)).map { _ in Float(rng.next() % 2001) / 1000 - 1 }
        var c = [Float](repeating: 0, count: n * n)
        let gflop = 2 * Double(n) * Double(n) * Double(n) / 1e9
        print("threads \(threads)")
        print(Gemm.librarySummary)
        var results: [(name: String, best: Double, median: Double)] = []
        for library in Gemm.Library.allCases {
            var times: [Double] = []
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        for i in 0...repetitions {
                            let start = DispatchTime.now().uptimeNanoseconds
                            switch library {
                            case .openBLAS:
                                Gemm.multiplyWithOpenBLAS(transposeA: false, transposeB: false, m: n, n: n, k: n,
                                                          a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
                            case .oneDNN:
                                Gemm.multiplyOnOneDNNThreads(transposeA: false, transposeB: false, m: n, n: n, k: n,
                                                             a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
                            }
                            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                            if i > 0 { times.append(ms) }
                        }
                    }
                }
            }
            let sorted = times.sorted()
            let name = library == .openBLAS ? "cblas_sgemm" : "dnnl_sgemm"
            results.append((name, gflop / sorted[0] * 1000, gflop / sorted[sorted.count / 2] * 1000))
            print(String(format: "gemm %@ %d^3: best %.1f GFLOP/s, median %.1f GFLOP/s", name, n, results.last!.best,
                         results.last!.median))
        }
        let fastest = results.max { $0.best < $1.best }!
        print(String(format: "gemm ceiling %d^3: best %.1f GFLOP/s, median %.1f GFLOP/s (%@, the faster of the two; %d timed after 1 warm-up each)",
                     n, fastest.best, fastest.median, fastest.name, repetitions))
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
