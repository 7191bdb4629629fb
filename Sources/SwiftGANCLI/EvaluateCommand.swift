import Foundation
import SwiftGAN
import SwiftGANData
import SwiftGANKernels
import SwiftGANVoxels

enum EvaluateCommand {
    static let specs: [OptionSpec] = [
        OptionSpec("checkpoint", "PATH", "a checkpoint written by 'swiftgan train' (required)"),
        OptionSpec("data", "NAME|PATH", "dataset whose test split is the real set", default: "the checkpoint's"),
        OptionSpec("classifier", "PATH", "feature network from 'swiftgan classifier train'", default: "classifiers/<data name>.safetensors"),
        OptionSpec("count", "N", "generated images (shapes, for 3D models)", default: "10000; 100 for shapes"),
        OptionSpec("seed", "N", "seed of the latent vectors and of KID's subsets", default: "0"),
        OptionSpec("kid-subset-size", "N", "KID subset size (capped by the smaller set)", default: "1000"),
        OptionSpec("kid-subsets", "N", "number of KID subsets", default: "100"),
        OptionSpec("baselines", nil, "also score as many real training images (a floor) and uniform noise (a ceiling)"),
        OptionSpec("up-axis", "x|y|z", "3D models: the axis that points up in the --data shape files", default: "y for .binvox, z otherwise"),
        OptionSpec("out", "PATH", "JSON file for the results", default: "evaluation.json beside the checkpoint"),
        OptionSpec("threads", "N", "CPU threads for the kernels", default: "all cores"),
    ]

    static let help = helpText(
        command: "evaluate",
        summary: """
        Score a generator against a dataset's test split: Frechet distance, KID, precision/recall (k=3) and density/coverage
        (k=5) in the feature space of SwiftGAN's own classifier (see 'swiftgan classifier'). The metric names carry the
        feature network's name (frechet_distance_swiftgan_lenet_fashion-mnist): these are not Inception FID values.
        """,
        specs: specs,
        examples: ["swiftgan classifier train --data fashion-mnist      # once per dataset",
                   "swiftgan evaluate --checkpoint runs/fashion-mnist/checkpoint.safetensors --count 10000",
                   "swiftgan evaluate --checkpoint runs/fashion-mnist/checkpoint.safetensors --baselines --out eval.json"])

    static func run(_ arguments: [String]) throws -> Int32 {
        if arguments.contains("--help") { print(help); return 0 }
        let options = try ParsedArguments(arguments, specs: specs, command: "evaluate")
        guard let checkpointPath = options.string("checkpoint") else { throw UsageError("evaluate: --checkpoint PATH is required") }
        var settings = EvaluationOptions()
        settings.seed = try options.uint64("seed") ?? settings.seed
        settings.kidSubsetSize = try options.int("kid-subset-size", range: 2...1_000_000) ?? settings.kidSubsetSize
        settings.kidSubsets = try options.int("kid-subsets", range: 1...100_000) ?? settings.kidSubsets
        KernelThreads.set(try options.kernelThreads())
        let started = Date()

        let checkpoint = try Checkpoint.read(checkpointPath)
        let gan = try checkpoint.makeGAN(path: checkpointPath)
        let data = options.string("data") ?? checkpoint.configuration.dataset
        if gan.configuration.spatialRank != 3 && VoxelDataset.looksVolumetric(data) {
            throw UsageError("evaluate: \(checkpointPath) is an image checkpoint and \(data) holds 3D shapes; score it against images")
        }
        // The count's range depends on the checkpoint: shapes are compared pairwise, images in feature space.
        if gan.configuration.spatialRank != 3 {
            settings.count = try options.int("count", range: 10...1_000_000) ?? settings.count
            if options.has("up-axis") { throw UsageError("--up-axis applies to 3D checkpoints; \(checkpointPath) is an image checkpoint") }
        }
        if gan.configuration.spatialRank == 3 {
            if options.has("classifier") || options.has("baselines") {
                throw UsageError("evaluate: \(checkpointPath) is a 3D checkpoint, scored by MMD and coverage against real shapes; "
                                 + "--classifier and --baselines apply to image checkpoints only")
            }
            return try ShapeEvaluation.run(gan: gan, checkpoint: checkpoint, checkpointPath: checkpointPath, data: data,
                                           count: try options.int("count", range: 2...100_000) ?? 100,
                                           seed: settings.seed, filesUpAxis: try options.upAxis(), out: options.string("out"))
        }
        let classifierPath = options.string("classifier") ?? ClassifierCommand.defaultPath(forDataset: data)
        if options.string("classifier") == nil && !FileManager.default.fileExists(atPath: classifierPath) {
            throw UsageError("\(classifierPath): no such file; train the feature network first with "
                             + "'swiftgan classifier train --data \(data)\(gan.configuration.imageSize == 32 ? "" : " --image-size \(gan.configuration.imageSize)")' or give --classifier PATH")
        }
        let classifier = try Classifier.read(classifierPath)
        do { try Evaluation.checkCompatible(gan: gan, classifier: classifier) } catch let error as EvaluationError {
            throw EvaluationError("\(classifierPath) does not fit \(checkpointPath): \(error.description)")
        }
        let c = classifier.configuration
        if URL(fileURLWithPath: c.dataset).lastPathComponent != URL(fileURLWithPath: data).lastPathComponent {
            print("note: the classifier was trained on \(c.dataset), the real images come from \(data)")
        }
        let size = c.imageSize
        let test = try ClassifierCommand.loadSplit(data, split: .test, imageSize: size)
        let train = options.has("baselines") ? try ClassifierCommand.loadSplit(data, split: .train, imageSize: size) : nil
        let out = options.string("out") ?? ((checkpointPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("evaluation.json")

        var report = try Evaluation.evaluate(gan: gan, classifier: classifier, real: test, realDescription: "\(data) test split",
                                             options: settings, baselineTrain: train, noiseBaseline: options.has("baselines"),
                                             progress: { print($0) })
        report.classifier = classifierPath
        report.checkpoint = checkpointPath
        report.checkpointStep = checkpoint.step
        report.seconds = Date().timeIntervalSince(started)
        try writeAtomically(report.jsonData() + Data("\n".utf8), to: out)
        print(table(report))
        print("wrote \(out) (\(TrainingSession.duration(report.seconds)))")
        return 0
    }

    /// The metrics as a table, one row per metric and one column per image set.
    static func table(_ report: EvaluationReport) -> String {
        let network = report.featureNetwork
        var columns: [(title: String, values: [String: Double])] = [("generated (\(report.generatedCount))", report.metrics)]
        if let train = report.baselines?["real_train"] { columns.append(("real train", train)) }
        if let noise = report.baselines?["uniform_noise"] { columns.append(("uniform noise", noise)) }
        let rows: [(label: String, key: String)] = [
            ("Frechet distance", "frechet_distance_"), ("KID", "kid_"), ("KID std", "kid_std_"), ("precision (k=\(report.precisionRecallNeighbours))", "precision_"),
            ("recall (k=\(report.precisionRecallNeighbours))", "recall_"), ("density (k=\(report.densityCoverageNeighbours))", "density_"),
            ("coverage (k=\(report.densityCoverageNeighbours))", "coverage_"),
        ]
        func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
        var lines = ["features: \(network) (\(report.featureSize)-d penultimate layer of SwiftGAN's classifier"
                     + (report.classifierTestAccuracy.map { String(format: ", test accuracy %.1f%%", $0 * 100) } ?? "")
                     + "; not Inception FID)",
                     "real: \(report.realData) (\(report.realCount) images); checkpoint step \(report.checkpointStep.map(String.init) ?? "?")",
                     ""]
        lines.append(pad("metric", 20) + columns.map { pad($0.title, 18) }.joined())
        for row in rows {
            let cells = columns.map { column -> String in
                guard let v = column.values[row.key + network] else { return pad("-", 18) }
                return pad(abs(v) >= 1000 || (abs(v) < 0.01 && v != 0) ? String(format: "%.4g", v) : String(format: "%.4f", v), 18)
            }
            lines.append(pad(row.label, 20) + cells.joined())
        }
        return lines.joined(separator: "\n")
    }
}

/// Evaluation of 3D checkpoints: minimum matching distance and coverage (Achlioptas et al. 2018) of generated shapes
/// against real ones, with IoU and Chamfer distances, next to the same numbers for a second sample of real shapes.
enum ShapeEvaluation {
    static func run(gan: DCGAN, checkpoint: Checkpoint, checkpointPath: String, data: String, count: Int, seed: UInt64,
                    filesUpAxis: Int?, out: String?) throws -> Int32 {
        let started = Date()
        let c = gan.configuration
        let real = try VoxelDataset.loadForComparison(data, size: c.imageSize, upAxis: c.upAxis, filesUpAxis: filesUpAxis).map { shape in
            try VoxelDataset.requireOccupied(shape.grid, source: shape.source)
            return shape.grid.binarized()
        }
        guard real.count >= 2 * count else {
            throw UsageError("\(data) holds \(real.count) shapes; --count \(count) needs at least \(2 * count) (a reference set and a real baseline)")
        }
        // Two disjoint random samples of real shapes: the reference, and a baseline that shows what real shapes score.
        var rng = SeededRandomNumberGenerator(seed: seed)
        let order = Array(0..<real.count).seededShuffled(using: &rng)
        let reference = order[0..<count].map { real[$0] }
        let baseline = order[count..<(2 * count)].map { real[$0] }
        print("generating \(count) shapes ...")
        let generated = DCGAN.voxelGrids(from: gan.generate(gan.latents(count: count, seed: seed))).map { $0.binarized() }
        var results: [String: Double] = [:]
        var lines = ["metric                          generated   real baseline"]
        for (name, distance) in [("iou", ShapeDistance.iou), ("chamfer", ShapeDistance.chamfer)] {
            let g = VoxelMetrics.compare(generated: generated, reference: reference, distance: distance)
            let b = VoxelMetrics.compare(generated: baseline, reference: reference, distance: distance)
            results["mmd_\(name)"] = g.minimumMatchingDistance
            results["coverage_\(name)"] = g.coverage
            results["baseline_mmd_\(name)"] = b.minimumMatchingDistance
            results["baseline_coverage_\(name)"] = b.coverage
            lines.append(String(format: "MMD (%@)%@ %9.4f   %9.4f", name == "iou" ? "1 - IoU" : "Chamfer",
                                String(repeating: " ", count: name == "iou" ? 14 : 14), g.minimumMatchingDistance, b.minimumMatchingDistance))
            lines.append(String(format: "coverage (%@)%@ %9.3f   %9.3f", name == "iou" ? "1 - IoU" : "Chamfer",
                                String(repeating: " ", count: 9), g.coverage, b.coverage))
        }
        let path = out ?? ((checkpointPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent("evaluation.json")
        var json: [String: Any] = results
        json["checkpoint"] = checkpointPath
        json["step"] = checkpoint.step
        json["data"] = data
        json["count"] = count
        json["seconds"] = Date().timeIntervalSince(started)
        json["note"] = "MMD: mean over reference shapes of the distance to the nearest generated shape (lower is better); coverage: fraction of reference shapes that are some generated shape's nearest (higher is better); baseline: a disjoint sample of real shapes scored the same way"
        let bytes = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .prettyPrinted])
        try writeAtomically(bytes + Data("\n".utf8), to: path)
        print(lines.joined(separator: "\n"))
        print("wrote \(path) (\(TrainingSession.duration(Date().timeIntervalSince(started))))")
        return 0
    }
}
