import Foundation

/// A set of images held in memory as `Float` values in `[-1, 1]`, with optional integer labels.
///
/// Pixels are stored contiguously in `N × C × H × W` order (image, channel, row, column).
/// Pixel bytes `p` from IDX files become `p / 127.5 - 1`, so 0 maps to -1 and 255 to 1.
///
/// Batches are lists of image indices. They come from a seeded shuffle of the whole set for each
/// epoch, so the same `(seed, epoch)` always gives the same batches, and ``batch(atStep:size:seed:)``
/// lets training that resumes at a global step see exactly the batches it would have seen.
public struct ImageDataset: Sendable {
    /// How images are brought to a target size.
    public enum SizePolicy: String, Sendable, CaseIterable {
        /// Centre the image and surround it with the background value -1 (black). With an odd
        /// difference the extra row/column goes to the bottom/right. The target may not be smaller
        /// than the source.
        case pad
        /// Resample each axis separately: bilinear interpolation when enlarging (pixel centres
        /// aligned, sample position `(i + 0.5) · source / target - 0.5`, clamped at the edges) and
        /// area averaging when shrinking (each output pixel is the mean of the source area it covers,
        /// partial pixels weighted by their overlap). Values stay inside `[-1, 1]`.
        case resize
    }

    /// All pixels, `count × channels × height × width` values in `[-1, 1]`.
    public let pixels: [Float]
    /// One label per image, or nil for an unlabelled set.
    public let labels: [Int]?
    /// The number of images.
    public let count: Int
    /// The number of channels per image (1 for grayscale).
    public let channels: Int
    /// The image height in pixels.
    public let height: Int
    /// The image width in pixels.
    public let width: Int

    /// The number of values in one image (`channels × height × width`).
    public var imageSize: Int { channels * height * width }

    /// The class names that labels index (from class subfolders or a packed file), or nil when the classes
    /// are unnamed.
    public let classNames: [String]?

    /// The number of classes: the number of class names when there are names, otherwise `max(label) + 1`;
    /// nil when there are no labels.
    public var classCount: Int? {
        guard let labels, let maximum = labels.max() else { return nil }
        if let classNames { return max(classNames.count, maximum + 1) }
        return maximum + 1
    }

    // MARK: - Construction

    /// Creates a dataset from pixels already in `N × C × H × W` order (mainly for tests and
    /// generated data).
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` when a dimension is not positive, the pixel count
    ///   is not a whole non-zero number of images, the label count differs from the image count, or
    ///   a label is negative.
    public init(images: [Float], labels: [Int]?, channels: Int, height: Int, width: Int,
                classNames: [String]? = nil) throws {
        guard channels > 0, height > 0, width > 0 else {
            throw DataError.invalidDataset(
                "image dimensions must be positive, got channels \(channels), height \(height), width \(width)")
        }
        let perImage = channels * height * width
        guard !images.isEmpty else {
            throw DataError.invalidDataset("the dataset is empty: it holds no images")
        }
        guard images.count % perImage == 0 else {
            throw DataError.invalidDataset(
                "\(images.count) pixel values are not a whole number of \(channels)×\(height)×\(width) images")
        }
        let n = images.count / perImage
        if let labels {
            guard labels.count == n else {
                throw DataError.invalidDataset("the dataset has \(n) images but \(labels.count) labels")
            }
            if let negative = labels.first(where: { $0 < 0 }) {
                throw DataError.invalidDataset("labels must not be negative, found \(negative)")
            }
        }
        self.pixels = images
        self.labels = labels
        self.count = n
        self.channels = channels
        self.height = height
        self.width = width
        self.classNames = classNames
    }

    /// Loads images (an IDX file of shape `(count, rows, cols)`) and optional labels (an IDX file of
    /// shape `(count,)`), scaling pixels to `[-1, 1]` and optionally bringing them to
    /// `targetSize × targetSize`.
    ///
    /// - Parameters:
    ///   - imagesPath: The IDX image file, gzip-compressed or raw.
    ///   - labelsPath: The IDX label file, or nil for no labels.
    ///   - targetSize: The side length wanted (for example 32 or 64), or nil to keep the source size.
    ///     When it equals the source size nothing is done.
    ///   - sizePolicy: How to reach `targetSize`; `.pad` turns 28×28 into 32×32 with 2 pixels of -1 on
    ///     each side.
    /// - Throws: the errors of ``IDX/read(_:)``; ``DataError/unsupported(path:reason:)`` when a file
    ///   has the wrong number of dimensions; ``DataError/invalidDataset(_:)`` when the files hold no
    ///   images, their counts differ (the message names both files and both counts) or the target
    ///   size cannot be reached with the policy.
    public init(imagesPath: String, labelsPath: String? = nil, targetSize: Int? = nil,
                sizePolicy: SizePolicy = .pad) throws {
        let images = try IDX.read(imagesPath)
        let labels = try labelsPath.map { try IDX.read($0) }
        try self.init(images: images, labels: labels, targetSize: targetSize, sizePolicy: sizePolicy,
                      imagesName: imagesPath, labelsName: labelsPath ?? "labels")
    }

    /// Builds a dataset from IDX arrays already in memory; see ``init(imagesPath:labelsPath:targetSize:sizePolicy:)``.
    public init(images: IDXArray, labels: IDXArray? = nil, targetSize: Int? = nil,
                sizePolicy: SizePolicy = .pad) throws {
        try self.init(images: images, labels: labels, targetSize: targetSize, sizePolicy: sizePolicy,
                      imagesName: "images", labelsName: "labels")
    }

    /// Finds `spec` with ``DatasetLocator/locate(_:split:datasetsRoot:)`` and loads it: a dataset name such as
    /// `"fashion-mnist"`, an IDX file or folder, a folder of image files, or a packed dataset.
    ///
    /// - Parameters:
    ///   - targetSize: The side length wanted, or nil to keep the source size (IDX and packed files only;
    ///     an image folder needs it).
    ///   - sizePolicy: How IDX images reach `targetSize`.
    ///   - channels: 1 or 3, or nil for the source's own: 1 for IDX files, the packed count for packed files,
    ///     and for image folders 3 when any image has colour (RGB, RGBA, palette), 1 otherwise. IDX images are
    ///     copied into 3 channels when 3 are asked for.
    ///   - crop: How images of an image folder are fitted to `targetSize` (see ``ImageConversion``).
    ///   - skipUnreadable: For an image folder: leave out files that cannot be decoded (reported through
    ///     `warn`) instead of refusing the whole folder.
    ///   - maxPixels: For an image folder: the largest image (width × height) that is decoded.
    ///   - background: For an image folder: the colour behind transparent pixels and padding.
    ///   - warn: Receives one-line notes about skipped files.
    /// - Throws: the errors of ``DatasetLocator/locate(_:split:datasetsRoot:)``, of the IDX initializers, of
    ///   ``PackedDataset/read(_:)`` and ``ImageFolder/load(_:conversion:maxPixels:threads:progress:)``;
    ///   ``DataError/invalidDataset(_:)`` when a packed file's size or channels differ from those asked for,
    ///   an image folder has unreadable files (listed by name) and `skipUnreadable` is false, or it has no
    ///   readable images.
    public static func load(_ spec: String, split: DatasetLocator.Split = .train, targetSize: Int? = nil,
                            sizePolicy: SizePolicy = .pad, channels: Int? = nil, crop: CropPolicy = .center,
                            skipUnreadable: Bool = false, maxPixels: Int = ImageConversion.defaultMaxPixels,
                            background: BackgroundColor = .black,
                            warn: ((String) -> Void)? = nil) throws -> ImageDataset {
        if let channels, channels != 1 && channels != 3 {
            throw DataError.invalidDataset("channels must be 1 or 3, got \(channels)")
        }
        switch try DatasetLocator.locate(spec, split: split) {
        case .idx(let images, let labels):
            let dataset = try ImageDataset(imagesPath: images, labelsPath: labels, targetSize: targetSize,
                                           sizePolicy: sizePolicy)
            return channels == 3 ? try dataset.replicatedToThreeChannels() : dataset
        case .packed(let path):
            let packed = try PackedDataset.read(path)
            if let targetSize, targetSize != packed.height || targetSize != packed.width {
                throw DataError.invalidDataset(
                    "\(path) holds \(packed.width)x\(packed.height) images but \(targetSize)x\(targetSize) are needed: "
                        + "use image size \(packed.height) or pack the images again with --image-size \(targetSize)")
            }
            if let channels, channels != packed.channels {
                throw DataError.invalidDataset(
                    "\(path) holds \(packed.channels)-channel images but \(channels) channels are needed: "
                        + "use \(packed.channels) channels or pack the images again with --channels \(channels)")
            }
            return try ImageDataset(packed: packed)
        case .imageFolder(let path):
            guard let targetSize else {
                throw DataError.invalidDataset("\(path) is a folder of images: give the image size to bring them to")
            }
            let conversion = ImageConversion(size: targetSize, channels: channels ?? 3, crop: crop,
                                             background: background, maxPixels: maxPixels)
            var contents = try ImageFolder.load(path, conversion: conversion)
            if channels == nil { contents = contents.grayscaleIfNoColour() }
            if !contents.failures.isEmpty {
                if skipUnreadable {
                    warn?("skipping \(contents.failures.count) of \(contents.scan.files.count) image files in \(path) that "
                          + "cannot be read: " + ImageFolder.failureList(contents.failures, root: path, limit: 10))
                } else {
                    try contents.requireAllReadable(hint: " (skip them with --skip-unreadable)")
                }
            }
            try contents.requireImages()
            let scan = contents.scan
            // A class whose folder gave no image would be a label with no data to learn it from.
            if let names = scan.classNames, let labels = contents.labels {
                var counts = [Int](repeating: 0, count: names.count)
                for label in labels where label < counts.count { counts[label] += 1 }
                let empty = names.indices.filter { counts[$0] == 0 }.map { "'\(names[$0])'" }
                if !empty.isEmpty {
                    throw DataError.invalidDataset("\(path): the class folder(s) \(empty.joined(separator: ", ")) have no readable "
                                                   + "images; add images or remove the folder(s)")
                }
            }
            if !scan.skippedHidden.isEmpty || !scan.skippedNonImage.isEmpty {
                warn?("skipped \(scan.skippedHidden.count) hidden entries and \(scan.skippedNonImage.count) non-image "
                      + "files in \(path)")
            }
            return try ImageDataset(contents)
        }
    }

    /// A dataset from a loaded, converted image folder (pixels scaled to `[-1, 1]`, labels and class names kept).
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` when the folder was not converted or gave no images.
    public init(_ contents: ImageFolderContents) throws {
        guard let conversion = contents.conversion else {
            throw DataError.invalidDataset("\(contents.scan.root): the images were checked but not converted")
        }
        try contents.requireImages()
        try self.init(images: Self.scaled(contents.pixels), labels: contents.labels, channels: conversion.channels,
                      height: conversion.size, width: conversion.size, classNames: contents.scan.classNames)
    }

    /// A dataset from a packed file's images (pixels scaled to `[-1, 1]`, labels and class names kept).
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` if the packed parts disagree (they are checked when read).
    public init(packed: PackedDataset) throws {
        try self.init(images: Self.scaled(packed.pixels), labels: packed.labels, channels: packed.channels,
                      height: packed.height, width: packed.width, classNames: packed.classNames)
    }

    /// The same images with their single channel copied into three (R = G = B); unchanged when already 3.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` when the dataset has a channel count other than 1 or 3.
    public func replicatedToThreeChannels() throws -> ImageDataset {
        if channels == 3 { return self }
        guard channels == 1 else {
            throw DataError.invalidDataset("cannot make 3 channels from \(channels)")
        }
        let plane = height * width
        var output = [Float](repeating: 0, count: count * 3 * plane)
        for n in 0..<count {
            let source = pixels[(n * plane)..<((n + 1) * plane)]
            for c in 0..<3 {
                output.replaceSubrange((n * 3 + c) * plane..<((n * 3 + c + 1) * plane), with: source)
            }
        }
        return try ImageDataset(images: output, labels: labels, channels: 3, height: height, width: width,
                                classNames: classNames)
    }

    private init(images: IDXArray, labels: IDXArray?, targetSize: Int?, sizePolicy: SizePolicy,
                 imagesName: String, labelsName: String) throws {
        guard images.shape.count == 3 else {
            throw DataError.unsupported(
                path: imagesName,
                reason: "expected images of shape (count, rows, cols), found shape \(images.shape)")
        }
        let n = images.shape[0], h = images.shape[1], w = images.shape[2]
        guard n > 0, h > 0, w > 0 else {
            throw DataError.invalidDataset("\(imagesName) holds no images (shape \(images.shape))")
        }
        var labelValues: [Int]?
        if let labels {
            guard labels.shape.count == 1 else {
                throw DataError.unsupported(
                    path: labelsName, reason: "expected labels of shape (count,), found shape \(labels.shape)")
            }
            guard labels.shape[0] == n else {
                throw DataError.invalidDataset(
                    "\(imagesName) holds \(n) images but \(labelsName) holds \(labels.shape[0]) labels")
            }
            labelValues = labels.bytes.map { Int($0) }
        }
        var targetHeight = h, targetWidth = w
        if let targetSize {
            guard targetSize > 0, targetSize <= 8192 else {
                throw DataError.invalidDataset("target image size must be between 1 and 8192, got \(targetSize)")
            }
            targetHeight = targetSize
            targetWidth = targetSize
        }
        let converted: [Float]
        if targetHeight == h && targetWidth == w {
            converted = Self.scaled(images.bytes)
        } else {
            switch sizePolicy {
            case .pad:
                guard targetHeight >= h, targetWidth >= w else {
                    throw DataError.invalidDataset(
                        "cannot pad \(h)×\(w) images to \(targetHeight)×\(targetWidth): the target is smaller; "
                            + "use the resize policy")
                }
                converted = Self.padded(images.bytes, count: n, height: h, width: w,
                                        toHeight: targetHeight, toWidth: targetWidth)
            case .resize:
                converted = Self.resized(images.bytes, count: n, height: h, width: w,
                                         toHeight: targetHeight, toWidth: targetWidth)
            }
        }
        self.pixels = converted
        self.labels = labelValues
        self.count = n
        self.channels = 1
        self.height = targetHeight
        self.width = targetWidth
        self.classNames = nil
    }

    // MARK: - Pixel conversion

    /// Byte value → `p / 127.5 - 1`.
    private static let scaleTable: [Float] = (0..<256).map { Float($0) / 127.5 - 1 }

    private static func scaled(_ bytes: [UInt8]) -> [Float] {
        let table = scaleTable
        return [Float](unsafeUninitializedCapacity: bytes.count) { output, initialized in
            bytes.withUnsafeBufferPointer { input in
                table.withUnsafeBufferPointer { lut in
                    for i in 0..<input.count {
                        output[i] = lut[Int(input[i])]
                    }
                }
            }
            initialized = bytes.count
        }
    }

    private static func padded(_ bytes: [UInt8], count: Int, height: Int, width: Int,
                               toHeight: Int, toWidth: Int) -> [Float] {
        let top = (toHeight - height) / 2
        let left = (toWidth - width) / 2
        var output = [Float](repeating: -1, count: count * toHeight * toWidth)
        let table = scaleTable
        output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { input in
                table.withUnsafeBufferPointer { lut in
                    for image in 0..<count {
                        let source = image * height * width
                        let destination = image * toHeight * toWidth + top * toWidth + left
                        for row in 0..<height {
                            let s = source + row * width
                            let d = destination + row * toWidth
                            for column in 0..<width {
                                out[d + column] = lut[Int(input[s + column])]
                            }
                        }
                    }
                }
            }
        }
        return output
    }

    /// Per-output-pixel source taps along one axis: `taps` (index, weight) pairs per output pixel.
    struct AxisResampler {
        let taps: Int
        let indices: [Int]
        let weights: [Float]

        init(from source: Int, to target: Int) {
            var indices: [Int] = []
            var weights: [Float] = []
            if target >= source {
                // Bilinear, half-pixel centres, edges clamped.
                taps = 2
                let scale = Double(source) / Double(target)
                for i in 0..<target {
                    let x = max((Double(i) + 0.5) * scale - 0.5, 0)
                    let x0 = min(Int(x.rounded(.down)), source - 1)
                    let x1 = min(x0 + 1, source - 1)
                    let fraction = x1 == x0 ? 0 : Float(x - Double(x0))
                    indices += [x0, x1]
                    weights += [1 - fraction, fraction]
                }
            } else {
                // Area average: output pixel i covers [i, i + 1) · source / target.
                let scale = Double(source) / Double(target)
                taps = Int(scale.rounded(.up)) + 1
                for i in 0..<target {
                    let start = Double(i) * scale
                    let end = Double(i + 1) * scale
                    let first = Int(start.rounded(.down))
                    for k in 0..<taps {
                        let j = first + k
                        let overlap = j < source ? min(end, Double(j + 1)) - max(start, Double(j)) : 0
                        indices.append(min(j, source - 1))
                        weights.append(Float(max(overlap, 0) / scale))
                    }
                }
            }
            self.indices = indices
            self.weights = weights
        }
    }

    private static func resized(_ bytes: [UInt8], count: Int, height: Int, width: Int,
                                toHeight: Int, toWidth: Int) -> [Float] {
        let horizontal = AxisResampler(from: width, to: toWidth)
        let vertical = AxisResampler(from: height, to: toHeight)
        let hTaps = horizontal.taps, vTaps = vertical.taps
        let total = count * toHeight * toWidth
        // Scratch buffers for one image: its scaled pixels and the result of the horizontal pass.
        let image = UnsafeMutablePointer<Float>.allocate(capacity: height * width)
        let rowPass = UnsafeMutablePointer<Float>.allocate(capacity: height * toWidth)
        defer {
            image.deallocate()
            rowPass.deallocate()
        }
        let table = scaleTable
        return [Float](unsafeUninitializedCapacity: total) { output, initialized in
            initialized = 0
            guard let out = output.baseAddress else { return }
            bytes.withUnsafeBufferPointer { input in
                table.withUnsafeBufferPointer { lut in
                    horizontal.indices.withUnsafeBufferPointer { hIndex in
                        horizontal.weights.withUnsafeBufferPointer { hWeight in
                            vertical.indices.withUnsafeBufferPointer { vIndex in
                                vertical.weights.withUnsafeBufferPointer { vWeight in
                                    for n in 0..<count {
                                        let s = n * height * width
                                        for i in 0..<(height * width) {
                                            image[i] = lut[Int(input[s + i])]
                                        }
                                        for row in 0..<height {
                                            let source = image + row * width
                                            let destination = rowPass + row * toWidth
                                            for x in 0..<toWidth {
                                                var sum: Float = 0
                                                for k in 0..<hTaps {
                                                    let t = x * hTaps + k
                                                    sum += hWeight[t] * source[hIndex[t]]
                                                }
                                                destination[x] = sum
                                            }
                                        }
                                        for y in 0..<toHeight {
                                            let destination = out + (n * toHeight + y) * toWidth
                                            let first = y * vTaps
                                            let firstWeight = vWeight[first]
                                            let firstRow = rowPass + vIndex[first] * toWidth
                                            for x in 0..<toWidth {
                                                destination[x] = firstWeight * firstRow[x]
                                            }
                                            for k in 1..<vTaps {
                                                let weight = vWeight[first + k]
                                                if weight == 0 { continue }
                                                let sourceRow = rowPass + vIndex[first + k] * toWidth
                                                for x in 0..<toWidth {
                                                    destination[x] += weight * sourceRow[x]
                                                }
                                            }
                                            for x in 0..<toWidth {
                                                destination[x] = min(max(destination[x], -1), 1)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            initialized = total
        }
    }

    // MARK: - Batches

    /// Checks that batches of `size` images can be drawn from this dataset.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` when the dataset is empty, `size` is below 2
    ///   (batch normalization needs at least 2 images per batch) or larger than the dataset
    ///   (the message gives both numbers).
    public func validateBatchSize(_ size: Int) throws {
        try Self.validate(batchSize: size, datasetCount: count)
    }

    static func validate(batchSize size: Int, datasetCount: Int) throws {
        guard datasetCount > 0 else {
            throw DataError.invalidDataset("the dataset is empty: it holds no images")
        }
        guard size != 1 else {
            throw DataError.invalidDataset(
                "batch size 1 is not allowed: batch normalization needs at least 2 images per batch")
        }
        guard size >= 2 else {
            throw DataError.invalidDataset("batch size must be at least 2, got \(size)")
        }
        guard size <= datasetCount else {
            throw DataError.invalidDataset(
                "batch size \(size) is larger than the dataset, which holds \(datasetCount) images")
        }
    }

    /// The number of full batches of `size` in one epoch (`count / size`).
    public func batchesPerEpoch(size: Int) throws -> Int {
        try validateBatchSize(size)
        return count / size
    }

    /// Splits a seeded shuffle of all indices into batches of `size` for one epoch.
    ///
    /// The shuffle depends only on `seed` and `epoch` (see ``SeededShuffle/permutation(count:seed:epoch:)``),
    /// so the result is the same on every run. With `dropLast` (the default) a final partial batch
    /// is left out; without it the last batch may be smaller than `size`.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` for a bad batch size (see ``validateBatchSize(_:)``)
    ///   or a negative epoch.
    public func batches(size: Int, seed: UInt64, epoch: Int, dropLast: Bool = true) throws -> [[Int]] {
        try validateBatchSize(size)
        guard epoch >= 0 else {
            throw DataError.invalidDataset("epoch must not be negative, got \(epoch)")
        }
        let order = SeededShuffle.permutation(count: count, seed: seed, epoch: epoch)
        var result: [[Int]] = []
        result.reserveCapacity(count / size + 1)
        var start = 0
        while start < count {
            let end = min(start + size, count)
            if end - start < size && dropLast { break }
            result.append(Array(order[start..<end]))
            start = end
        }
        return result
    }

    /// The batch that global training step `step` uses: batch `step % batchesPerEpoch` of epoch
    /// `step / batchesPerEpoch`, with partial batches dropped. Equal to
    /// `batches(size: size, seed: seed, epoch: step / b)[step % b]` where `b = count / size`.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` for a bad batch size or a negative step.
    public func batch(atStep step: Int, size: Int, seed: UInt64) throws -> [Int] {
        var iterator = try BatchIterator(datasetCount: count, batchSize: size, seed: seed, startStep: step)
        return iterator.nextBatch()
    }

    /// An endless iterator over batches, starting at global step `startStep`.
    public func batchIterator(size: Int, seed: UInt64, startStep: Int = 0) throws -> BatchIterator {
        try BatchIterator(datasetCount: count, batchSize: size, seed: seed, startStep: startStep)
    }

    /// Copies the images (and labels) at `indices`, in that order, into one contiguous
    /// `indices.count × C × H × W` buffer. Every index must be in `0..<count`.
    public func gather(_ indices: [Int]) -> (pixels: [Float], labels: [Int]?) {
        let size = imageSize
        var output = [Float](repeating: 0, count: indices.count * size)
        output.withUnsafeMutableBufferPointer { out in
            pixels.withUnsafeBufferPointer { all in
                guard let destination = out.baseAddress, let source = all.baseAddress else { return }
                for (position, index) in indices.enumerated() {
                    precondition(index >= 0 && index < count,
                                 "ImageDataset.gather: index \(index) is outside 0..<\(count)")
                    (destination + position * size).update(from: source + index * size, count: size)
                }
            }
        }
        let gatheredLabels = labels.map { all in indices.map { all[$0] } }
        return (output, gatheredLabels)
    }
}

/// An endless, deterministic sequence of batches (index lists) that crosses epoch boundaries.
///
/// Step `s` yields batch `s % b` of epoch `s / b`, where `b = datasetCount / batchSize` and each
/// epoch is a fresh seeded shuffle; partial batches are dropped. Because the batch depends only on
/// the step, an iterator created with `startStep: S` yields exactly what an iterator started at
/// step 0 yields after `S` batches, so resumed training sees the same data.
public struct BatchIterator: IteratorProtocol, Sequence, Sendable {
    /// The number of images the indices range over.
    public let datasetCount: Int
    /// The number of indices in every batch.
    public let batchSize: Int
    /// The shuffle seed.
    public let seed: UInt64
    /// The number of batches in each epoch (`datasetCount / batchSize`).
    public let batchesPerEpoch: Int
    /// The global step of the batch the next call to ``next()`` returns.
    public private(set) var step: Int

    private var cachedEpoch = -1
    private var order: [Int] = []

    /// Creates an iterator whose first batch is the one for global step `startStep`.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` for an empty dataset, a batch size below 2 or
    ///   above `datasetCount`, or a negative `startStep`.
    public init(datasetCount: Int, batchSize: Int, seed: UInt64, startStep: Int = 0) throws {
        try ImageDataset.validate(batchSize: batchSize, datasetCount: datasetCount)
        guard startStep >= 0 else {
            throw DataError.invalidDataset("training step must not be negative, got \(startStep)")
        }
        self.datasetCount = datasetCount
        self.batchSize = batchSize
        self.seed = seed
        self.batchesPerEpoch = datasetCount / batchSize
        self.step = startStep
    }

    /// The epoch the next batch belongs to.
    public var epoch: Int { step / batchesPerEpoch }

    /// Returns the batch for the current step and advances by one step.
    public mutating func nextBatch() -> [Int] {
        let currentEpoch = step / batchesPerEpoch
        if currentEpoch != cachedEpoch {
            order = SeededShuffle.permutation(count: datasetCount, seed: seed, epoch: currentEpoch)
            cachedEpoch = currentEpoch
        }
        let start = (step % batchesPerEpoch) * batchSize
        step += 1
        return Array(order[start..<(start + batchSize)])
    }

    /// Returns the next batch; never nil, since the sequence is endless.
    public mutating func next() -> [Int]? {
        nextBatch()
    }
}
