import Foundation

/// The environment variables that change how the engine runs: one place that reads them (case-insensitively, an
/// empty value counting as not set) and knows the values each accepts, which the command line checks at start.
public enum EngineSettings {
    static let switchValues = ["0", "1", "false", "true", "off", "on", "no", "yes"]

    /// Each variable and the values it accepts (lower case).
    public static let accepted: [(name: String, values: [String])] = [
        ("SWIFTGAN_GEMM", Gemm.Library.allCases.map(\.rawValue)),
        ("SWIFTGAN_BLOCKED_ACTIVATIONS", switchValues),
        ("SWIFTGAN_CHANNELS_LAST_FORWARD", switchValues),
        ("SWIFTGAN_PROFILE", ["0", "1", "shapes"]),
    ]

    /// The variable's value in lower case; nil when it is not set or empty.
    public static func value(_ name: String, in environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        guard let value = environment[name], !value.isEmpty else { return nil }
        return value.lowercased()
    }

    /// A switch that is on unless set to 0, false, off or no.
    public static func isOn(_ name: String) -> Bool {
        !["0", "false", "off", "no"].contains(value(name) ?? "")
    }

    /// A one-line complaint about the first variable whose value it does not accept, or nil.
    public static func problem(in environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        for setting in accepted {
            guard let value = value(setting.name, in: environment), !setting.values.contains(value) else { continue }
            return "environment variable \(setting.name)='\(environment[setting.name] ?? "")' is not one of: "
                + setting.values.joined(separator: ", ")
        }
        return nil
    }
}
