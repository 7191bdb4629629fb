import Foundation
import SwiftGAN
import SwiftGANData

/// `swiftgan report RUN_DIR [--out FILE]`: one self-contained HTML page about a training run.
enum ReportCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("out", "FILE", "where to write the page", default: "RUN_DIR/report.html"),
        OptionSpec("max-grids", "N", "show at most N sample grids, evenly spread over the run", default: "30"),
    ]

    static let help: String = {
        let text = helpText(
            command: "report", summary: "Write one self-contained HTML page about a training run: curves of the logged "
                + "losses, scores and metrics,\nthe sample grids over time, the final values and the configuration. "
                + "It needs no network and no scripts.",
            specs: specs,
            examples: ["swiftgan report runs/fashion-mnist                 # writes runs/fashion-mnist/report.html",
                       "swiftgan report runs/digits --out digits.html"])
        return text.replacingOccurrences(of: "usage: swiftgan report [options]", with: "usage: swiftgan report RUN_DIR [options]")
    }()

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") { print(help); return 0 }
        // The run folder is the one argument that is neither an option nor an option's value.
        var positional: [String] = []
        var optionArguments: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--") {
                optionArguments.append(argument)
                let name = String(argument.dropFirst(2))
                if !name.contains("="), specs.contains(where: { $0.name == name && $0.value != nil }),
                   index + 1 < arguments.count {
                    optionArguments.append(arguments[index + 1])
                    index += 1
                }
            } else {
                positional.append(argument)
            }
            index += 1
        }
        let options = try ParsedArguments(optionArguments, specs: specs, command: "report")
        guard let runPath = positional.first else {
            throw UsageError("report: give the run folder, as in 'swiftgan report runs/fashion-mnist'")
        }
        guard positional.count == 1 else {
            throw UsageError("report: one run folder expected, got \(positional.count): \(positional.joined(separator: " "))")
        }
        guard !runPath.isEmpty else { throw UsageError("report: the run folder is an empty string") }
        let out = options.string("out") ?? (runPath as NSString).appendingPathComponent("report.html")
        guard !out.isEmpty else { throw UsageError("--out: the file name is empty") }

        var report = try RunReport(run: RunDirectory(runPath))
        report.maximumSampleGrids = try options.int("max-grids", range: 2...10_000) ?? report.maximumSampleGrids
        try report.write(to: out)
        let shown = report.chosenSamples().count
        print("wrote \(out) (\(report.keys.count) logged values, \(shown) sample grid\(shown == 1 ? "" : "s")"
              + (report.notes.isEmpty ? "" : ", \(report.notes.count) note\(report.notes.count == 1 ? "" : "s")") + ")")
        return 0
    }
}
