import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels

let topHelp = """
usage: swiftgan <command> [options]

Generative adversarial networks on the CPU.

commands:
  train         train a DCGAN on a dataset, writing sample grids and checkpoints
  data          check a folder of your own images, or pack it into one file for training
  sample        draw images from a checkpoint
  interpolate   walk between two latent vectors (linear and spherical), as a PNG strip and a GIF
  bench         time DCGAN training steps and sampling (images/s)
  report        write one HTML page about a run: curves, sample grids over time, configuration
  classifier    train the domain classifier whose features 'evaluate' uses (train, test)
  evaluate      score a checkpoint: Frechet distance, KID, precision/recall, density/coverage
  augment       synthetic labelled images from a conditional GAN, and whether they help a classifier

Run 'swiftgan <command> --help' for a command's options.
"""

/// Runs a subcommand and turns every error into one line on standard error with exit code 1 (2 for usage errors).
func runMain() -> Int32 {
    if let problem = EngineSettings.problem() {
        FileHandle.standardError.write(Data("error: \(problem)\n".utf8))
        return 2
    }
    var arguments = Array(CommandLine.arguments.dropFirst())
    guard let command = arguments.first else {
        print(topHelp)
        return 2
    }
    arguments.removeFirst()
    if arguments.first == "-h" { arguments[0] = "--help" }
    if command == "--help" || command == "-h" || command == "help" {
        print(topHelp)
        return 0
    }
    let commands: [String: ([String]) throws -> Int32] = [
        "data": DataCommand.run,
        "train": TrainCommand.run, "sample": SampleCommand.run, "interpolate": InterpolateCommand.run, "bench": BenchCommand.run,
        "report": ReportCommand.run,
        "classifier": ClassifierCommand.run, "evaluate": EvaluateCommand.run,
        "augment": AugmentCommand.run,
    ]
    guard let body = commands[command] else {
        let names = "train, data, sample, interpolate, bench, report, classifier, evaluate, augment"
        FileHandle.standardError.write(Data("error: unknown command '\(command)' (commands: \(names); see 'swiftgan --help')\n".utf8))
        return 2
    }
    do {
        return try body(arguments)
    } catch let error as UsageError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        return 2
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        return 1
    }
}

setvbuf(stdout, nil, _IOLBF, 0)
exit(runMain())
