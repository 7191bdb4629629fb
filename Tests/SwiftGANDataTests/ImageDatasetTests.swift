import Foundation
import XCTest

@testable import SwiftGANData

final class ImageDatasetTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("dataset-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String {
        folder.appendingPathComponent(name).path
    }

    /// A dataset of `count` single-pixel-wide images whose values identify the image (`i / 100`).
    private func numberedDataset(count: Int, labels: Bool = true) throws -> ImageDataset {
        let pixels = (0..<count).flatMap { i in [Float](repeating: Float(i) / 100, count: 4) }
        return try ImageDataset(images: pixels, labels: labels ? (0..<count).map { $0 % 3 } : nil,
                                channels: 1, height: 2, width: 2)
    }

    private func invalidDatasetMessage(_ body: () throws -> Void, line: UInt = #line) -> String {
        do {
            try body()
            XCTFail("expected an invalidDataset error", line: line)
        } catch DataError.invalidDataset(let message) {
            return message
        } catch {
            XCTFail("expected invalidDataset, got \(error)", line: line)
        }
        return ""
    }

    // MARK: Random numbers and shuffling

    func testGeneratorMatchesReferenceValues() {
        // xoshiro256** seeded through SplitMix64, values from an independent implementation.
        var generator = SeededRandomNumberGenerator(seed: 42)
        XCTAssertEqual(generator.next(), 0x1578_0B2E_0C2E_C716)
        XCTAssertEqual(generator.next(), 0x6104_D986_6D11_3A7E)
        XCTAssertEqual(generator.next(), 0xAE17_5332_39E4_99A1)
        var zero = SeededRandomNumberGenerator(seed: 0)
        XCTAssertEqual(zero.next(), 0x99EC_5F36_CB75_F2B4)
        XCTAssertEqual(SeededShuffle.permutation(count: 10, seed: 7, epoch: 0), [5, 3, 8, 1, 0, 2, 4, 9, 7, 6])
        XCTAssertEqual(SeededShuffle.permutation(count: 10, seed: 7, epoch: 1), [1, 3, 9, 2, 4, 0, 7, 6, 8, 5])
    }

    func testBoundedValuesAreInRangeAndRoughlyUniform() {
        var generator = SeededRandomNumberGenerator(seed: 1)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 {
            let value = generator.next(below: 6)
            XCTAssertTrue((0..<6).contains(value))
            counts[value] += 1
        }
        for count in counts {
            XCTAssertEqual(Double(count), 10_000, accuracy: 500)
        }
        for _ in 0..<1000 {
            let unit = generator.nextFloat()
            XCTAssertTrue(unit >= 0 && unit < 1)
        }
    }

    func testSeededShuffleIsAPermutation() {
        var generator = SeededRandomNumberGenerator(seed: 99)
        let shuffled = (0..<1000).seededShuffled(using: &generator)
        XCTAssertNotEqual(shuffled, Array(0..<1000))
        XCTAssertEqual(shuffled.sorted(), Array(0..<1000))
    }

    // MARK: Loading and pixel conversion

    func testScalingEndpoints() throws {
        let images = IDXArray(shape: [1, 2, 2], bytes: [0, 255, 127, 128])
        let dataset = try ImageDataset(images: images)
        XCTAssertEqual(dataset.count, 1)
        XCTAssertEqual([dataset.channels, dataset.height, dataset.width], [1, 2, 2])
        XCTAssertEqual(dataset.pixels[0], -1)
        XCTAssertEqual(dataset.pixels[1], 1)
        XCTAssertEqual(dataset.pixels[2], 127 / 127.5 - 1, accuracy: 1e-7)
        XCTAssertEqual(dataset.pixels[3], 128 / 127.5 - 1, accuracy: 1e-7)
        XCTAssertNil(dataset.labels)
        XCTAssertNil(dataset.classCount)
    }

    func testPaddingTo32FromFiles() throws {
        let count = 3
        let bytes = IDXTestSupport.testBytes(count * 28 * 28, seed: 4).map { max($0, 1) }  // no pixel is 0
        try IDX.write(IDXArray(shape: [count, 28, 28], bytes: bytes), to: path("train-images-idx3-ubyte.gz"))
        try IDX.write(IDXArray(shape: [count], bytes: [3, 0, 9]), to: path("train-labels-idx1-ubyte.gz"))
        let dataset = try ImageDataset(imagesPath: path("train-images-idx3-ubyte.gz"),
                                       labelsPath: path("train-labels-idx1-ubyte.gz"), targetSize: 32)
        XCTAssertEqual([dataset.count, dataset.channels, dataset.height, dataset.width], [3, 1, 32, 32])
        XCTAssertEqual(dataset.pixels.count, 3 * 32 * 32)
        XCTAssertEqual(dataset.labels, [3, 0, 9])
        XCTAssertEqual(dataset.classCount, 10)
        for image in 0..<count {
            for y in 0..<32 {
                for x in 0..<32 {
                    let value = dataset.pixels[image * 1024 + y * 32 + x]
                    if (2..<30).contains(y) && (2..<30).contains(x) {
                        let byte = bytes[image * 784 + (y - 2) * 28 + (x - 2)]
                        XCTAssertEqual(value, Float(byte) / 127.5 - 1, accuracy: 1e-6)
                    } else {
                        XCTAssertEqual(value, -1, "border pixel (\(y), \(x)) of image \(image)")
                    }
                }
            }
        }
    }

    func testOddPaddingPutsTheExtraRowBottomRight() throws {
        let dataset = try ImageDataset(images: IDXArray(shape: [1, 1, 1], bytes: [255]), targetSize: 4)
        var expected = [Float](repeating: -1, count: 16)
        expected[1 * 4 + 1] = 1
        XCTAssertEqual(dataset.pixels, expected)
    }

    func testSameSizeTargetChangesNothing() throws {
        let images = IDXArray(shape: [2, 3, 3], bytes: IDXTestSupport.testBytes(18, seed: 2))
        let plain = try ImageDataset(images: images)
        for policy in ImageDataset.SizePolicy.allCases {
            let same = try ImageDataset(images: images, targetSize: 3, sizePolicy: policy)
            XCTAssertEqual(same.pixels, plain.pixels)
            XCTAssertEqual(same.height, 3)
        }
    }

    func testPaddingToASmallerSizeFails() {
        let message = invalidDatasetMessage {
            _ = try ImageDataset(images: IDXArray(shape: [1, 28, 28], bytes: [UInt8](repeating: 0, count: 784)),
                                 targetSize: 16, sizePolicy: .pad)
        }
        XCTAssertTrue(message.contains("28×28") && message.contains("16×16") && message.contains("resize"), message)
    }

    func testResizeUpTo64() throws {
        let bytes = IDXTestSupport.testBytes(2 * 28 * 28, seed: 6)
        let dataset = try ImageDataset(images: IDXArray(shape: [2, 28, 28], bytes: bytes), targetSize: 64,
                                       sizePolicy: .resize)
        XCTAssertEqual([dataset.count, dataset.channels, dataset.height, dataset.width], [2, 1, 64, 64])
        XCTAssertEqual(dataset.pixels.count, 2 * 64 * 64)
        XCTAssertTrue(dataset.pixels.allSatisfy { $0 >= -1 && $0 <= 1 })
        // Interpolation keeps values inside each image's own range and the mean close to the original.
        for image in 0..<2 {
            let source = bytes[(image * 784)..<((image + 1) * 784)].map { Float($0) / 127.5 - 1 }
            let output = dataset.pixels[(image * 4096)..<((image + 1) * 4096)]
            XCTAssertGreaterThanOrEqual(output.min() ?? -2, source.min() ?? 2)
            XCTAssertLessThanOrEqual(output.max() ?? 2, source.max() ?? -2)
            let sourceMean = source.reduce(0, +) / Float(source.count)
            let outputMean = output.reduce(0, +) / Float(output.count)
            XCTAssertEqual(outputMean, sourceMean, accuracy: 0.02)
        }
        // A constant image stays constant.
        let flat = try ImageDataset(images: IDXArray(shape: [1, 28, 28], bytes: [UInt8](repeating: 200, count: 784)),
                                    targetSize: 64, sizePolicy: .resize)
        for value in flat.pixels { XCTAssertEqual(value, 200 / 127.5 - 1, accuracy: 1e-5) }
    }

    func testBilinearAndAreaRules() throws {
        // 1×2 → 4×4 upscale: columns sample at x = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
        let up = try ImageDataset(images: IDXArray(shape: [1, 1, 2], bytes: [0, 255]), targetSize: 4,
                                  sizePolicy: .resize)
        let expectedRow: [Float] = [-1, -0.5, 0.5, 1]
        for y in 0..<4 {
            for x in 0..<4 {
                XCTAssertEqual(up.pixels[y * 4 + x], expectedRow[x], accuracy: 1e-6)
            }
        }
        // 4×4 → 2×2 downscale averages 2×2 blocks.
        let blocks: [UInt8] = [
            0, 0, 255, 255,
            0, 0, 255, 255,
            51, 153, 0, 0,
            255, 51, 0, 0,
        ]
        let down = try ImageDataset(images: IDXArray(shape: [1, 4, 4], bytes: blocks), targetSize: 2,
                                    sizePolicy: .resize)
        let expected: [Float] = [0, 255, 127.5, 0].map { $0 / 127.5 - 1 }
        for i in 0..<4 { XCTAssertEqual(down.pixels[i], expected[i], accuracy: 1e-5) }
        // 3 → 2 area: output 0 covers source [0, 1.5): (a + b/2) / 1.5.
        let third = try ImageDataset(images: IDXArray(shape: [1, 1, 3], bytes: [0, 255, 255]), targetSize: 2,
                                     sizePolicy: .resize)
        let a: Float = -1, b: Float = 1
        XCTAssertEqual(third.pixels[0], (a + b / 2) / 1.5, accuracy: 1e-5)
        XCTAssertEqual(third.pixels[1], 1, accuracy: 1e-5)
    }

    func testLabelCountMismatchNamesBothFiles() throws {
        try IDX.write(IDXArray(shape: [4, 2, 2], bytes: [UInt8](repeating: 1, count: 16)), to: path("img.gz"))
        try IDX.write(IDXArray(shape: [3], bytes: [0, 1, 2]), to: path("lab.gz"))
        let message = invalidDatasetMessage {
            _ = try ImageDataset(imagesPath: path("img.gz"), labelsPath: path("lab.gz"))
        }
        XCTAssertTrue(message.contains(path("img.gz")) && message.contains(path("lab.gz")), message)
        XCTAssertTrue(message.contains("4 images") && message.contains("3 labels"), message)
    }

    func testWrongFileShapesAreUnsupported() throws {
        try IDX.write(IDXArray(shape: [4, 4], bytes: [UInt8](repeating: 1, count: 16)), to: path("flat.gz"))
        XCTAssertThrowsError(try ImageDataset(imagesPath: path("flat.gz"))) { error in
            guard case .unsupported(let errorPath, let reason)? = error as? DataError else {
                return XCTFail("expected unsupported, got \(error)")
            }
            XCTAssertEqual(errorPath, path("flat.gz"))
            XCTAssertTrue(reason.contains("(count, rows, cols)"), reason)
        }
        try IDX.write(IDXArray(shape: [2, 2, 2], bytes: [UInt8](repeating: 1, count: 8)), to: path("img.gz"))
        XCTAssertThrowsError(try ImageDataset(imagesPath: path("img.gz"), labelsPath: path("img.gz"))) { error in
            guard case .unsupported(_, let reason)? = error as? DataError else {
                return XCTFail("expected unsupported, got \(error)")
            }
            XCTAssertTrue(reason.contains("(count,)"), reason)
        }
    }

    func testInMemoryInitializerValidates() {
        XCTAssertTrue(invalidDatasetMessage {
            _ = try ImageDataset(images: [], labels: nil, channels: 1, height: 2, width: 2)
        }.contains("empty"))
        XCTAssertTrue(invalidDatasetMessage {
            _ = try ImageDataset(images: [0, 0, 0], labels: nil, channels: 1, height: 2, width: 2)
        }.contains("not a whole number"))
        XCTAssertTrue(invalidDatasetMessage {
            _ = try ImageDataset(images: [0, 0, 0, 0], labels: [1, 2], channels: 1, height: 2, width: 2)
        }.contains("1 images but 2 labels"))
        XCTAssertTrue(invalidDatasetMessage {
            _ = try ImageDataset(images: [0, 0, 0, 0], labels: [-1], channels: 1, height: 2, width: 2)
        }.contains("negative"))
        XCTAssertTrue(invalidDatasetMessage {
            _ = try ImageDataset(images: IDXArray(shape: [0, 28, 28], bytes: []))
        }.contains("no images"))
    }

    func testMultiChannelGather() throws {
        // Two 2-channel 1×2 images.
        let dataset = try ImageDataset(images: [1, 2, 3, 4, 5, 6, 7, 8], labels: [7, 4], channels: 2, height: 1,
                                       width: 2)
        XCTAssertEqual(dataset.count, 2)
        XCTAssertEqual(dataset.imageSize, 4)
        XCTAssertEqual(dataset.classCount, 8)
        let gathered = dataset.gather([1, 0, 1])
        XCTAssertEqual(gathered.pixels, [5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(gathered.labels, [4, 7, 4])
    }

    // MARK: Batches

    func testBatchesAreDeterministicAndCoverTheDataset() throws {
        let dataset = try numberedDataset(count: 103)
        let first = try dataset.batches(size: 10, seed: 5, epoch: 0)
        XCTAssertEqual(first.count, 10)
        XCTAssertTrue(first.allSatisfy { $0.count == 10 })
        XCTAssertEqual(try dataset.batches(size: 10, seed: 5, epoch: 0), first)
        XCTAssertNotEqual(try dataset.batches(size: 10, seed: 6, epoch: 0), first)
        XCTAssertNotEqual(try dataset.batches(size: 10, seed: 5, epoch: 1), first)
        XCTAssertNotEqual(first.flatMap { $0 }, Array(0..<100), "the order should be shuffled")
        XCTAssertEqual(Set(first.flatMap { $0 }).count, 100, "no index repeats within an epoch")

        let all = try dataset.batches(size: 10, seed: 5, epoch: 0, dropLast: false)
        XCTAssertEqual(all.count, 11)
        XCTAssertEqual(all.last?.count, 3)
        XCTAssertEqual(all.flatMap { $0 }.sorted(), Array(0..<103))
        XCTAssertEqual(Array(all.prefix(10)), first)

        // Gathered pixels and labels follow the batch order.
        let batch = first[0]
        let gathered = dataset.gather(batch)
        XCTAssertEqual(gathered.pixels.count, 10 * 4)
        for (position, index) in batch.enumerated() {
            XCTAssertEqual(gathered.pixels[position * 4], Float(index) / 100)
            XCTAssertEqual(gathered.labels?[position], index % 3)
        }
    }

    func testBatchAtStepCrossesEpochBoundaries() throws {
        let dataset = try numberedDataset(count: 25)
        let size = 4  // 6 batches per epoch, one image left over each epoch
        XCTAssertEqual(try dataset.batchesPerEpoch(size: size), 6)
        var expected: [[Int]] = []
        for epoch in 0..<4 {
            expected += try dataset.batches(size: size, seed: 11, epoch: epoch)
        }
        for step in 0..<expected.count {
            XCTAssertEqual(try dataset.batch(atStep: step, size: size, seed: 11), expected[step], "step \(step)")
        }
        // Starting an iterator at any step gives what an iterator from step 0 gives from there on.
        var fromStart = try dataset.batchIterator(size: size, seed: 11)
        let sequence = (0..<expected.count).map { _ in fromStart.nextBatch() }
        XCTAssertEqual(sequence, expected)
        for start in [0, 5, 6, 7, 13, 18] {
            var resumed = try dataset.batchIterator(size: size, seed: 11, startStep: start)
            XCTAssertEqual(resumed.step, start)
            XCTAssertEqual(resumed.epoch, start / 6)
            let got = (start..<expected.count).map { _ in resumed.next() ?? [] }
            XCTAssertEqual(got, Array(expected[start...]), "resumed at step \(start)")
        }
        XCTAssertNotEqual(expected[0], expected[6], "each epoch has its own order")
    }

    func testBadBatchSizes() throws {
        let dataset = try numberedDataset(count: 12)
        let one = invalidDatasetMessage { _ = try dataset.batches(size: 1, seed: 0, epoch: 0) }
        XCTAssertTrue(one.contains("batch size 1") && one.contains("batch normalization"), one)
        let big = invalidDatasetMessage { _ = try dataset.batches(size: 13, seed: 0, epoch: 0) }
        XCTAssertTrue(big.contains("13") && big.contains("12"), big)
        let zero = invalidDatasetMessage { _ = try dataset.batch(atStep: 0, size: 0, seed: 0) }
        XCTAssertTrue(zero.contains("at least 2"), zero)
        let iterator = invalidDatasetMessage { _ = try BatchIterator(datasetCount: 12, batchSize: 20, seed: 0) }
        XCTAssertTrue(iterator.contains("20") && iterator.contains("12"), iterator)
        let empty = invalidDatasetMessage { _ = try BatchIterator(datasetCount: 0, batchSize: 2, seed: 0) }
        XCTAssertTrue(empty.contains("empty"), empty)
        let negative = invalidDatasetMessage { _ = try dataset.batch(atStep: -1, size: 4, seed: 0) }
        XCTAssertTrue(negative.contains("-1"), negative)
        // The whole dataset in one batch is allowed.
        XCTAssertEqual(try dataset.batches(size: 12, seed: 0, epoch: 0).count, 1)
    }

    // MARK: Real data

    func testRealFashionMNISTTestSet() throws {
        let data = IDXTestSupport.sharedDataFolder().appendingPathComponent("fashion-mnist")
        guard FileManager.default.fileExists(atPath: data.path) else {
            throw XCTSkip("Fashion-MNIST not found at \(data.path)")
        }
        let files = try DatasetLocator.resolve(data.path, split: .test)
        XCTAssertEqual(files.images, data.appendingPathComponent("t10k-images-idx3-ubyte.gz").path)
        XCTAssertEqual(files.labels, data.appendingPathComponent("t10k-labels-idx1-ubyte.gz").path)
        let dataset = try ImageDataset(imagesPath: files.images, labelsPath: files.labels, targetSize: 32)
        XCTAssertEqual([dataset.count, dataset.channels, dataset.height, dataset.width], [10000, 1, 32, 32])
        XCTAssertEqual(dataset.classCount, 10)
        XCTAssertEqual(dataset.pixels.min(), -1)
        XCTAssertEqual(dataset.pixels.max(), 1)
        // The 2-pixel frame is background.
        XCTAssertTrue((0..<32).allSatisfy { dataset.pixels[$0] == -1 && dataset.pixels[31 * 32 + $0] == -1 })
    }

    // MARK: Locating datasets

    private func touch(_ relative: String) throws {
        let url = folder.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data([0]).write(to: url)
    }

    func testNamedDatasets() throws {
        let root = folder.appendingPathComponent("datasets").path
        try touch("datasets/fashion-mnist/train-images-idx3-ubyte.gz")
        try touch("datasets/fashion-mnist/train-labels-idx1-ubyte.gz")
        try touch("datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
        let train = try DatasetLocator.resolve("fashion-mnist", datasetsRoot: root)
        XCTAssertEqual(train.images, root + "/fashion-mnist/train-images-idx3-ubyte.gz")
        XCTAssertEqual(train.labels, root + "/fashion-mnist/train-labels-idx1-ubyte.gz")
        let test = try DatasetLocator.resolve("Fashion-MNIST", split: .test, datasetsRoot: root)
        XCTAssertEqual(test.images, root + "/fashion-mnist/t10k-images-idx3-ubyte.gz")
        XCTAssertNil(test.labels)

        let missing = invalidDatasetMessage { _ = try DatasetLocator.resolve("mnist", datasetsRoot: root) }
        XCTAssertTrue(missing.contains("not installed") && missing.contains("Debian has no package for MNIST"), missing)
        let emptyRoot = folder.appendingPathComponent("nothing").path
        let notInstalled = invalidDatasetMessage {
            _ = try DatasetLocator.resolve("fashion-mnist", datasetsRoot: emptyRoot)
        }
        XCTAssertTrue(notInstalled.contains("apt-get install dataset-fashion-mnist"), notInstalled)
        XCTAssertFalse(notInstalled.contains("\n"))

        let unknown = invalidDatasetMessage { _ = try DatasetLocator.resolve("cifar10", datasetsRoot: root) }
        XCTAssertTrue(unknown.contains("unknown dataset 'cifar10'") && unknown.contains("fashion-mnist"), unknown)
    }

    func testSystemFashionMNISTIfInstalled() throws {
        guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist") else {
            throw XCTSkip("dataset-fashion-mnist is not installed")
        }
        let files = try DatasetLocator.resolve("fashion-mnist")
        XCTAssertEqual(files.images, "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
        XCTAssertEqual(files.labels, "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz")
    }

    func testPathsAndFolders() throws {
        try touch("a/train5k-images-idx3-ubyte.gz")
        try touch("a/train5k-labels-idx1-ubyte.gz")
        try touch("a/t10k-images-idx3-ubyte.gz")
        try touch("a/README.md")
        let a = folder.appendingPathComponent("a").path

        let file = try DatasetLocator.resolve(a + "/t10k-images-idx3-ubyte.gz")
        XCTAssertEqual(file.images, a + "/t10k-images-idx3-ubyte.gz")
        XCTAssertNil(file.labels, "no t10k labels file exists")

        let train = try DatasetLocator.resolve(a)
        XCTAssertEqual(train.images, a + "/train5k-images-idx3-ubyte.gz")
        XCTAssertEqual(train.labels, a + "/train5k-labels-idx1-ubyte.gz")
        XCTAssertEqual(try DatasetLocator.resolve(a, split: .test).images, a + "/t10k-images-idx3-ubyte.gz")

        try touch("b/train-images-idx3-ubyte")
        try touch("b/train-images-idx3-ubyte.gz")
        let b = folder.appendingPathComponent("b").path
        let several = invalidDatasetMessage { _ = try DatasetLocator.resolve(b) }
        XCTAssertTrue(several.contains("2 files") && several.contains("train-images-idx3-ubyte.gz"), several)
        let none = invalidDatasetMessage { _ = try DatasetLocator.resolve(b, split: .test) }
        XCTAssertTrue(none.contains("*t10k*images*idx3*"), none)

        let nowhere = folder.appendingPathComponent("missing/x.gz").path
        XCTAssertThrowsError(try DatasetLocator.resolve(nowhere)) { error in
            XCTAssertEqual(error as? DataError, .fileNotFound(path: nowhere))
        }
    }
}
