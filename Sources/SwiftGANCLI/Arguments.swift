import Foundation

/// A mistake on the command line, shown to the user as one line.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// One option a command accepts.
struct OptionSpec {
    let name: String
    /// Placeholder for the value (`N`, `PATH`); nil for a flag that takes none.
    let value: String?
    let help: String
    let defaultText: String?

    init(_ name: String, _ value: String?, _ help: String, default defaultText: String? = nil) {
        self.name = name
        self.value = value
        self.help = help
        self.defaultText = defaultText
    }
}

/// Parsed `--name value` options and `--flag`s, checked against a command's specs.
struct ParsedArguments {
    private(set) var values: [String: String] = [:]
    private(set) var flags: Set<String> = []

    init(_ arguments: [String], specs: [OptionSpec], command: String) throws {
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("--") else {
                throw UsageError("\(command): unexpected argument '\(argument)' (options start with --; see 'swiftgan \(command) --help')")
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let eq = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw UsageError("\(command): unknown option '--\(name)' (see 'swiftgan \(command) --help')")
            }
            guard values[name] == nil && !flags.contains(name) else {
                throw UsageError("\(command): option '--\(name)' is given more than once")
            }
            if spec.value == nil {
                if inlineValue != nil { throw UsageError("\(command): option '--\(name)' takes no value") }
                flags.insert(name)
            } else {
                let value: String
                if let v = inlineValue {
                    value = v
                } else {
                    guard i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") else {
                        throw UsageError("\(command): option '--\(name)' needs a value \(spec.value ?? "")")
                    }
                    value = arguments[i + 1]
                    i += 1
                }
                guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw UsageError("\(command): option '--\(name)' needs a value \(spec.value ?? ""), got an empty one")
                }
                values[name] = value
            }
            i += 1
        }
    }

    func has(_ name: String) -> Bool { values[name] != nil || flags.contains(name) }

    func string(_ name: String) -> String? { values[name] }

    func int(_ name: String, range: ClosedRange<Int> = 0...Int.max) throws -> Int? {
        guard let text = values[name] else { return nil }
        guard let v = Int(text), range.contains(v) else {
            let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "between \(range.lowerBound) and \(range.upperBound)"
            throw UsageError("--\(name): '\(text)' is not a whole number \(bounds)")
        }
        return v
    }

    /// `--threads N` for the kernels (1...1024; default: the machine's cores), with a warning on standard error when it
    /// is more than the cores: the kernels' OpenMP threads then wait on each other at every barrier (a training step
    /// took several times as long with 3 threads on 2 cores).
    func kernelThreads() throws -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = try int("threads", range: 1...1024) ?? cores
        if threads > cores {
            FileHandle.standardError.write(Data("warning: --threads \(threads) is more than this machine's \(cores) cores; the kernels' threads will wait on each other and run slower than with \(cores)\n".utf8))
        }
        return threads
    }

    /// `--up-axis x|y|z` as 0, 1 or 2; nil when not given.
    func upAxis() throws -> Int? {
        guard let axis = values["up-axis"]?.lowercased() else { return nil }
        guard let index = ["x", "y", "z"].firstIndex(of: axis) else { throw UsageError("--up-axis: '\(axis)' is not x, y or z") }
        return index
    }

    func uint64(_ name: String) throws -> UInt64? {
        guard let text = values[name] else { return nil }
        guard let v = UInt64(text) else { throw UsageError("--\(name): '\(text)' is not a non-negative whole number") }
        return v
    }

    func float(_ name: String, positive: Bool = false) throws -> Float? {
        guard let text = values[name] else { return nil }
        guard let v = Float(text), v.isFinite, !positive || v > 0 else {
            throw UsageError("--\(name): '\(text)' is not a\(positive ? " positive" : "") number")
        }
        return v
    }
}

/// Formats a command's help text.
func helpText(command: String, summary: String, specs: [OptionSpec], examples: [String]) -> String {
    var lines = ["usage: swiftgan \(command) [options]", "", summary, "", "options:"]
    for spec in specs {
        let left = "  --\(spec.name)" + (spec.value.map { " \($0)" } ?? "")
        let padded = left.count < 30 ? left + String(repeating: " ", count: 30 - left.count) : left + "  "
        lines.append(padded + spec.help + (spec.defaultText.map { " (default: \($0))" } ?? ""))
    }
    lines.append("  --help                      show this help")
    if !examples.isEmpty {
        lines += ["", "examples:"] + examples.map { "  \($0)" }
    }
    return lines.joined(separator: "\n")
}
