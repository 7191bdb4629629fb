import XCTest
import Foundation
@testable import SwiftGAN
import SwiftGANData
import SwiftGANNN

/// Two easy classes of 32x32 images: class 0 bright in the top half, class 1 bright in the bottom half, plus noise.
func halvesDataset(counts: [Int], seed: UInt64, flipLabels: Bool = false) throws -> ImageDataset {
    var rng = SplitMix64(seed: seed)
    var pixels: [Float] = []
    var labels: [Int] = []
    for (k, count) in counts.enumerated() {
        for _ in 0..<count {
            for row in 0..<32 {
                for _ in 0..<32 {
                    let bright = (row < 16) == (k == 0)
                    pixels.append((bright ? 0.6 : -0.6) + Float(Double(rng.next() % 1000) / 1000 - 0.5) * 0.4)
                }
            }
            labels.append(flipLabels ? 1 - k : k)
        }
    }
    return try ImageDataset(images: pixels, labels: labels, channels: 1, height: 32, width: 32)
}

final class AugmentationTests: XCTestCase {
    // MARK: Metrics

    func testAccuracyAndBalancedAccuracyOnImbalancedClasses() throws {
        // 8 of class 0, 2 of class 1; always predicting the majority class.
        let labels = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
        let majority = [Int](repeating: 0, count: 10)
        XCTAssertEqual(ClassificationMetrics.accuracy(predictions: majority, labels: labels), 0.8, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.balancedAccuracy(predictions: majority, labels: labels), 0.5, accuracy: 1e-12)
        // One minority image right, two majority images wrong: recall 6/8 and 1/2.
        let mixed = [0, 0, 0, 0, 0, 0, 1, 1, 1, 0]
        XCTAssertEqual(ClassificationMetrics.accuracy(predictions: mixed, labels: labels), 0.7, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.balancedAccuracy(predictions: mixed, labels: labels), (0.75 + 0.5) / 2, accuracy: 1e-12)
        // From probabilities: predictions are the most probable class.
        var probabilities: [Double] = []
        for p in mixed { probabilities += p == 1 ? [0.3, 0.7] : [0.9, 0.1] }
        let metrics = try ClassificationMetrics(probabilities: probabilities, labels: labels, classCount: 2)
        XCTAssertEqual(metrics.accuracy, 0.7, accuracy: 1e-12)
        XCTAssertEqual(metrics.balancedAccuracy, 0.625, accuracy: 1e-12)
        XCTAssertEqual(metrics.count, 10)
        XCTAssertThrowsError(try ClassificationMetrics(probabilities: [0.5], labels: labels, classCount: 2))
        XCTAssertThrowsError(try ClassificationMetrics(probabilities: [0.5, 0.5], labels: [2], classCount: 2))
    }

    func testRocAUCHandValuesAndTies() throws {
        // The classic example: negatives 0.1, 0.4; positives 0.35, 0.8 -> 3 of 4 pairs ordered.
        XCTAssertEqual(ClassificationMetrics.rocAUC(scores: [0.1, 0.4, 0.35, 0.8], positives: [false, false, true, true]) ?? -1, 0.75, accuracy: 1e-12)
        // A tie between a positive and a negative counts one half: pairs 1 + 1 + 0.5 + 1 of 4.
        XCTAssertEqual(ClassificationMetrics.rocAUC(scores: [0.6, 0.5, 0.5, 0.2], positives: [true, true, false, false]) ?? -1, 0.875, accuracy: 1e-12)
        // All scores equal: 0.5. Perfect and reversed rankings: 1 and 0.
        XCTAssertEqual(ClassificationMetrics.rocAUC(scores: [3, 3, 3, 3], positives: [true, false, true, false]) ?? -1, 0.5, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.rocAUC(scores: [1, 2, 3], positives: [false, true, true]) ?? -1, 1, accuracy: 1e-12)
        XCTAssertEqual(ClassificationMetrics.rocAUC(scores: [1, 2, 3], positives: [true, false, false]) ?? -1, 0, accuracy: 1e-12)
        // Undefined without positives or negatives.
        XCTAssertNil(ClassificationMetrics.rocAUC(scores: [1, 2], positives: [true, true]))
        XCTAssertNil(ClassificationMetrics.rocAUC(scores: [1, 2], positives: [false, false]))

        // Against the pairwise definition on imbalanced data with many ties (scores on a coarse grid).
        var rng = SplitMix64(seed: 11)
        let n = 300
        let positives = (0..<n).map { _ in rng.next() % 10 < 2 }          // about 20% positives
        let scores = positives.map { p in Double(rng.next() % 6) + (p ? 1 : 0) }
        var pairs = 0.0, total = 0.0
        for i in 0..<n where positives[i] {
            for j in 0..<n where !positives[j] {
                total += 1
                pairs += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0
            }
        }
        let auc = try XCTUnwrap(ClassificationMetrics.rocAUC(scores: scores, positives: positives))
        XCTAssertEqual(auc, pairs / total, accuracy: 1e-12)
        XCTAssertGreaterThan(auc, 0.55)
        // Repeating every negative (more imbalance) leaves the AUC unchanged.
        let negatives = (0..<n).filter { !positives[$0] }
        let moreScores = scores + negatives.map { scores[$0] }
        let morePositives = positives + negatives.map { _ in false }
        XCTAssertEqual(ClassificationMetrics.rocAUC(scores: moreScores, positives: morePositives) ?? -1, auc, accuracy: 1e-12)
    }

    func testMacroAUCForThreeClassesIsTheMeanOfOneVsRest() throws {
        var rng = SplitMix64(seed: 3)
        let labels = (0..<60).map { _ in Int(rng.next() % 3) }
        var probabilities: [Double] = []
        for y in labels {
            var row = (0..<3).map { _ in Double(rng.next() % 100) + 1 }
            row[y] += 40
            let sum = row.reduce(0, +)
            probabilities += row.map { $0 / sum }
        }
        let metrics = try ClassificationMetrics(probabilities: probabilities, labels: labels, classCount: 3)
        let perClass = (0..<3).map { k in
            ClassificationMetrics.rocAUC(scores: (0..<60).map { probabilities[$0 * 3 + k] }, positives: labels.map { $0 == k }) ?? 0
        }
        XCTAssertEqual(metrics.rocAUC ?? -1, perClass.reduce(0, +) / 3, accuracy: 1e-12)
        // Two classes use the score of class 1 only.
        let binary = try ClassificationMetrics(probabilities: [0.8, 0.2, 0.4, 0.6, 0.3, 0.7], labels: [0, 1, 0], classCount: 2)
        XCTAssertEqual(binary.rocAUC ?? -1, 0.5, accuracy: 1e-12)   // the positive (0.6) lies between the negatives (0.2, 0.7)
    }

    func testMeanAndSampleStandardDeviation() throws {
        let s = try XCTUnwrap(MeanAndDeviation([1, 2, 3, 4]))
        XCTAssertEqual(s.mean, 2.5, accuracy: 1e-12)
        XCTAssertEqual(s.standardDeviation, (5.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(MeanAndDeviation([0.7])?.standardDeviation, 0)
        XCTAssertNil(MeanAndDeviation([]))
        XCTAssertEqual(s.text, "2.500 ± 1.291")
    }

    // MARK: Class counts and subsets

    func testSyntheticClassCountRules() {
        XCTAssertEqual(SyntheticClassCounts.equal.counts(perClass: 500, realCounts: [1214, 3494]), [500, 500])
        // 2000 in all in the ratio 1214 : 3494 (515.7 : 1484.3).
        XCTAssertEqual(SyntheticClassCounts.matchReal.counts(perClass: 1000, realCounts: [1214, 3494]), [516, 1484])
        let three = SyntheticClassCounts.matchReal.counts(perClass: 10, realCounts: [1, 1, 1])
        XCTAssertEqual(three.reduce(0, +), 30)
        XCTAssertEqual(three, [10, 10, 10])
        let uneven = SyntheticClassCounts.matchReal.counts(perClass: 1, realCounts: [1, 1, 1, 0])
        XCTAssertEqual(uneven.reduce(0, +), 4, "the total is kept exactly")
        XCTAssertEqual(uneven[3], 0, "a class without real images gets none")
    }

    func testStratifiedSubsetKeepsClassRatios() throws {
        let labels = [Int](repeating: 0, count: 300) + [Int](repeating: 1, count: 100) + [Int](repeating: 2, count: 7)
        var shuffled = labels
        var rng = SeededRandomNumberGenerator(seed: 5)
        shuffled.seededShuffle(using: &rng)
        let pixels = shuffled.enumerated().flatMap { i, _ in [Float](repeating: Float(i) / 1000, count: 4) }
        let data = try ImageDataset(images: pixels, labels: shuffled, channels: 1, height: 2, width: 2)
        let (subset, indices) = try Augmentation.stratifiedSubset(data, fraction: 0.1, seed: 1)
        XCTAssertEqual(Augmentation.classCounts(subset.labels ?? [], classCount: 3), [30, 10, 1])
        XCTAssertEqual(indices, indices.sorted())
        XCTAssertEqual(Set(indices).count, indices.count)
        for (position, i) in indices.enumerated() {
            XCTAssertEqual(subset.labels?[position], shuffled[i])
            XCTAssertEqual(subset.pixels[position * 4], Float(i) / 1000, "the subset holds the images of its indices")
        }
        XCTAssertEqual(try Augmentation.stratifiedSubset(data, fraction: 0.1, seed: 1).indices, indices, "seeded")
        XCTAssertNotEqual(try Augmentation.stratifiedSubset(data, fraction: 0.1, seed: 2).indices, indices)
        XCTAssertEqual(try Augmentation.stratifiedSubset(data, fraction: 1, seed: 3).indices, Array(0..<407))
        XCTAssertThrowsError(try Augmentation.stratifiedSubset(data, fraction: 0, seed: 1))
        XCTAssertThrowsError(try Augmentation.stratifiedSubset(data, fraction: 1.5, seed: 1))
    }

    // MARK: Generation and files

    func conditionalGAN(classes: Int = 3) -> DCGAN {
        var c = smallConfiguration()
        c.classCount = classes
        let gan = DCGAN(configuration: c)
        // Give the classes different shifts so that their images differ.
        for block in gan.generator.blocks {
            guard let table = block.conditionalNorm?.shift.weight else { continue }
            var rng = SplitMix64(seed: 9)
            table.value = Tensor.randomNormal(shape: table.value.shape, using: &rng)
        }
        return gan
    }

    func testGenerationIsPerClassAndSeeded() throws {
        let gan = conditionalGAN()
        let a = try Augmentation.generate(gan: gan, counts: [2, 0, 3], seed: 4)
        XCTAssertEqual(a.labels, [0, 0, 2, 2, 2])
        // Class 2's images do not depend on the other classes' counts.
        let b = try Augmentation.generate(gan: gan, counts: [5, 1, 2], seed: 4)
        let size = a.imageSize
        XCTAssertEqual(Array(b.pixels[(6 * size)..<(8 * size)]), Array(a.pixels[(2 * size)..<(4 * size)]))
        XCTAssertNotEqual(try Augmentation.generate(gan: gan, counts: [2, 0, 3], seed: 5).pixels, a.pixels)
        XCTAssertThrowsError(try Augmentation.generate(gan: DCGAN(configuration: smallConfiguration()), counts: [1], seed: 0)) { error in
            XCTAssertTrue("\(error)".contains("unconditional"))
        }
        XCTAssertThrowsError(try Augmentation.generate(gan: gan, counts: [0, 0, 0], seed: 0))
    }

    func testPNGAndIDXOutputsRoundTripWithMetadata() throws {
        let gan = conditionalGAN()
        let images = try Augmentation.generate(gan: gan, counts: [3, 1, 2], seed: 1)
        for format in SyntheticFormat.allCases {
            let dir = temporaryDirectory("augment-\(format.rawValue)")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let metadata = SyntheticMetadata(storage: format, checkpoint: "runs/x/checkpoint.safetensors", step: 1234, seed: 1,
                                             classCounts: [3, 1, 2], classCountRule: "equal", configuration: gan.configuration)
            try Augmentation.write(images, metadata: metadata, to: dir)
            let (read, readMetadata) = try Augmentation.read(dir)
            XCTAssertEqual(readMetadata, metadata)
            XCTAssertEqual(read.labels, images.labels)
            XCTAssertEqual(read.count, 6)
            // Stored as bytes: within half a grey level.
            let worst = zip(read.pixels, images.pixels).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThanOrEqual(worst, 0.5 / 127.5 + 1e-6)
            // The metadata file marks the set as synthetic and names its source.
            let json = try String(contentsOfFile: dir + "/metadata.json", encoding: .utf8)
            XCTAssertTrue(json.contains("\"synthetic\" : true"), json)
            XCTAssertTrue(json.contains("\"checkpoint\" : \"runs/x/checkpoint.safetensors\""))
            XCTAssertTrue(json.contains("\"step\" : 1234"))
            if format == .png {
                let csv = try String(contentsOfFile: dir + "/labels.csv", encoding: .utf8).split(separator: "\n")
                XCTAssertEqual(csv.first, "file,label,synthetic")
                XCTAssertEqual(csv.count, 7)
                XCTAssertTrue(csv.dropFirst().allSatisfy { $0.hasSuffix(",true") })
                XCTAssertEqual(csv[4], "images/class-1/class-1-00000.png,1,true")
                // The images folder is a class-subfolder dataset for 'swiftgan train --data'.
                let folder = try ImageDataset.load(dir + "/images", targetSize: 32)
                XCTAssertEqual(folder.labels, images.labels)
            } else {
                XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + Augmentation.idxImagesFile))
            }
            // Writing again replaces the earlier set.
            let fewer = try Augmentation.generate(gan: gan, counts: [1, 1, 0], seed: 2)
            var second = metadata
            second.classCounts = [1, 1, 0]
            try Augmentation.write(fewer, metadata: second, to: dir)
            XCTAssertEqual(try Augmentation.read(dir).images.labels, [0, 1])
            // Damaged metadata is reported with the file's name.
            try "{\"format\": \"other\"}".write(toFile: dir + "/metadata.json", atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try Augmentation.read(dir)) { XCTAssertTrue("\($0)".contains("metadata.json")) }
        }
        // A folder holding someone else's images is not overwritten.
        let foreign = temporaryDirectory("augment-foreign")
        defer { try? FileManager.default.removeItem(atPath: foreign) }
        try FileManager.default.createDirectory(atPath: foreign + "/images", withIntermediateDirectories: true)
        let metadata = SyntheticMetadata(storage: .png, checkpoint: nil, step: 0, seed: 0, classCounts: [3, 1, 2], classCountRule: "equal",
                                         configuration: gan.configuration)
        XCTAssertThrowsError(try Augmentation.write(images, metadata: metadata, to: foreign))
    }

    // MARK: Class consistency and the evaluation protocol

    func testClassConsistencyCountsRequestedClasses() throws {
        let train = try halvesDataset(counts: [40, 40], seed: 1)
        var c = tinyClassifierConfiguration(classes: 2)
        c.epochs = 3
        let trainer = try ClassifierTrainer(configuration: c, dataset: train)
        try trainer.train()
        let right = try Augmentation.classConsistency(images: halvesDataset(counts: [10, 30], seed: 2), classifier: trainer.classifier)
        XCTAssertEqual(right.count, 40)
        XCTAssertEqual(right.overall, 1, accuracy: 1e-12)
        XCTAssertEqual(right.confusion, [[10, 0], [0, 30]])
        let wrong = try Augmentation.classConsistency(images: halvesDataset(counts: [10, 30], seed: 2, flipLabels: true),
                                                      classifier: trainer.classifier)
        XCTAssertEqual(wrong.overall, 0, accuracy: 1e-12)
        XCTAssertEqual(wrong.perClass, [0, 0])
    }

    func testEndToEndEvaluationOnToyData() throws {
        let train = try halvesDataset(counts: [24, 8], seed: 1)
        let test = try halvesDataset(counts: [30, 10], seed: 2)
        // A perfect "generator" draws new images from the true distribution; a broken one swaps the classes.
        let good = SyntheticSource(description: "toy sampler") { counts, seed in try halvesDataset(counts: counts, seed: seed) }
        let broken = SyntheticSource(description: "swapped sampler") { counts, seed in
            try halvesDataset(counts: [counts[1], counts[0]], seed: seed, flipLabels: true)
        }
        var options = AugmentationEvaluationOptions()
        options.seeds = [1, 2]
        options.perClass = 16
        options.classifier = tinyClassifierConfiguration(classes: 2)
        options.classifier.batchSize = 8
        options.classifierSteps = 30
        options.conditions = [.realOnly, .realPlusSynthetic, .syntheticOnly, .realPlusResampled]
        let subset = try Augmentation.stratifiedSubset(train, fraction: 0.5, seed: 1).dataset
        var lines: [String] = []
        let report = try AugmentationEvaluation.run(
            dataset: "toy", trainingSets: [AugmentationTrainingSet(name: "full", real: train, synthetic: good),
                                           AugmentationTrainingSet(name: "50%", real: subset, synthetic: broken)],
            test: test, options: options, notes: ["a note"]) { lines.append($0) }
        XCTAssertEqual(lines.count, 2 * 4 * 2, "one line per set, condition and seed")
        XCTAssertEqual(report.results.count, 8)
        XCTAssertEqual(report.testClassCounts, [30, 10])
        func result(_ set: String, _ c: AugmentationCondition) throws -> AugmentationResult {
            try XCTUnwrap(report.results.first { $0.trainingSet == set && $0.condition == c })
        }
        XCTAssertEqual(try result("full", .realOnly).realClassCounts, [24, 8])
        XCTAssertEqual(try result("50%", .realOnly).realClassCounts, [12, 4])
        XCTAssertEqual(try result("full", .realPlusSynthetic).addedClassCounts, [16, 16])
        XCTAssertEqual(try result("full", .realPlusResampled).addedClassCounts, [16, 16])
        XCTAssertEqual(try result("full", .syntheticOnly).realClassCounts, [0, 0])
        XCTAssertEqual(try result("full", .realOnly).runs.count, 2)
        // The easy task is learnt from real data and from good synthetic data; swapped classes are learnt backwards.
        XCTAssertGreaterThan(try XCTUnwrap(result("full", .realOnly).balancedAccuracy).mean, 0.9)
        XCTAssertGreaterThan(try XCTUnwrap(result("full", .syntheticOnly).balancedAccuracy).mean, 0.9)
        XCTAssertLessThan(try XCTUnwrap(result("50%", .syntheticOnly).balancedAccuracy).mean, 0.2)
        XCTAssertLessThan(try XCTUnwrap(result("50%", .syntheticOnly).rocAUC).mean, 0.2)
        XCTAssertTrue(report.conclusions.contains { $0.hasPrefix("50% training set: a classifier trained on synthetic images only") })
        XCTAssertTrue(report.conclusions.last?.hasPrefix("Overall:") ?? false, "\(report.conclusions)")
        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("| training set | condition | real + added per class | accuracy | balanced accuracy | ROC AUC |"))
        XCTAssertTrue(markdown.contains("| full | real + synthetic | [24, 8] + [16, 16] |"))
        XCTAssertTrue(markdown.contains("a note"))
        XCTAssertEqual(try JSONDecoder().decode(AugmentationReport.self, from: report.json()), report)
    }

    func testConclusionsFollowTheNumbers() throws {
        func row(_ condition: AugmentationCondition, _ values: [Double], set: String = "full") -> AugmentationResult {
            let runs = values.map { ClassificationMetrics(accuracy: $0, balancedAccuracy: $0, rocAUC: $0, count: 10) }
            return AugmentationResult(trainingSet: set, condition: condition, realClassCounts: [5, 5], addedClassCounts: [], runs: runs,
                                      seeds: [1, 2, 3], accuracy: MeanAndDeviation(values), balancedAccuracy: MeanAndDeviation(values),
                                      rocAUC: MeanAndDeviation(values))
        }
        // Within one standard deviation: no help, said plainly.
        let same = AugmentationEvaluation.conclusions([row(.realOnly, [0.80, 0.82, 0.84]), row(.realPlusSynthetic, [0.81, 0.83, 0.85])],
                                                      trainingSets: ["full"])
        XCTAssertTrue(same[0].contains("did not change balanced accuracy beyond one standard deviation"), same[0])
        XCTAssertTrue(same.last?.hasPrefix("Overall: synthetic data did not help") ?? false)
        // Clearly better on the small set only.
        let better = AugmentationEvaluation.conclusions(
            [row(.realOnly, [0.80, 0.82, 0.84]), row(.realPlusSynthetic, [0.79, 0.81, 0.83]),
             row(.realOnly, [0.60, 0.61, 0.62], set: "10%"), row(.realPlusSynthetic, [0.70, 0.71, 0.72], set: "10%"),
             row(.realPlusResampled, [0.70, 0.70, 0.71], set: "10%")],
            trainingSets: ["full", "10%"])
        XCTAssertTrue(better.contains { $0.hasPrefix("10% training set") && $0.contains("improved balanced accuracy by +0.100") }, "\(better)")
        XCTAssertTrue(better.contains { $0.contains("explained by rebalancing") }, "the control matches the gain")
        XCTAssertEqual(better.last, "Overall: synthetic data improved balanced accuracy beyond one standard deviation on: 10%; not on: full. "
                       + "With few seeds this is a screen, not a significance test.")
        let worse = AugmentationEvaluation.compare(MeanAndDeviation([0.5, 0.5])!, with: MeanAndDeviation([0.8, 0.8])!)
        XCTAssertEqual(worse, .worse)
    }
}
