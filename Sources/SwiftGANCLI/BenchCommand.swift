import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels
import SwiftGANNN

enum BenchCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("image-sizes", "LIST", "comma-separated image sizes", default: "32,64"),
        OptionSpec("batch-size", "N", "images per step", default: "64"),
        OptionSpec("width", "N", "ngf = ndf", default: "64"),
        OptionSpec("steps", "N", "timed training steps per size", default: "5"),
        OptionSpec("warmup", "N", "untimed steps first", default: "2"),
        OptionSpec("threads", "N", "CPU threads for the kernels", default: "all cores"),
    ]

    static let help = helpText(
        command: "bench",
        summary: "Time the standard DCGAN training step (nz 100, Adam, BCE) on random data and print images/s (median of the timed steps).",
        specs: specs, examples: ["swiftgan bench --image-sizes 32 --steps 10"])

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(help); return 0 }
        let options = try ParsedArguments(arguments, specs: specs, command: "bench")
        let sizesText = options.string("image-sizes") ?? "32,64"
        let sizes = try sizesText.split(separator: ",", omittingEmptySubsequences: false).map { text -> Int in
            guard let v = Int(text), v == 32 || v == 64 else { throw UsageError("--image-sizes: '\(text)' is not 32 or 64") }
            return v
        }
        let batch = try options.int("batch-size", range: 2...4096) ?? 64
        let width = try options.int("width", range: 1...1024) ?? 64
        let steps = try options.int("steps", range: 1...10_000) ?? 5
        let warmup = try options.int("warmup", range: 0...10_000) ?? 2
        let threads = try options.int("threads", range: 1...1024) ?? ProcessInfo.processInfo.activeProcessorCount
        KernelThreads.set(threads)
        print("threads \(threads), batch \(batch), width \(width), \(steps) timed steps after \(warmup) warm-up")
        print("case                         median ms/step   images/s")
        for size in sizes {
            var c = DCGANConfiguration()
            c.imageSize = size
            c.batchSize = batch
            c.generatorWidth = width
            c.discriminatorWidth = width
            var rng = SplitMix64(seed: 9)
            let count = batch * 2
            let pixels = Tensor.randomUniform(shape: [count * size * size], lowerBound: -1, upperBound: 1, using: &rng).scalars
            let dataset = try ImageDataset(images: pixels, labels: nil, channels: 1, height: size, width: size)
            let trainer = try DCGANTrainer(gan: DCGAN(configuration: c), dataset: dataset)
            var times: [Double] = []
            for i in 0..<(warmup + steps) {
                if i == warmup { KernelProfile.reset() }
                let start = DispatchTime.now().uptimeNanoseconds
                try trainer.trainStep()
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                if i >= warmup { times.append(ms) }
            }
            let median = times.sorted()[times.count / 2]
            print(String(format: "train step %2dx%-2d              %8.1f   %8.1f", size, size, median, Double(batch) / median * 1000))
            if KernelProfile.isEnabled {
                let total = times.reduce(0, +)
                for row in KernelProfile.report {
                    print(String(format: "#   %-34@ %6d calls %9.1f ms/step  %5.1f%%", row.name, row.calls / steps,
                                 row.milliseconds / Double(steps), 100 * row.milliseconds / total))
                }
            }
            // Sampling: generator only, batch 256, evaluation mode, no gradient recording.
            let latents = trainer.gan.latents(count: 256, seed: 3)
            var sampleTimes: [Double] = []
            for i in 0..<(warmup + steps) {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = trainer.gan.generate(latents, batchSize: 256)
                let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
                if i >= warmup { sampleTimes.append(ms) }
            }
            let sampleMedian = sampleTimes.sorted()[sampleTimes.count / 2]
            print(String(format: "sample 256 at %2dx%-2d           %8.1f   %8.1f", size, size, sampleMedian, 256 / sampleMedian * 1000))
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(String(format: "peak resident memory: %.0f MiB", Double(usage.ru_maxrss) / 1024))
        return 0
    }
}
