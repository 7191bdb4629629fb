import Foundation

/// Turns a dataset argument (a name such as `fashion-mnist`, an IDX file, or a folder) into the
/// paths of its image and label files.
public enum DatasetLocator {
    /// Which part of a dataset to use.
    public enum Split: String, Sendable, CaseIterable {
        /// The training images (`train-…` files).
        case train
        /// The test images (`t10k-…` or `test-…` files).
        case test
    }

    /// Where Debian's dataset packages install their files.
    public static let defaultDatasetsRoot = "/usr/share/datasets"

    /// A dataset that can be named instead of given as a path.
    private struct NamedDataset {
        let name: String
        let installHint: String
    }

    private static let namedDatasets: [NamedDataset] = [
        NamedDataset(name: "fashion-mnist",
                     installHint: "run `apt-get install dataset-fashion-mnist` (or the README's scripts/setup.sh)"),
        NamedDataset(name: "mnist",
                     installHint: "Debian has no package for MNIST; put its IDX files there, or give the path of an MNIST "
                         + "IDX file or folder with --data"),
    ]

    /// The dataset names ``resolve(_:split:datasetsRoot:)`` knows.
    public static var knownNames: [String] { namedDatasets.map(\.name) }

    /// Finds the image file and, when there is one, the label file for `spec`.
    ///
    /// `spec` is one of:
    /// - a dataset name (`"fashion-mnist"`, `"mnist"`; case does not matter): the files
    ///   `<root>/<name>/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz` (or without `.gz`),
    ///   where `<root>` is `datasetsRoot`. A name wins over a folder of the same name in the current
    ///   directory; write `./mnist` for the folder.
    /// - an IDX file: used as the images whatever `split` says; the labels are the file whose name
    ///   has `images-idx3` replaced by `labels-idx1`, if it exists.
    /// - a folder holding exactly one file whose name matches `*train*images*idx3*` (for `.test`,
    ///   `*t10k*images*idx3*` or `*test*images*idx3*`), with labels guessed as for a file.
    ///
    /// - Throws: ``DataError/invalidDataset(_:)`` with a one-line message for an unknown name, a named
    ///   dataset that is not installed (saying how to install it), or a folder with no or several
    ///   matching files; ``DataError/fileNotFound(path:)`` for a path that does not exist.
    public static func resolve(_ spec: String, split: Split = .train,
                               datasetsRoot: String = defaultDatasetsRoot) throws -> (images: String, labels: String?) {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else {
            throw DataError.invalidDataset(
                "no dataset given: name one of \(knownNames.joined(separator: ", ")) or give an IDX file or folder")
        }
        if !trimmed.contains("/"),
           let named = namedDatasets.first(where: { $0.name.caseInsensitiveCompare(trimmed) == .orderedSame }) {
            return try resolveNamed(named, split: split, root: datasetsRoot)
        }
        let path = (trimmed as NSString).expandingTildeInPath
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            if !path.contains("/") && !path.contains(".") {
                throw DataError.invalidDataset(
                    "unknown dataset '\(trimmed)': name one of \(knownNames.joined(separator: ", ")) "
                        + "or give the path of an IDX file or folder")
            }
            throw DataError.fileNotFound(path: path)
        }
        if isDirectory.boolValue {
            let images = try findImages(inFolder: path, split: split)
            return (images, guessLabels(forImages: images))
        }
        return (path, guessLabels(forImages: path))
    }

    /// The label file that goes with an image file: its name with `images-idx3` replaced by
    /// `labels-idx1`, when that file exists; nil otherwise.
    public static func guessLabels(forImages imagesPath: String) -> String? {
        let url = URL(fileURLWithPath: imagesPath)
        let name = url.lastPathComponent
        guard let range = name.range(of: "images-idx3", options: .caseInsensitive) else { return nil }
        let labelName = name.replacingCharacters(in: range, with: "labels-idx1")
        let labelPath = (imagesPath as NSString).deletingLastPathComponent
        let candidate = labelPath.isEmpty ? labelName : (labelPath as NSString).appendingPathComponent(labelName)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue
        else { return nil }
        return candidate
    }

    private static func resolveNamed(_ dataset: NamedDataset, split: Split,
                                     root: String) throws -> (images: String, labels: String?) {
        let folder = (root as NSString).appendingPathComponent(dataset.name)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError.invalidDataset(
                "dataset '\(dataset.name)' is not installed (\(folder) is missing): \(dataset.installHint)")
        }
        let prefix = split == .train ? "train" : "t10k"
        let candidates = ["\(prefix)-images-idx3-ubyte.gz", "\(prefix)-images-idx3-ubyte"]
            .map { (folder as NSString).appendingPathComponent($0) }
        guard let images = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw DataError.invalidDataset(
                "dataset '\(dataset.name)' has no \(split.rawValue) images: \(candidates[0]) is missing; "
                    + dataset.installHint)
        }
        return (images, guessLabels(forImages: images))
    }

    /// The glob-style patterns (as ordered name parts) that select a split's image file.
    private static func patterns(for split: Split) -> [[String]] {
        switch split {
        case .train: return [["train", "images", "idx3"]]
        case .test: return [["t10k", "images", "idx3"], ["test", "images", "idx3"]]
        }
    }

    /// True when `name` contains `parts` in order (the glob `*part1*part2*…*`), ignoring case.
    private static func matches(_ name: String, _ parts: [String]) -> Bool {
        var rest = name.lowercased()[...]
        for part in parts {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return true
    }

    /// The names of the files in `folder` that match `split`'s IDX image patterns, sorted.
    private static func idxMatches(inFolder folder: String, split: Split) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw DataError.unreadable(path: folder, reason: error.localizedDescription)
        }
        let splitPatterns = patterns(for: split)
        return names.filter { name in
            guard !name.hasPrefix(".") else { return false }
            var isDirectory: ObjCBool = false
            let full = (folder as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue
            else { return false }
            return splitPatterns.contains { matches(name, $0) }
        }.sorted()
    }

    private static func findImages(inFolder folder: String, split: Split) throws -> String {
        let found = try idxMatches(inFolder: folder, split: split)
        let splitPatterns = patterns(for: split)
        let described = splitPatterns.map { "*" + $0.joined(separator: "*") + "*" }.joined(separator: " or ")
        guard !found.isEmpty else {
            throw DataError.invalidDataset("folder \(folder) has no \(split.rawValue) image file matching \(described)")
        }
        guard found.count == 1 else {
            throw DataError.invalidDataset(
                "folder \(folder) has \(found.count) files matching \(described) (\(found.joined(separator: ", "))); "
                    + "give the path of one of them")
        }
        return (folder as NSString).appendingPathComponent(found[0])
    }

    // MARK: - Image folders and packed files

    /// What a dataset argument refers to.
    public enum Source: Equatable, Sendable {
        /// An IDX image file and its label file, if any (see ``resolve(_:split:datasetsRoot:)``).
        case idx(images: String, labels: String?)
        /// A folder of image files (see ``ImageFolder/scan(_:)``).
        case imageFolder(String)
        /// A file written by ``PackedDataset/write(to:)``.
        case packed(String)
    }

    /// Decides what `spec` refers to: a dataset name or IDX file or folder as in
    /// ``resolve(_:split:datasetsRoot:)``, a packed dataset (recognised by its first bytes, whatever its name),
    /// or a folder of images. A folder with a matching IDX image file is an IDX dataset; one without is an
    /// image folder. `split` does not apply to image folders and packed files (each is one split).
    ///
    /// - Throws: the errors of ``resolve(_:split:datasetsRoot:)``; ``DataError/invalidDataset(_:)`` for a folder
    ///   with neither images nor IDX files, or a single image file given as a dataset; the errors of
    ///   ``ImageFolder/scan(_:)``.
    public static func locate(_ spec: String, split: Split = .train,
                              datasetsRoot: String = defaultDatasetsRoot) throws -> Source {
        let trimmed = spec.trimmingCharacters(in: .whitespaces)
        let path = (trimmed as NSString).expandingTildeInPath
        let isNamed = !trimmed.contains("/")
            && namedDatasets.contains { $0.name.caseInsensitiveCompare(trimmed) == .orderedSame }
        var isDirectory: ObjCBool = false
        guard !trimmed.isEmpty, !isNamed, FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            let files = try resolve(spec, split: split, datasetsRoot: datasetsRoot)
            return .idx(images: files.images, labels: files.labels)
        }
        if isDirectory.boolValue {
            if !(try idxMatches(inFolder: path, split: split)).isEmpty {
                let files = try resolve(spec, split: split, datasetsRoot: datasetsRoot)
                return .idx(images: files.images, labels: files.labels)
            }
            let scan = try ImageFolder.scan(path)
            guard !scan.files.isEmpty else {
                let described = patterns(for: split).map { "*" + $0.joined(separator: "*") + "*" }
                    .joined(separator: " or ")
                throw DataError.invalidDataset(ImageFolder.emptyMessage(scan, failures: 0)
                                               + "; nor has it an IDX file matching \(described)")
            }
            return .imageFolder(path)
        }
        if PackedDataset.isPacked(path) { return .packed(path) }
        if ImageFolder.imageExtensions.contains((path as NSString).pathExtension.lowercased()) {
            throw DataError.invalidDataset("\(path) is a single image: give the folder that holds the images "
                                           + "(or a file made by 'swiftgan data pack')")
        }
        return .idx(images: path, labels: guessLabels(forImages: path))
    }
}
