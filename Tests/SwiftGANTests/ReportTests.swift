import Foundation
import XCTest
@testable import SwiftGAN
import SwiftGANData

final class ReportTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "swiftgan-report-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func write(_ text: String, to name: String) throws {
        try writeAtomically(Data(text.utf8), to: directory + "/" + name)
    }

    /// A grid-like PNG whose pixels depend on `seed`, so every file has different bytes.
    private func writeSample(_ name: String, seed: UInt8, width: Int = 20) throws -> [UInt8] {
        let image = RasterImage(width: width, height: 10, channels: 1,
                                pixels: (0..<(width * 10)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) })
        let png = try ImageIO.encodePNG(image)
        try writeAtomically(png, to: directory + "/samples/" + name)
        return png
    }

    private func count(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// The point lists of the polylines drawn for `key`.
    private func polylines(in html: String, key: String) -> [[String]] {
        html.components(separatedBy: "<polyline points=\"").dropFirst().compactMap { chunk -> [String]? in
            guard let element = chunk.components(separatedBy: "/>").first, element.contains("data-key=\"\(key)\""),
                  let points = element.components(separatedBy: "\"").first else { return nil }
            return points.split(separator: " ").map(String.init)
        }
    }

    func testFullRunGivesCurvesGridsConfigurationAndNotes() throws {
        try write("""
        {"step":1,"loss/discriminator":1.5,"loss/generator":1.1,"score/real":0.43,"score/fake":0.43,"images_per_second":388.8,"time":1000.0}
        {"step":50,"loss/discriminator":0.25,"loss/generator":nan,"score/real":0.89,"score/fake":0.12,"images_per_second":577.8,"time":1010.5}
        {"step":100,"loss/discriminator":0.29,"loss/generator":2.4,"score/real":0.85,"score/fake":0.10,"images_per_second":566.3,"time":1020.0,"metrics/frechet_distance_pixels":210.5}
        {"step":150,"loss/discriminator":0.31,"loss/gener
        {"step":200,"loss/discriminator":0.35,"loss/generator":2.2,"score/real":0.80,"score/fake":0.20,"images_per_second":560,"time":1130.0,"metrics/frechet_distance_pixels":150.25}
        {"step":250,"loss/discriminator":0.40,"loss/generator":2.0,"score/real":0.78,"score/fake":0.22,"images_per_second":561,"time":1140.0}

        """, to: "log.jsonl")
        try write(#"{"batchSize":64,"dataset":"fashion-mnist","imageChannels":1,"imageSize":32,"learningRate":0.0002,"note":"<b>&"}"#,
                  to: "configuration.json")
        let step10 = try writeSample("step-000010.png", seed: 10)
        let step2 = try writeSample("step-000002.png", seed: 2)
        let step4 = try writeSample("step-000004.png", seed: 4)
        _ = try writeSample("latest.png", seed: 10)
        try write("not a grid", to: "samples/notes.txt")

        let report = try RunReport(run: RunDirectory(directory))
        XCTAssertEqual(report.keys, ["loss/discriminator", "loss/generator", "score/real", "score/fake",
                                     "images_per_second", "metrics/frechet_distance_pixels"])
        XCTAssertEqual(report.logLineCount, 5)
        XCTAssertEqual(report.series["metrics/frechet_distance_pixels"]?.map(\.step), [100, 200])
        XCTAssertEqual(report.series["loss/generator"]?.count, 5)
        XCTAssertTrue(report.series["loss/generator"]?[1].value.isNaN ?? false)
        XCTAssertEqual(report.samples.map(\.step), [2, 4, 10])
        XCTAssertEqual(report.timeSpan?.first, 1000)
        XCTAssertEqual(report.timeSpan?.last, 1140)
        XCTAssertEqual(report.plotGroups().map(\.title),
                       ["Losses", "Discriminator scores", "Images per second", "metrics/frechet_distance_pixels"])
        XCTAssertTrue(report.notes.contains { $0.contains("line 4") && $0.contains("could not be read") }, "\(report.notes)")
        XCTAssertTrue(report.notes.contains { $0.hasPrefix("loss/generator: 1 value is not finite (first at step 50)") },
                      "\(report.notes)")

        let html = try report.html(generated: Date(timeIntervalSince1970: 0))
        // Self-contained: no scripts, nothing fetched from elsewhere.
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://") || html.contains("//cdn"))
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        // One SVG per plot group; the NaN breaks the generator's line into two pieces and is marked.
        XCTAssertEqual(count("<svg", in: html), 4)
        XCTAssertEqual(count("</svg>", in: html), 4)
        XCTAssertEqual(polylines(in: html, key: "loss/generator").map(\.count), [3])
        XCTAssertEqual(polylines(in: html, key: "loss/discriminator").map(\.count), [5])
        XCTAssertEqual(count("class=\"nonfinite\"", in: html), 1)
        XCTAssertTrue(html.contains("loss/generator at step 50: NaN"))
        // The generator's first point, alone before the NaN, is drawn as a marker.
        XCTAssertTrue(html.contains("<title>loss/generator at step 1: 1.1</title>"))
        // Legends with readable names.
        for label in ["D loss", "G loss", "D(x)", "D(G(z))", "images/s"] {
            XCTAssertTrue(html.contains("</i>\(RunReport.escape(label))</span>"), label)
        }
        // Sample grids in step order, embedded, each with its own bytes; the last also at the top.
        let gallery = html.components(separatedBy: "id=\"samples\"").last ?? ""
        let captions = ["step 2</figcaption>", "step 4</figcaption>", "step 10</figcaption>"].map { gallery.range(of: $0)?.lowerBound }
        XCTAssertTrue(captions.allSatisfy { $0 != nil })
        if let a = captions[0], let b = captions[1], let c = captions[2] { XCTAssertTrue(a < b && b < c) }
        for png in [step2, step4, step10] {
            XCTAssertTrue(gallery.contains("data:image/png;base64,\(Data(png).base64EncodedString())\""))
        }
        XCTAssertEqual(count("data:image/png;base64,", in: html), 4)
        XCTAssertTrue(html.contains("samples at step 10</figcaption>"))
        XCTAssertTrue(html.contains("width=\"280\" height=\"140\""), "20-pixel-wide grids are enlarged 14 times")
        // Configuration, escaped.
        XCTAssertTrue(html.contains("<th scope=\"row\">learningRate</th><td>0.0002</td>"))
        XCTAssertTrue(html.contains("&lt;b&gt;&amp;"))
        XCTAssertFalse(html.contains("<b>&"))
        // Final values: the last logged value of each key, with the step.
        XCTAssertTrue(html.contains("<td class=\"num\">150.2</td><td class=\"num\">200</td>")
                      || html.contains("<td class=\"num\">150.25</td><td class=\"num\">200</td>"), "final FID row")
        XCTAssertTrue(html.contains("2m20s"), "wall-clock span from time 1000 to 1140")

        let out = directory + "/out/report.html"
        try report.write(to: out, generated: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), html)
    }

    func testMissingPiecesStillGiveAPage() throws {
        // Only samples.
        _ = try writeSample("step-000100.png", seed: 1)
        var report = try RunReport(run: RunDirectory(directory))
        var html = try report.html()
        XCTAssertEqual(count("<svg", in: html), 0)
        XCTAssertTrue(html.contains("No curves"))
        XCTAssertTrue(html.contains("No configuration.json"))
        XCTAssertTrue(html.contains("step 100</figcaption>"))
        XCTAssertTrue(report.notes.contains("There is no log.jsonl, so there are no curves."))

        // Only a log with one line: one point per series, drawn as markers, no lines; no samples folder.
        try FileManager.default.removeItem(atPath: directory + "/samples")
        try write(#"{"step":1,"loss/discriminator":1.5,"loss/generator":1.1,"score/real":0.4,"score/fake":0.4}"# + "\n",
                  to: "log.jsonl")
        report = try RunReport(run: RunDirectory(directory))
        html = try report.html()
        XCTAssertEqual(count("<svg", in: html), 2)
        XCTAssertEqual(count("<polyline", in: html), 0)
        XCTAssertEqual(count("<circle", in: html), 4)
        XCTAssertTrue(html.contains("No sample grids"))
        XCTAssertTrue(report.notes.contains("There is no samples folder."))
        XCTAssertFalse(html.contains("nan") || html.contains("inf\""), "no NaN coordinates in the SVG")

        // Every value non-finite, a null, a boolean (ignored) and an empty configuration object.
        try write(#"{"step":1,"loss/generator":null,"flag":true}"# + "\n" + #"{"step":2,"loss/generator":-inf}"# + "\n",
                  to: "log.jsonl")
        try write("{}", to: "configuration.json")
        report = try RunReport(run: RunDirectory(directory))
        XCTAssertEqual(report.keys, ["loss/generator"])
        html = try report.html()
        XCTAssertTrue(html.contains("no finite values to plot"))
        XCTAssertEqual(report.series["loss/generator"]?.last?.value, -.infinity)

        // A constant series and values near the limits of Double still give a page.
        try write(#"{"step":1,"a":500,"b":1e308}"# + "\n" + #"{"step":2,"a":500,"b":-1e308}"# + "\n", to: "log.jsonl")
        report = try RunReport(run: RunDirectory(directory))
        html = try report.html()
        XCTAssertEqual(polylines(in: html, key: "a").count, 1)
        XCTAssertTrue(html.contains(">500</text>"), "the constant value is a labelled tick")
        XCTAssertFalse(html.contains("nan") || html.contains("inf\""))
    }

    func testManyGridsAreThinnedKeepingFirstAndLast() throws {
        for step in stride(from: 10, through: 1000, by: 10) { _ = try writeSample(String(format: "step-%06d.png", step), seed: UInt8(step % 256)) }
        var report = try RunReport(run: RunDirectory(directory))
        report.maximumSampleGrids = 7
        let chosen = report.chosenSamples().map(\.step)
        XCTAssertEqual(chosen.count, 7)
        XCTAssertEqual(chosen.first, 10)
        XCTAssertEqual(chosen.last, 1000)
        XCTAssertEqual(chosen, chosen.sorted())
        XCTAssertTrue(try report.html().contains("7 of 100 grids"))
    }

    func testBadRunFoldersAreOneLineErrorsNamingThem() throws {
        XCTAssertThrowsError(try RunReport(run: RunDirectory(directory + "/missing"))) { error in
            XCTAssertEqual(error as? DataError, .fileNotFound(path: directory + "/missing"))
        }
        XCTAssertThrowsError(try RunReport(run: RunDirectory(directory))) { error in
            XCTAssertTrue("\(error)".hasPrefix(directory + ": not a training run"), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"))
        }
        try write("x", to: "file")
        XCTAssertThrowsError(try RunReport(run: RunDirectory(directory + "/file"))) { error in
            XCTAssertEqual(error as? DataError, .unreadable(path: directory + "/file", reason: "not a directory"))
        }
    }

    func testTicksFormattingAndThinning() {
        XCTAssertEqual(RunReport.ticks(0, 3.7).values, [0, 1, 2, 3])
        XCTAssertEqual(RunReport.ticks(0.01254, 0.5096).values, [0.1, 0.2, 0.3, 0.4, 0.5])
        XCTAssertEqual(RunReport.ticks(-1, 1).values, [-1, -0.5, 0, 0.5, 1])
        XCTAssertEqual(RunReport.ticks(0, 3000, count: 6).values, [0, 500, 1000, 1500, 2000, 2500, 3000])
        XCTAssertEqual(RunReport.format(0.30000000000000004, step: 0.1), "0.3")
        XCTAssertEqual(RunReport.format(2500, step: 500), "2500")
        XCTAssertEqual(RunReport.format(0.6324), "0.6324")
        XCTAssertEqual(RunReport.format(572.3), "572.3")
        XCTAssertEqual(RunReport.format(.nan), "NaN")
        XCTAssertEqual(RunReport.format(1.5e-7), "1.5e-07")

        var points = (0..<10_000).map { RunReport.Point(step: Double($0), value: sin(Double($0) / 100)) }
        points[5000].value = 50
        points[7000].value = .nan
        let thin = RunReport.thin(points, limit: 400)
        XCTAssertLessThanOrEqual(thin.count, 420)
        XCTAssertTrue(thin.contains { $0.value == 50 }, "a spike survives thinning")
        XCTAssertTrue(thin.contains { $0.value.isNaN && $0.step == 7000 })
        XCTAssertEqual(thin.map(\.step), thin.map(\.step).sorted())
        XCTAssertEqual(RunReport.thin(Array(points.prefix(5))), Array(points.prefix(5)))
    }

    /// A real (tiny) training session: its TensorBoard file holds the logged scalars and the grids, and the report
    /// of the run folder shows them.
    func testTrainingSessionWritesTensorBoardEventsAndTheReportReadsTheRun() throws {
        var configuration = DCGANConfiguration()
        configuration.imageSize = 32
        configuration.generatorWidth = 4
        configuration.discriminatorWidth = 4
        configuration.batchSize = 8
        configuration.latentSize = 16
        let dataset = try ImageDataset(images: (0..<(16 * 32 * 32)).map { Float($0 % 7) / 7 }, labels: nil,
                                       channels: 1, height: 32, width: 32)
        let trainer = try DCGANTrainer(gan: DCGAN(configuration: configuration), dataset: dataset)
        var schedule = TrainingSchedule()
        schedule.steps = 4
        schedule.sampleEvery = 2
        schedule.checkpointEvery = 100
        schedule.logEvery = 2
        let run = RunDirectory(directory + "/run")
        let session = TrainingSession(trainer: trainer, run: run, schedule: schedule)
        session.report = { _ in }
        XCTAssertEqual(try session.run(), .finished)

        let files = try TensorBoardReader.eventFiles(in: run.tensorboard)
        XCTAssertEqual(files.count, 1)
        let events = try TensorBoardReader.readEvents(files[0])
        XCTAssertEqual(events.first?.fileVersion, "brain.Event:2")
        var scalars: [String: [Int64: Float]] = [:]
        var images: [Int64: [UInt8]] = [:]
        for event in events {
            for value in event.values {
                switch value.content {
                case .scalar(let number): scalars[value.tag, default: [:]][event.step] = number
                case .image(_, _, let colorspace, let png):
                    XCTAssertEqual(value.tag, "samples")
                    XCTAssertEqual(colorspace, 1)
                    images[event.step] = png
                }
            }
        }
        // Log lines at steps 1 (the first), 2 and 4; the same numbers as log.jsonl.
        let log = try String(contentsOfFile: run.log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(log.count, 3)
        XCTAssertEqual(Set(scalars.keys), ["loss/discriminator", "loss/generator", "score/real", "score/fake", "images_per_second"])
        for line in log {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let step = try XCTUnwrap(object["step"] as? Int)
            for key in ["loss/discriminator", "loss/generator", "score/real", "score/fake"] {
                let logged = try XCTUnwrap((object[key] as? NSNumber)?.doubleValue)
                let board = try XCTUnwrap(scalars[key]?[Int64(step)], "\(key) at \(step)")
                XCTAssertEqual(Double(board), logged, accuracy: 1e-5 * max(1, abs(logged)), "\(key) at \(step)")
            }
        }
        // Grids at steps 2 and 4, identical to the PNG files.
        XCTAssertEqual(images.keys.sorted(), [2, 4])
        for (step, png) in images {
            XCTAssertEqual(try ImageIO.decodeImage(png, path: "event"), try ImageIO.readImage(run.sample(step: Int(step))))
        }

        let html = try RunReport(run: run).html()
        XCTAssertEqual(count("<svg", in: html), 3)
        XCTAssertTrue(html.contains("step 2</figcaption>") && html.contains("step 4</figcaption>"))
        XCTAssertTrue(html.contains("<th scope=\"row\">latentSize</th><td>16</td>"))
    }
}
