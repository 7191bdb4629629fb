import XCTest
import Foundation
import SwiftGANData

/// Runs the built `swiftgan` executable as a user would, in a fresh temporary folder per test.
class SwiftganProcessTestCase: XCTestCase {
    var work = ""

    override func setUpWithError() throws {
        work = NSTemporaryDirectory() + "swiftgan-cli-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: work) }

    /// The executable in the build products folder (`.build/<configuration>/swiftgan`), which holds the test bundle.
    var executable: String {
        let bundle = Bundle(for: SwiftganProcessTestCase.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("swiftgan").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    struct Result { let status: Int32; let stdout: String; let stderr: String }

    /// Runs `swiftgan arguments`, with `environment` added to this process's environment.
    func swiftgan(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            XCTFail("the swiftgan executable is not built at \(executable) (run 'swift build' first)")
            throw CocoaError(.fileNoSuchFile)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A failure: non-zero exit, exactly one line on standard error containing `text`, no crash.
    func assertError(_ arguments: [String], contains text: String, environment: [String: String] = [:],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try swiftgan(arguments, environment: environment)
        XCTAssertNotEqual(r.status, 0, "\(arguments) should fail", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "\(arguments) crashed: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line expected, got: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.contains(text), "got: \(r.stderr)", file: file, line: line)
    }

}

/// The commands end to end: training, resuming, sampling, interpolation, data tools, and their errors.
final class CommandLineTests: SwiftganProcessTestCase {
    /// A small IDX dataset of 32 random 28x28 images.
    func makeDataset() throws -> String {
        var bytes = [UInt8](repeating: 0, count: 32 * 28 * 28)
        for i in bytes.indices { bytes[i] = UInt8((i * 37 + i / 28 * 11) % 256) }
        let path = work + "/tiny-images-idx3-ubyte.gz"
        try IDX.write(IDXArray(shape: [32, 28, 28], bytes: bytes), to: path)
        return path
    }

    func testHelpForEveryCommand() throws {
        for command in ["train", "sample", "interpolate", "bench"] {
            let r = try swiftgan([command, "--help"])
            XCTAssertEqual(r.status, 0)
            XCTAssertTrue(r.stdout.contains("usage: swiftgan \(command)"), r.stdout)
        }
        XCTAssertTrue(try swiftgan(["--help"]).stdout.contains("commands:"))
    }

    func testBadArgumentsGiveOneLineErrors() throws {
        try assertError(["fly"], contains: "unknown command 'fly'")
        try assertError(["train", "--stepz", "3"], contains: "unknown option '--stepz'")
        try assertError(["train", "--steps", "many"], contains: "--steps: 'many' is not a whole number")
        try assertError(["train", "--steps"], contains: "needs a value")
        try assertError(["train", "--image-size", "48"], contains: "image size (--image-size) must be 32 or 64")
        try assertError(["train", "--learning-rate", "-1"], contains: "--learning-rate")
        try assertError(["train", "--batch-size", "1"], contains: "--batch-size")
        try assertError(["train", "--generator-average", "1.5"], contains: "--generator-average) must be in (0, 1)")
        try assertError(["train", "--nan-retries", "-2"], contains: "--nan-retries")
        try assertError(["augment", "--checkpoint", "c.safetensors", "--out", "o", "--generator-average", "0.99"],
                        contains: "--generator-average applies only with --steps")
        try assertError(["train", "--data", "no/such/folder"], contains: "no/such/folder")
        try assertError(["train", "--resume", "--out", "nothing-here"], contains: "no checkpoint")
        try assertError(["sample"], contains: "--checkpoint PATH is required")
        try assertError(["sample", "--checkpoint", "missing.safetensors"], contains: "missing.safetensors")
        try assertError(["interpolate", "--checkpoint", "x", "--mode", "zigzag"], contains: "--mode: 'zigzag'")
        try assertError(["bench", "--image-sizes", "31"], contains: "--image-sizes")
        try assertError(["bench", "--image-sizes", "32,,64"], contains: "--image-sizes")
        try assertError(["train", "--out", ""], contains: "got an empty one")
        try assertError(["sample", "--checkpoint", "x", "--out="], contains: "got an empty one")
        try assertError(["train", "--out", "/proc/swiftgan-run"], contains: "/proc/swiftgan-run")
        try assertError(["train", "--data", "/dev/zero"], contains: "not a regular file")
        try assertError(["train", "--width", "4096"], contains: "--width")
        try Data("not a checkpoint".utf8).write(to: URL(fileURLWithPath: work + "/junk.safetensors"))
        try assertError(["sample", "--checkpoint", "junk.safetensors"], contains: "junk.safetensors")
        let truncated = try makeDataset()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: truncated))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: work + "/cut-images-idx3-ubyte.gz"))
        try assertError(["train", "--data", "cut-images-idx3-ubyte.gz"], contains: "cut-images-idx3-ubyte.gz")
        // A run folder made by a command that failed before training is not left behind.
        XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/runs/cut-images-idx3-ubyte"))
        try assertError(["frobnicate"], contains: "commands: train, data, sample, interpolate, bench, report, classifier, evaluate, augment")
        try assertError(["train", "--steps", "2", "--steps", "3"], contains: "option '--steps' is given more than once")
        try assertError(["bench", "--gemm", "--cases", "d-conv"], contains: "does not go together with --cases")
        let images = try makeDataset()
        try assertError(["train", "--data", images, "--up-axis", "w"], contains: "--up-axis: 'w' is not x, y or z")
        try assertError(["train", "--data", images, "--up-axis", "Y", "--out", "axis-run"], contains: "--up-axis applies to 3D shape data")
        XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/axis-run"))
        try assertError(["train", "--data", images, "--up-axis", "--out", "axis-run"], contains: "option '--up-axis' needs a value")
        try assertError(["train", "--data", images, "--nan-retries", "101", "--out", "late-run"], contains: "--nan-retries")
        XCTAssertFalse(FileManager.default.fileExists(atPath: work + "/late-run"), "an option checked before the run folder is made")
    }

    /// Train a few steps, resume, refuse a changed configuration, sample and interpolate.
    func testTrainResumeSampleInterpolate() throws {
        let data = try makeDataset()
        let common = ["--data", data, "--out", "run", "--width", "4", "--batch-size", "8", "--sample-every", "2",
                      "--log-every", "1", "--threads", "1"]
        let first = try swiftgan(["train", "--steps", "2"] + common)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("step 2/2"), first.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/run/samples/step-000002.png"))

        try assertError(["train", "--steps", "3"] + common, contains: "add --resume")
        try assertError(["train", "--steps", "4", "--resume", "--out", "run", "--up-axis", "y"], contains: "the run in run trains on images")
        try assertError(["train", "--steps", "4", "--resume", "--out", "run", "--width", "8"], contains: "generator-width: 4 (checkpoint) vs 8 (requested)")

        try assertError(["train", "--steps", "4", "--resume", "--out", "run", "--generator-average", "1"],
                        contains: "--generator-average) must be in (0, 1)")
        // The weight average may be switched on when resuming; it is kept in the checkpoint from then on.
        let resumed = try swiftgan(["train", "--steps", "4", "--resume", "--generator-average", "0.9"] + common)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resuming") && resumed.stdout.contains("step 4/4"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("generator average starts here"), resumed.stdout)
        let saved = try SafeTensorsFile.read(work + "/run/checkpoint.safetensors")
        XCTAssertNotNil(saved.tensors["averagedGenerator.output.weight"])
        XCTAssertTrue(saved.metadata["configuration"]?.contains("\"generatorAverageDecay\":0.9") ?? false)

        let checkpoint = "run/checkpoint.safetensors"
        let sample = try swiftgan(["sample", "--checkpoint", checkpoint, "--count", "6", "--seed", "5", "--columns", "3", "--out", "s", "--individual"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        let grid = try ImageIO.readImage(work + "/s/samples-seed5.png")
        XCTAssertEqual(grid.height, 2 * 32 + 3 * 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/s/seed5-00005.png"))
        // The same seed draws the same images.
        _ = try swiftgan(["sample", "--checkpoint", checkpoint, "--count", "6", "--seed", "5", "--columns", "3", "--out", "t"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: work + "/s/samples-seed5.png")),
                       try Data(contentsOf: URL(fileURLWithPath: work + "/t/samples-seed5.png")))

        let interpolation = try swiftgan(["interpolate", "--checkpoint", checkpoint, "--steps", "5", "--out", "i"])
        XCTAssertEqual(interpolation.status, 0, interpolation.stderr)
        for mode in ["linear", "spherical"] {
            let strip = try ImageIO.readImage(work + "/i/interpolation-\(mode).png")
            XCTAssertEqual(strip.width, 5 * 32 + 6 * 2)
            XCTAssertTrue(FileManager.default.fileExists(atPath: work + "/i/interpolation-\(mode).gif"))
        }
        try assertError(["evaluate", "--checkpoint", checkpoint, "--up-axis", "y"], contains: "--up-axis applies to 3D checkpoints")
    }

    /// A folder of class subfolders trained conditionally: the class map is saved, `sample --class` takes names, the
    /// crop policy is kept for resuming.
    func testClassSubfoldersGiveANamedClassMap() throws {
        for (k, name) in ["boots", "shirts"].enumerated() {
            try FileManager.default.createDirectory(atPath: work + "/photos/\(name)", withIntermediateDirectories: true)
            for i in 0..<8 {
                let image = RasterImage(width: 40, height: 30, channels: 1, filledWith: UInt8(40 + 120 * k + i))
                try ImageIO.writePNG(image, to: work + "/photos/\(name)/\(i).png")
            }
        }
        let common = ["--data", "photos", "--out", "run", "--width", "4", "--batch-size", "8", "--log-every", "1",
                      "--threads", "1", "--conditional", "--crop", "pad"]
        let trained = try swiftgan(["train", "--steps", "2"] + common)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let map = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: work + "/run/classes.json"))) as? [[String: Any]]
        XCTAssertEqual(map?.map { $0["label"] as? Int }, [0, 1])
        XCTAssertEqual(map?.map { $0["name"] as? String }, ["boots", "shirts"])
        let configuration = try String(contentsOfFile: work + "/run/configuration.json", encoding: .utf8)
        XCTAssertTrue(configuration.contains("\"crop\":\"pad\""), configuration)

        try assertError(["train", "--steps", "3", "--resume", "--out", "run", "--crop", "stretch"],
                            contains: "crop: pad (checkpoint) vs stretch (requested)")
        let resumed = try swiftgan(["train", "--steps", "3", "--resume", "--out", "run", "--threads", "1"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)

        let checkpoint = "run/checkpoint.safetensors"
        let byName = try swiftgan(["sample", "--checkpoint", checkpoint, "--class", "shirts", "--count", "4", "--out", "a"])
        XCTAssertEqual(byName.status, 0, byName.stderr)
        _ = try swiftgan(["sample", "--checkpoint", checkpoint, "--class", "1", "--count", "4", "--out", "b"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: work + "/a/samples-seed0.png")),
                       try Data(contentsOf: URL(fileURLWithPath: work + "/b/samples-seed0.png")))
        try assertError(["sample", "--checkpoint", checkpoint, "--class", "hats"], contains: "give 0 to 1 or one of boots, shirts")
        XCTAssertTrue(byName.stdout.contains("class 1 (shirts)"), byName.stdout)
        let strip = try swiftgan(["interpolate", "--checkpoint", checkpoint, "--class", "shirts", "--steps", "3", "--out", "i"])
        XCTAssertEqual(strip.status, 0, strip.stderr)
        XCTAssertTrue(strip.stdout.contains("class 1 (shirts)"), strip.stdout)
        try assertError(["interpolate", "--checkpoint", checkpoint, "--class", "hats"], contains: "'hats' is not a class")
        // A learning rate may change on resume; renamed class folders may not.
        let lowered = try swiftgan(["train", "--steps", "4", "--resume", "--out", "run", "--threads", "1", "--learning-rate", "0.0001"])
        XCTAssertEqual(lowered.status, 0, lowered.stderr)
        XCTAssertTrue(lowered.stdout.contains("learning rate 0.0002 -> 0.0001"), lowered.stdout)
        try FileManager.default.moveItem(atPath: work + "/photos/shirts", toPath: work + "/photos/a-shirts")
        try assertError(["train", "--steps", "5", "--resume", "--out", "run"], contains: "the class folders are now a-shirts, boots")
        // A class folder without a readable image is not a class.
        try FileManager.default.createDirectory(atPath: work + "/photos2/hats", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: work + "/photos/boots", toPath: work + "/photos2/boots")
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: work + "/photos2/hats/broken.png"))
        try assertError(["train", "--data", "photos2", "--conditional", "--skip-unreadable", "--out", "run2"],
                        contains: "the class folder(s) 'hats' have no readable images")
        try assertError(["sample", "--checkpoint", checkpoint, "--class", "2"], contains: "'2' is not a class")
    }

    /// `data preview` draws images as a grid and shapes as renders; bad input is a one-line error.
    func testDataPreviewDrawsImagesAndShapes() throws {
        let images = try makeDataset()
        let drawn = try swiftgan(["data", "preview", images, "--out", "images.png", "--count", "6", "--columns", "3"])
        XCTAssertEqual(drawn.status, 0, drawn.stderr)
        let grid = try ImageIO.readImage(work + "/images.png")
        XCTAssertEqual([grid.width, grid.height], [3 * 32 + 4 * 2, 2 * 32 + 3 * 2])

        // Two 16^3 shapes: a solid block and a thin pole.
        var voxels = [UInt8](repeating: 0, count: 2 * 16 * 16 * 16)
        for z in 4..<12 { for y in 4..<12 { for x in 4..<12 { voxels[(z * 16 + y) * 16 + x] = 1 } } }
        for z in 0..<16 { voxels[4096 + (z * 16 + 8) * 16 + 8] = 1 }
        try IDX.write(IDXArray(shape: [2, 16, 16, 16], bytes: voxels), to: work + "/shapes-idx4-ubyte.gz")
        let rendered = try swiftgan(["data", "preview", "shapes-idx4-ubyte.gz", "--out", "shapes.png", "--image-size", "16"])
        XCTAssertEqual(rendered.status, 0, rendered.stderr)
        XCTAssertTrue(rendered.stdout.contains("the first 2 of 2 shapes"), rendered.stdout)
        let sheet = try ImageIO.readImage(work + "/shapes.png")
        XCTAssertEqual(sheet.channels, 3)
        // Something was drawn: not every pixel is the background.
        XCTAssertGreaterThan(Set(sheet.pixels).count, 10)

        try assertError(["data", "preview", images], contains: "--out FILE.png is required")
        try assertError(["data", "preview", "missing-folder", "--out", "x.png"], contains: "missing-folder")
        try assertError(["data", "preview", images, "--out", "x.png", "--image-size", "48"], contains: "32 or 64")
    }

    /// A tiny volumetric GAN: interpolation into a reused folder keeps only its own meshes, shapes given to fit are
    /// checked before the first fit, an empty shape is refused, and evaluate takes the shape counts it states.
    func testVolumetricInterpolateAndEvaluateEdges() throws {
        let n = 32, cube = 32 * 32 * 32
        var voxels = [UInt8](repeating: 0, count: 4 * cube)
        for i in 0..<4 { for z in 4..<(12 + 4 * i) { for y in 8..<24 { for x in 8..<24 { voxels[i * cube + (z * n + y) * n + x] = 1 } } } }
        try IDX.write(IDXArray(shape: [4, n, n, n], bytes: voxels), to: work + "/blocks-idx4-ubyte.gz")
        try IDX.write(IDXArray(shape: [1, n, n, n], bytes: [UInt8](repeating: 0, count: cube)), to: work + "/empty-idx4-ubyte.gz")
        let trained = try swiftgan(["train", "--data", "blocks-idx4-ubyte.gz", "--image-size", "32", "--width", "4",
                                    "--batch-size", "2", "--steps", "2", "--out", "v", "--threads", "1"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let checkpoint = "v/checkpoint.safetensors"

        XCTAssertEqual(try swiftgan(["interpolate", "--checkpoint", checkpoint, "--steps", "5", "--out", "i"]).status, 0)
        let again = try swiftgan(["interpolate", "--checkpoint", checkpoint, "--steps", "3", "--out", "i"])
        XCTAssertEqual(again.status, 0, again.stderr)
        let meshes = try FileManager.default.contentsOfDirectory(atPath: work + "/i/meshes-spherical").sorted()
        XCTAssertEqual(meshes, ["step-00.obj", "step-01.obj", "step-02.obj"])

        try assertError(["interpolate", "--checkpoint", checkpoint, "--from-shape", "blocks-idx4-ubyte.gz", "--to-shape",
                         "blocks-idx4-ubyte.gz", "--to-index", "-1"], contains: "--to-index")
        try assertError(["interpolate", "--checkpoint", checkpoint, "--from-shape", "empty-idx4-ubyte.gz"],
                        contains: "empty-idx4-ubyte.gz is empty")
        try assertError(["evaluate", "--checkpoint", checkpoint, "--data", "empty-idx4-ubyte.gz"], contains: "is empty")
        let evaluated = try swiftgan(["evaluate", "--checkpoint", checkpoint, "--data", "blocks-idx4-ubyte.gz", "--count", "2",
                                      "--out", "e.json"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        try assertError(["evaluate", "--checkpoint", checkpoint, "--count", "1"], contains: "between 2 and 100000")
        try assertError(["interpolate", "--checkpoint", checkpoint, "--from-index", "1"], contains: "--from-shape FILE, which is not given")
        try assertError(["sample", "--checkpoint", checkpoint, "--keep-fragments"], contains: "without --individual")
        try assertError(["interpolate", "--checkpoint", checkpoint, "--up-axis", "y"], contains: "neither is given")
        try assertError(["interpolate", "--checkpoint", checkpoint, "--from-shape", "blocks-idx4-ubyte.gz", "--up-axis", "w"],
                        contains: "--up-axis: 'w' is not x, y or z")
        _ = FileManager.default.createFile(atPath: work + "/photo.png", contents: Data([0x89, 0x50, 0x4E, 0x47, 0, 0, 0, 0]))
        try assertError(["interpolate", "--checkpoint", checkpoint, "--from-shape", "photo.png"],
                        contains: "photo.png: unsupported: not a shape file (.binvox, .npy, .off, .obj")
    }
}
