import XCTest
import Foundation
@testable import SwiftGAN
import SwiftGANData
import SwiftGANMetrics
import SwiftGANNN

final class EvaluationTests: XCTestCase {
    func smallGAN() -> DCGAN { DCGAN(configuration: smallConfiguration()) }

    func testEvaluateReportsEveryMetricUnderTheFeatureNetworksName() throws {
        var rng = SplitMix64(seed: 4)
        let real = try ImageDataset(images: Tensor.randomUniform(shape: [60, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &rng).scalars,
                                    labels: nil, channels: 1, height: 32, width: 32)
        let classifier = Classifier(configuration: tinyClassifierConfiguration())
        var options = EvaluationOptions()
        options.count = 40
        options.kidSubsetSize = 30
        options.kidSubsets = 5
        var lines: [String] = []
        let report = try Evaluation.evaluate(gan: smallGAN(), classifier: classifier, real: real, realDescription: "noise test set",
                                             options: options, baselineTrain: real, noiseBaseline: true) { lines.append($0) }
        let network = "swiftgan_lenet_fashion-mnist"
        XCTAssertEqual(report.featureNetwork, network)
        XCTAssertEqual(Set(report.metrics.keys), Set(["frechet_distance_", "kid_", "kid_std_", "precision_", "recall_", "density_", "coverage_"].map { $0 + network }))
        XCTAssertTrue(report.metrics.values.allSatisfy { $0.isFinite })
        XCTAssertEqual(Set(report.baselines?.keys.map { $0 } ?? []), ["real_train", "uniform_noise"])
        XCTAssertEqual(report.generatedCount, 40)
        XCTAssertEqual(report.realCount, 60)
        XCTAssertEqual(report.kidSubsetSize, 30)
        XCTAssertEqual(report.nearestNeighbourRealCount, 40)
        XCTAssertTrue(report.featureNetworkNote.contains("not Inception FID"))
        XCTAssertEqual(lines.count, 5)
        // Real training images that are the real set itself: distance ~0, perfect recall and coverage.
        let floor = try XCTUnwrap(report.baselines?["real_train"])
        XCTAssertEqual(floor["frechet_distance_" + network] ?? -1, 0, accuracy: 0.05 * (report.metrics["frechet_distance_" + network] ?? 0) + 1e-6)
        // The JSON names the metrics and reads back.
        let json = try report.jsonData()
        let text = String(decoding: json, as: UTF8.self)
        XCTAssertTrue(text.contains("\"frechet_distance_swiftgan_lenet_fashion-mnist\""))
        XCTAssertTrue(text.contains("\"feature_network\" : \"swiftgan_lenet_fashion-mnist\""))
        XCTAssertEqual(try JSONDecoder().decode(EvaluationReport.self, from: json), report)
        // The same seed gives the same numbers.
        let again = try Evaluation.evaluate(gan: smallGAN(), classifier: classifier, real: real, realDescription: "noise test set",
                                            options: options)
        XCTAssertEqual(again.metrics, report.metrics)
    }

    func testMismatchedSizesAreRefused() throws {
        var c = tinyClassifierConfiguration()
        c.imageSize = 64
        XCTAssertThrowsError(try Evaluation.generatedFeatures(gan: smallGAN(), classifier: Classifier(configuration: c), count: 4, seed: 0)) {
            XCTAssertEqual("\($0)", "the classifier takes 64x64x1 images but the generator makes 32x32x1; train a classifier with --image-size 32")
        }
        let real = try ImageDataset(images: [Float](repeating: 0, count: 4 * 256), labels: nil, channels: 1, height: 16, width: 16)
        XCTAssertThrowsError(try Evaluation.evaluate(gan: smallGAN(), classifier: Classifier(configuration: tinyClassifierConfiguration()),
                                                     real: real, realDescription: "x", options: EvaluationOptions())) {
            XCTAssertTrue("\($0)".contains("1x16x16 images but the classifier takes 1x32x32"), "\($0)")
        }
    }

    func testQuickIsDeterministicAndIsTheFrechetDistance() throws {
        let gan = smallGAN()
        let classifier = Classifier(configuration: tinyClassifierConfiguration())
        var rng = SplitMix64(seed: 8)
        let data = try ImageDataset(images: Tensor.randomUniform(shape: [50, 1, 32, 32], lowerBound: -1, upperBound: 1, using: &rng).scalars,
                                    labels: nil, channels: 1, height: 32, width: 32)
        let reference = try Evaluation.referenceStatistics(classifier: classifier, dataset: data, limit: 40)
        XCTAssertEqual(reference.count, 40)
        let a = try Evaluation.quick(gan: gan, classifier: classifier, reference: reference, count: 30)
        let b = try Evaluation.quick(gan: gan, classifier: classifier, reference: reference, count: 30)
        XCTAssertEqual(a, b)
        XCTAssertGreaterThan(a, 0)
        let generated = try Evaluation.generatedFeatures(gan: gan, classifier: classifier, count: 30, seed: 0x0E7A1)
        XCTAssertEqual(a, try FrechetDistance.compute(reference, FeatureStatistics(generated)), accuracy: 1e-9 * a)
        // Changing the generator's weights changes the value.
        gan.generator.output.weight.value = gan.generator.output.weight.value * 3
        XCTAssertNotEqual(try Evaluation.quick(gan: gan, classifier: classifier, reference: reference, count: 30), a)
    }

    /// Real training images against real test images give a small distance; uniform noise a large one, in the
    /// feature space of a classifier trained (briefly, on a subset) on Fashion-MNIST.
    func testRealVersusRealIsCloseAndNoiseIsFar() throws {
        guard let (classifier, train, test) = try briefFashionMNISTClassifier() else {
            throw XCTSkip("Fashion-MNIST is not in ../shared/data/fashion-mnist; skipping the real-versus-real metrics test")
        }
        let testFeatures = try Evaluation.datasetFeatures(classifier: classifier, dataset: Evaluation.shuffledPrefix(test, 1500, seed: 2))
        // 1,500 training images from another shuffle (about 95% of them not among those the classifier saw).
        let trainFeatures = try Evaluation.datasetFeatures(classifier: classifier, dataset: Evaluation.shuffledPrefix(train, 1500, seed: 9))
        let noiseFeatures = try Evaluation.noiseFeatures(classifier: classifier, count: 1500, seed: 3)
        var options = EvaluationOptions()
        options.kidSubsetSize = 500
        options.kidSubsets = 10
        let real = try Evaluation.compare(real: testFeatures, generated: trainFeatures, options: options)
        let noise = try Evaluation.compare(real: testFeatures, generated: noiseFeatures, options: options)
        print("real train vs real test: \(real)\nuniform noise vs real test: \(noise)")
        XCTAssertLessThan(real.frechetDistance * 20, noise.frechetDistance, "real \(real), noise \(noise)")
        XCTAssertLessThan(real.kernelDistance * 20, noise.kernelDistance, "real \(real), noise \(noise)")
        XCTAssertGreaterThan(real.precision, 0.6)
        XCTAssertGreaterThan(real.recall, 0.6)
        XCTAssertGreaterThan(real.coverage, 0.8)
        XCTAssertLessThan(noise.coverage, 0.2)
        XCTAssertLessThan(noise.recall, 0.2)
    }
}
