import Foundation
import SwiftGANData

/// A run folder that cannot be made into a report, as one line naming the folder.
public struct RunReportError: Error, CustomStringConvertible, Equatable {
    /// The message, starting with the run folder's path.
    public let description: String

    /// An error with the given message.
    public init(_ description: String) { self.description = description }
}

/// A self-contained HTML page about a training run: curves of every numeric value in `log.jsonl` drawn as inline
/// SVG, the final values, the sample grids over time (embedded as base64 PNG), and the configuration.
///
/// The page needs nothing beyond itself: no scripts, no style sheets or fonts from elsewhere, no external URLs.
/// Missing pieces (no log, no samples folder, no configuration, unreadable lines, NaN values) are reported on the
/// page instead of stopping it, as long as the folder holds at least one of them.
public struct RunReport {
    /// One logged value of one series.
    public struct Point: Equatable, Sendable {
        /// The training step (the log line's `step`, or its line number when it has none).
        public var step: Double
        /// The value; NaN or infinite values are kept and drawn as marks, not as part of the line.
        public var value: Double
    }

    /// A sample grid written at a step.
    public struct Sample: Equatable, Sendable {
        /// The step in the file name `samples/step-NNNNNN.png`.
        public var step: Int
        /// The file's path.
        public var path: String
    }

    /// The run folder.
    public let directory: RunDirectory
    /// Every numeric key of the log (except `step` and `time`), in the order they first appear.
    public private(set) var keys: [String] = []
    /// The logged points of each key, in log order.
    public private(set) var series: [String: [Point]] = [:]
    /// Number of log lines read.
    public private(set) var logLineCount = 0
    /// Wall-clock times (`time`, seconds since 1970) of the first and last log lines that have one.
    public private(set) var timeSpan: (first: Double, last: Double)?
    /// The configuration's entries as text, sorted by key; nil without a readable `configuration.json`.
    public private(set) var configuration: [(key: String, value: String)]?
    /// The sample grids `samples/step-*.png`, by step.
    public private(set) var samples: [Sample] = []
    /// Things the reader of the page should know: skipped log lines, missing files, non-finite values.
    public private(set) var notes: [String] = []

    /// At most this many sample grids go on the page, evenly spread and always with the first and last.
    public var maximumSampleGrids = 30

    /// Reads the log, configuration and list of samples of the run at `run.path`.
    ///
    /// - Throws: `DataError.fileNotFound` if the folder does not exist, `DataError.unreadable` if it is not a
    ///   folder or `log.jsonl` cannot be read, `RunReportError` if the folder holds none of `log.jsonl`,
    ///   `configuration.json`, `samples/step-*.png`.
    public init(run: RunDirectory) throws {
        directory = run
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: run.path, isDirectory: &isDirectory) else {
            throw DataError.fileNotFound(path: run.path)
        }
        guard isDirectory.boolValue else { throw DataError.unreadable(path: run.path, reason: "not a directory") }

        let hasLog = FileManager.default.fileExists(atPath: run.log)
        if hasLog {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: run.log))
            } catch {
                throw DataError.unreadable(path: run.log, reason: error.localizedDescription)
            }
            readLog(String(decoding: data, as: UTF8.self))
        } else {
            notes.append("There is no log.jsonl, so there are no curves.")
        }
        readConfiguration()
        readSamples()
        if !hasLog && configuration == nil && samples.isEmpty {
            throw RunReportError("\(run.path): not a training run (no log.jsonl, configuration.json or samples/step-*.png)")
        }
    }

    // MARK: Reading

    private mutating func readLog(_ text: String) {
        var skipped: [Int] = []
        var lineNumber = 0
        var firstTime: Double?
        var lastTime: Double?
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            guard let object = Self.parseLogLine(line) else {
                skipped.append(lineNumber)
                continue
            }
            logLineCount += 1
            var values: [(String, Double)] = []
            Self.flatten(object, prefix: "", into: &values)
            let step = values.first { $0.0 == "step" }.map { $0.1 } ?? Double(logLineCount)
            for (key, value) in values {
                if key == "step" { continue }
                if key == "time" {
                    if value.isFinite {
                        if firstTime == nil { firstTime = value }
                        lastTime = value
                    }
                    continue
                }
                if series[key] == nil {
                    keys.append(key)
                    series[key] = []
                }
                series[key, default: []].append(Point(step: step, value: value))
            }
        }
        if let firstTime, let lastTime { timeSpan = (firstTime, lastTime) }
        if logLineCount == 0 {
            notes.append("log.jsonl holds no readable lines.")
        }
        if !skipped.isEmpty {
            let shown = skipped.prefix(5).map(String.init).joined(separator: ", ")
            notes.append("\(skipped.count) line\(skipped.count == 1 ? "" : "s") of log.jsonl could not be read "
                         + "(line\(skipped.count == 1 ? "" : "s") \(shown)\(skipped.count > 5 ? ", ..." : "")) and "
                         + "\(skipped.count == 1 ? "was" : "were") left out.")
        }
        for key in keys {
            let bad = series[key, default: []].filter { !$0.value.isFinite }
            if let first = bad.first {
                notes.append("\(key): \(bad.count) value\(bad.count == 1 ? " is" : "s are") not finite "
                             + "(first at step \(Self.format(first.step))); marked in red on its plot.")
            }
        }
    }

    /// A JSON object from one log line, also accepting bare `nan`/`inf` values (as C's printf writes them).
    static func parseLogLine(_ line: String) -> [String: Any]? {
        if let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] {
            return object
        }
        // Quote bare non-finite numbers so JSON can read them; `number(from:)` turns the strings back.
        guard let pattern = try? NSRegularExpression(
            pattern: "([:\\[,]\\s*)(-?(?:nan|NaN|NAN|inf|Inf|INF|infinity|Infinity))(?=\\s*[,}\\]])") else { return nil }
        let range = NSRange(line.startIndex..., in: line)
        let quoted = pattern.stringByReplacingMatches(in: line, range: range, withTemplate: "$1\"$2\"")
        return (try? JSONSerialization.jsonObject(with: Data(quoted.utf8))) as? [String: Any]
    }

    /// A number from a JSON value: numbers (not booleans), `null` as NaN, and strings such as "nan" or "-inf".
    static func number(from value: Any) -> Double? {
        if value is NSNull { return .nan }
        if let number = value as? NSNumber {
            if isBoolean(number) { return nil }
            return number.doubleValue
        }
        if let text = value as? String {
            switch text.lowercased() {
            case "nan", "-nan": return .nan
            case "inf", "infinity", "+inf": return .infinity
            case "-inf", "-infinity": return -.infinity
            default: return nil
            }
        }
        return nil
    }

    /// Whether a number from JSONSerialization was `true` or `false` (stored as a C `char`).
    private static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    private static func flatten(_ object: [String: Any], prefix: String, into values: inout [(String, Double)]) {
        // JSONSerialization does not keep the order of keys; the log's own order is recovered by the caller
        // only in so far as it matters (first appearance), so sort for a stable order within one line.
        for key in object.keys.sorted(by: logKeyOrder) {
            guard let value = object[key] else { continue }
            let name = prefix.isEmpty ? key : prefix + "/" + key
            if let nested = value as? [String: Any] {
                flatten(nested, prefix: name, into: &values)
            } else if let number = number(from: value) {
                values.append((name, number))
            }
        }
    }

    /// Known keys first, in the order the training session writes them; others after, alphabetically.
    private static func logKeyOrder(_ a: String, _ b: String) -> Bool {
        let known = ["step", "loss/discriminator", "loss/generator", "score/real", "score/fake", "images_per_second", "time"]
        switch (known.firstIndex(of: a), known.firstIndex(of: b)) {
        case let (i?, j?): return i < j
        case (_?, nil): return true
        case (nil, _?): return false
        case (nil, nil): return a < b
        }
    }

    private mutating func readConfiguration() {
        guard FileManager.default.fileExists(atPath: directory.configuration) else {
            notes.append("There is no configuration.json.")
            return
        }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: directory.configuration)),
              let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            notes.append("configuration.json is not a readable JSON object.")
            return
        }
        configuration = object.keys.sorted().map { key in (key, Self.describe(object[key] ?? NSNull())) }
    }

    /// A configuration value as text: numbers and strings as they are, anything else as compact JSON.
    private static func describe(_ value: Any) -> String {
        if let text = value as? String { return text }
        if let number = value as? NSNumber {
            if isBoolean(number) { return number.boolValue ? "true" : "false" }
            return number.description
        }
        if value is NSNull { return "null" }
        if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) {
            return String(decoding: data, as: UTF8.self)
        }
        return "\(value)"
    }

    private mutating func readSamples() {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.samples, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            notes.append("There is no samples folder.")
            return
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.samples)) ?? []
        samples = names.compactMap { name -> Sample? in
            guard name.hasPrefix("step-"), name.hasSuffix(".png") else { return nil }
            guard let step = Int(name.dropFirst(5).dropLast(4)) else { return nil }
            return Sample(step: step, path: directory.samples + "/" + name)
        }.sorted { $0.step < $1.step }
        if samples.isEmpty { notes.append("The samples folder holds no step-*.png grids.") }
    }

    // MARK: Plots

    /// The plots of the page: one per key prefix (`loss/...`, `score/...`, a key without `/` alone), split into
    /// one plot per key when the keys' magnitudes differ more than 20-fold.
    func plotGroups() -> [(title: String, keys: [String])] {
        var order: [String] = []
        var members: [String: [String]] = [:]
        for key in keys {
            let prefix = key.split(separator: "/", maxSplits: 1).first.map(String.init) ?? key
            if members[prefix] == nil { order.append(prefix) }
            members[prefix, default: []].append(key)
        }
        var groups: [(String, [String])] = []
        for prefix in order {
            let group = members[prefix, default: []]
            let magnitudes = group.compactMap { key -> Double? in
                let finite = series[key, default: []].map(\.value).filter(\.isFinite).map(abs)
                return finite.max()
            }.filter { $0 > 0 }
            if group.count > 1, let low = magnitudes.min(), let high = magnitudes.max(), high / low > 20 {
                groups += group.map { (Self.title(ofKey: $0), [$0]) }
            } else {
                groups.append((group.count == 1 ? Self.title(ofKey: group[0]) : Self.title(ofPrefix: prefix), group))
            }
        }
        return groups
    }

    private static func title(ofPrefix prefix: String) -> String {
        switch prefix {
        case "loss": return "Losses"
        case "score": return "Discriminator scores"
        case "metrics": return "Metrics"
        default: return prefix
        }
    }

    private static func title(ofKey key: String) -> String {
        key == "images_per_second" ? "Images per second" : key
    }

    /// The legend name of a key: D and G for the losses, D(x) and D(G(z)) for the scores, else the key.
    static func label(ofKey key: String) -> String {
        switch key {
        case "loss/discriminator": return "D loss"
        case "loss/generator": return "G loss"
        case "score/real": return "D(x)"
        case "score/fake": return "D(G(z))"
        case "images_per_second": return "images/s"
        default: return key
        }
    }

    private static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// At most about `limit` points: beyond that each bucket of consecutive points keeps its lowest and highest
    /// value (and every non-finite one), so spikes stay visible.
    static func thin(_ points: [Point], limit: Int = 2000) -> [Point] {
        guard points.count > limit, limit >= 2 else { return points }
        let buckets = limit / 2
        var result: [Point] = []
        for b in 0..<buckets {
            let start = b * points.count / buckets
            let end = (b + 1) * points.count / buckets
            guard start < end else { continue }
            let slice = points[start..<end]
            let finite = slice.filter { $0.value.isFinite }
            let low = finite.min { $0.value < $1.value }
            let high = finite.max { $0.value < $1.value }
            for point in slice where !point.value.isFinite || point == low || point == high {
                if result.last != point { result.append(point) }
            }
        }
        return result
    }

    /// Round tick positions covering `low...high`: steps of 1, 2 or 5 times a power of ten, about `count` of them.
    static func ticks(_ low: Double, _ high: Double, count: Int = 5) -> (step: Double, values: [Double]) {
        guard low.isFinite, high.isFinite, high > low else { return (1, [low]) }
        let raw = (high - low) / Double(max(count, 1))
        let power = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= raw } ?? 10 * power
        var values: [Double] = []
        var index = ceil(low / step - 1e-9)
        while index * step <= high + step * 1e-9, values.count < 100 {
            values.append(tickValue(index, step: step))
            index += 1
        }
        return (step, values)
    }

    /// `index * step` as the nearest Double to the decimal value (3 x 0.1 gives 0.3, not 0.30000000000000004).
    static func tickValue(_ index: Double, step: Double) -> Double {
        if index == 0 { return 0 }
        return step >= 1 ? index * step : index / (1 / step).rounded()
    }

    /// A number for people: few digits, no trailing zeros, exponents only for very large or small values.
    static func format(_ value: Double, step: Double? = nil) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+inf" : "-inf" }
        if value == 0 { return "0" }
        let magnitude = abs(value)
        if magnitude >= 1e6 || magnitude < 1e-4 { return String(format: "%.3g", value) }
        let decimals: Int
        if let step, step > 0 {
            decimals = max(0, min(8, Int(-floor(log10(step) + 1e-9))))
        } else {
            decimals = max(0, min(8, 3 - Int(floor(log10(magnitude)))))
        }
        var text = String(format: "%.\(decimals)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text == "-0" ? "0" : text
    }

    /// One line plot as inline SVG, with grid, axes, tick labels, markers for short series and red marks for
    /// non-finite values.
    func svgPlot(title: String, keys: [String]) -> String {
        let width = 640.0, height = 300.0
        let left = 62.0, right = 14.0, top = 12.0, bottom = 36.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let lines = keys.map { Self.thin(series[$0, default: []]) }
        let finite = lines.flatMap { $0 }.filter { $0.value.isFinite && $0.step.isFinite }
        let allSteps = lines.flatMap { $0 }.map(\.step).filter(\.isFinite)
        var svg = "<svg class=\"plot\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" "
            + "aria-label=\"\(Self.escape(title))\">"
        guard var xLow = allSteps.min(), var xHigh = allSteps.max(), !finite.isEmpty else {
            svg += "<text x=\"\(Int(width / 2))\" y=\"\(Int(height / 2))\" text-anchor=\"middle\" class=\"empty\">"
                + "no finite values to plot</text></svg>"
            return svg
        }
        if xHigh == xLow { xLow -= 1; xHigh += 1 }
        // Start the step axis at 0 when the first point is close to it (runs log step 1 first).
        if xLow > 0, xLow <= 0.05 * (xHigh - xLow) { xLow = 0 }
        var yLow = finite.map(\.value).min() ?? 0
        var yHigh = finite.map(\.value).max() ?? 1
        if yHigh == yLow {
            let pad = max(abs(yLow) * 0.1, 1e-3)
            yLow -= pad
            yHigh += pad
        }
        // Widen the value axis to whole tick steps, so the frame's edges carry labels.
        let yStep = Self.ticks(yLow, yHigh).step
        yLow = floor(yLow / yStep + 1e-9) * yStep
        yHigh = ceil(yHigh / yStep - 1e-9) * yStep
        let intervals = ((yHigh - yLow) / yStep).rounded()
        guard intervals.isFinite, intervals >= 1, intervals <= 100, yLow.isFinite, yHigh.isFinite else {
            svg += "<text x=\"\(Int(width / 2))\" y=\"\(Int(height / 2))\" text-anchor=\"middle\" class=\"empty\">"
                + "values too large to plot</text></svg>"
            return svg
        }
        let firstTick = (yLow / yStep).rounded()
        let yTickValues = (0...Int(intervals)).map { Self.tickValue(firstTick + Double($0), step: yStep) }
        let xTicks = Self.ticks(xLow, xHigh, count: 6)

        func x(_ step: Double) -> Double { left + (step - xLow) / (xHigh - xLow) * plotWidth }
        func y(_ value: Double) -> Double { top + (yHigh - value) / (yHigh - yLow) * plotHeight }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" class=\"frame\"/>"
        for value in yTickValues {
            let py = y(value)
            svg += "<line x1=\"\(f(left))\" x2=\"\(f(left + plotWidth))\" y1=\"\(f(py))\" y2=\"\(f(py))\" class=\"grid\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(py + 4))\" text-anchor=\"end\">\(Self.format(value, step: yStep))</text>"
        }
        for value in xTicks.values {
            let px = x(value)
            svg += "<line x1=\"\(f(px))\" x2=\"\(f(px))\" y1=\"\(f(top))\" y2=\"\(f(top + plotHeight))\" class=\"grid\"/>"
            svg += "<text x=\"\(f(px))\" y=\"\(f(top + plotHeight + 16))\" text-anchor=\"middle\">"
                + "\(Self.format(value, step: xTicks.step))</text>"
        }
        svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 3))\" text-anchor=\"middle\" class=\"axis\">step</text>"

        for (index, points) in lines.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            let key = Self.escape(keys[index])
            var segments: [[Point]] = [[]]
            for point in points where point.step.isFinite {
                if point.value.isFinite {
                    segments[segments.count - 1].append(point)
                } else if !(segments.last?.isEmpty ?? true) {
                    segments.append([])
                }
            }
            for segment in segments where segment.count > 1 {
                let coordinates = segment.map { "\(f(x($0.step))),\(f(y($0.value)))" }.joined(separator: " ")
                svg += "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\" "
                    + "stroke-linejoin=\"round\" data-key=\"\(key)\"/>"
            }
            let showMarkers = points.count <= 40
            for segment in segments {
                for point in segment where showMarkers || segment.count == 1 {
                    svg += "<circle cx=\"\(f(x(point.step)))\" cy=\"\(f(y(point.value)))\" r=\"2.6\" fill=\"\(color)\">"
                        + "<title>\(key) at step \(Self.format(point.step)): \(Self.format(point.value))</title></circle>"
                }
            }
            for point in points where !point.value.isFinite && point.step.isFinite {
                let px = x(point.step)
                let py = point.value == -.infinity ? top + plotHeight - 2 : top + 2
                svg += "<path d=\"M\(f(px - 4)) \(f(py - 4)) L\(f(px + 4)) \(f(py + 4)) M\(f(px - 4)) \(f(py + 4)) "
                    + "L\(f(px + 4)) \(f(py - 4))\" class=\"nonfinite\"><title>\(key) at step \(Self.format(point.step)): "
                    + "\(Self.format(point.value))</title></path>"
            }
        }
        svg += "</svg>"
        return svg
    }

    // MARK: Page

    /// The whole page.
    ///
    /// - Throws: nothing for missing pieces (they become notes on the page); `DataError` only if a listed sample
    ///   file disappears or cannot be read while the page is made.
    public func html(generated: Date = Date()) throws -> String {
        var notes = self.notes
        var body = ""
        let runName = (directory.path as NSString).standardizingPath
        body += "<header><h1>SwiftGAN run report</h1><p class=\"sub\"><code>\(Self.escape(runName))</code> · "
            + "generated \(Self.escape(Self.timestamp(generated)))</p></header>\n"

        // Summary and final samples.
        let shownSamples = chosenSamples()
        var summary: [(String, String)] = []
        if let configuration {
            let entries = Dictionary(configuration.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
            if let dataset = entries["dataset"] { summary.append(("Dataset", dataset)) }
            if let size = entries["imageSize"] {
                summary.append(("Images", "\(size)x\(size)" + (entries["imageChannels"].map { ", \($0) channel(s)" } ?? "")))
            }
        }
        let steps = keys.flatMap { series[$0, default: []] }.map(\.step).filter(\.isFinite)
        if let first = steps.min(), let last = steps.max() {
            summary.append(("Logged steps", "\(Self.format(first)) to \(Self.format(last)) (\(logLineCount) log lines)"))
        }
        if let span = timeSpan, span.last >= span.first {
            summary.append(("Wall-clock time", TrainingSession.duration(span.last - span.first) + " from the first to the last log line"))
        }
        summary.append(("Sample grids", samples.isEmpty ? "none" : "\(samples.count) (steps \(samples[0].step) to \(samples[samples.count - 1].step))"))
        if let attributes = try? FileManager.default.attributesOfItem(atPath: directory.checkpoint),
           let size = attributes[.size] as? NSNumber {
            summary.append(("Checkpoint", String(format: "checkpoint.safetensors, %.1f MB", size.doubleValue / 1e6)))
        } else {
            summary.append(("Checkpoint", "none"))
        }
        body += "<section id=\"summary\"><h2>Summary</h2><div class=\"summary\">"
        body += Self.table(rows: summary, header: nil)
        if let last = samples.last {
            let image = try embeddedImage(last, notes: &notes, scaleTarget: 360)
            body += "<figure class=\"final\">\(image)<figcaption>samples at step \(last.step)</figcaption></figure>"
        }
        body += "</div></section>\n"

        // Final values.
        body += "<section id=\"final-metrics\"><h2>Final values</h2>"
        if keys.isEmpty {
            body += "<p class=\"empty\">No numeric values were logged.</p>"
        } else {
            var rows = "<table><thead><tr><th>value</th><th>last</th><th>at step</th><th>min</th><th>max</th></tr></thead><tbody>"
            for key in keys {
                let points = series[key, default: []]
                guard let last = points.last else { continue }
                let finite = points.map(\.value).filter(\.isFinite)
                rows += "<tr><td>\(Self.escape(Self.label(ofKey: key)))"
                    + (Self.label(ofKey: key) == key ? "" : " <span class=\"key\">\(Self.escape(key))</span>") + "</td>"
                    + "<td class=\"num\">\(Self.format(last.value))</td><td class=\"num\">\(Self.format(last.step))</td>"
                    + "<td class=\"num\">\(finite.min().map { Self.format($0) } ?? "-")</td>"
                    + "<td class=\"num\">\(finite.max().map { Self.format($0) } ?? "-")</td></tr>"
            }
            body += rows + "</tbody></table>"
        }
        body += "</section>\n"

        // Curves.
        body += "<section id=\"curves\"><h2>Curves</h2>"
        let groups = plotGroups()
        if groups.isEmpty {
            body += "<p class=\"empty\">No curves: the log has no numeric values.</p>"
        } else {
            body += "<div class=\"plots\">"
            for group in groups {
                body += "<figure class=\"chart\"><figcaption>\(Self.escape(group.title))</figcaption>"
                body += "<div class=\"legend\">"
                for (index, key) in group.keys.enumerated() {
                    body += "<span><i style=\"background:\(Self.palette[index % Self.palette.count])\"></i>"
                        + "\(Self.escape(Self.label(ofKey: key)))</span>"
                }
                body += "</div>" + svgPlot(title: group.title, keys: group.keys) + "</figure>"
            }
            body += "</div>"
        }
        body += "</section>\n"

        // Samples over time.
        body += "<section id=\"samples\"><h2>Samples over training</h2>"
        if samples.isEmpty {
            body += "<p class=\"empty\">No sample grids.</p>"
        } else {
            if shownSamples.count < samples.count {
                body += "<p>\(shownSamples.count) of \(samples.count) grids, evenly spread over the run.</p>"
            } else {
                body += samples.count > 1
                    ? "<p>Every grid comes from the same fixed latent vectors, so each cell follows one image through training.</p>"
                    : "<p>One grid, from the run's fixed latent vectors.</p>"
            }
            body += "<div class=\"gallery\">"
            for sample in shownSamples {
                let image = try embeddedImage(sample, notes: &notes, scaleTarget: 280)
                body += "<figure>\(image)<figcaption>step \(sample.step)</figcaption></figure>"
            }
            body += "</div>"
        }
        body += "</section>\n"

        // Configuration.
        body += "<section id=\"configuration\"><h2>Configuration</h2>"
        if let configuration {
            body += Self.table(rows: configuration.map { ($0.key, $0.value) }, header: ("option", "value"))
        } else {
            body += "<p class=\"empty\">No configuration.json.</p>"
        }
        body += "</section>\n"

        if !notes.isEmpty {
            body += "<section id=\"notes\"><h2>Notes</h2><ul>"
                + notes.map { "<li>\(Self.escape($0))</li>" }.joined() + "</ul></section>\n"
        }

        return """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>SwiftGAN report: \(Self.escape((runName as NSString).lastPathComponent))</title>
        <style>
        \(Self.style)
        </style>
        </head>
        <body>
        \(body)</body>
        </html>

        """
    }

    /// Writes the page to `path` atomically (a missing parent folder is created).
    /// - Throws: `DataError.writeFailed` naming `path`, or what `html()` throws.
    public func write(to path: String, generated: Date = Date()) throws {
        try writeAtomically(Data(try html(generated: generated).utf8), to: path)
    }

    /// The grids shown: all of them, or `maximumSampleGrids` evenly spread ones including the first and last.
    public func chosenSamples() -> [Sample] {
        let limit = max(2, maximumSampleGrids)
        guard samples.count > limit else { return samples }
        var indices: [Int] = []
        for i in 0..<limit {
            let index = Int((Double(i) * Double(samples.count - 1) / Double(limit - 1)).rounded())
            if indices.last != index { indices.append(index) }
        }
        return indices.map { samples[$0] }
    }

    /// An `<img>` with the PNG as a data URI, scaled by a whole factor towards `scaleTarget` pixels wide.
    private func embeddedImage(_ sample: Sample, notes: inout [String], scaleTarget: Int) throws -> String {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: sample.path))
        } catch {
            notes.append("\(sample.path) could not be read: \(error.localizedDescription)")
            return "<div class=\"missing\">unreadable</div>"
        }
        var sizeAttributes = ""
        if let (width, height) = Self.pngSize(bytes), width > 0, height > 0 {
            let scale = max(1, scaleTarget / width)
            sizeAttributes = " width=\"\(width * scale)\" height=\"\(height * scale)\""
        } else {
            notes.append("\(sample.path) is not a PNG file.")
        }
        return "<img src=\"data:image/png;base64,\(bytes.base64EncodedString())\"\(sizeAttributes) "
            + "alt=\"samples at step \(sample.step)\">"
    }

    /// Width and height from a PNG's IHDR chunk, or nil if the bytes do not start like a PNG.
    static func pngSize(_ bytes: Data) -> (Int, Int)? {
        let b = [UInt8](bytes.prefix(24))
        guard b.count == 24, b[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
              b[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
        func int(_ at: Int) -> Int { (at..<at + 4).reduce(0) { $0 << 8 | Int(b[$1]) } }
        return (int(16), int(20))
    }

    private static func table(rows: [(String, String)], header: (String, String)?) -> String {
        var html = "<table>"
        if let header { html += "<thead><tr><th>\(escape(header.0))</th><th>\(escape(header.1))</th></tr></thead>" }
        html += "<tbody>" + rows.map { "<tr><th scope=\"row\">\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined()
        return html + "</tbody></table>"
    }

    /// Text made safe inside HTML elements and attribute values.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }

    private static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        return formatter.string(from: date)
    }

    private static let style = """
    body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0 auto;
           max-width: 1360px; padding: 16px 24px 48px; color: #1d2329; background: #fff; }
    h1 { font-size: 24px; margin: 8px 0 2px; }
    h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #d8dde3; }
    .sub { color: #5a6672; margin: 0; } code { font-size: 13px; }
    table { border-collapse: collapse; font-size: 14px; }
    th, td { text-align: left; padding: 4px 14px 4px 0; border-bottom: 1px solid #eef1f4; vertical-align: top; }
    thead th { color: #5a6672; font-weight: 600; border-bottom: 1px solid #c9d0d7; }
    tbody th { font-weight: 500; color: #3b4650; }
    td.num { text-align: right; font-variant-numeric: tabular-nums; }
    .key { color: #8a949e; font-size: 12px; }
    .summary { display: flex; gap: 32px; align-items: flex-start; flex-wrap: wrap; }
    figure { margin: 0; }
    figcaption { font-size: 13px; color: #3b4650; margin: 4px 0; }
    .final figcaption { text-align: center; }
    img { image-rendering: pixelated; display: block; border: 1px solid #e3e7eb; }
    .plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 18px 28px; }
    .chart figcaption { font-weight: 600; font-size: 14px; }
    .legend { font-size: 12px; color: #3b4650; display: flex; gap: 14px; flex-wrap: wrap; }
    .legend i { display: inline-block; width: 14px; height: 3px; margin: 0 5px 3px 0; vertical-align: middle; }
    svg.plot { width: 100%; height: auto; font-size: 11px; fill: #4a5560; }
    svg.plot .frame { fill: none; stroke: #9aa4ae; stroke-width: 1; }
    svg.plot .grid { stroke: #e9edf0; stroke-width: 1; }
    svg.plot .axis { fill: #5a6672; font-size: 12px; }
    svg.plot .empty { fill: #8a949e; font-size: 14px; }
    svg.plot .nonfinite { stroke: #d00; stroke-width: 2; fill: none; }
    .gallery { display: flex; flex-wrap: wrap; gap: 16px; }
    .gallery figcaption { text-align: center; }
    .empty { color: #8a949e; }
    .missing { width: 120px; height: 120px; background: #f4f6f8; color: #8a949e; display: flex;
               align-items: center; justify-content: center; }
    #notes li { font-size: 14px; color: #6b4e00; }
    """
}
