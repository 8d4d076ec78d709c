
/// A configuration problem, located as precisely as the YAML allows: file, line, key.
public struct ConfigError: Error, Sendable, CustomStringConvertible, Equatable {
    public var file: String
    /// 1-based; nil when the problem is not tied to a line (a missing file).
    public var line: Int?
    /// Dotted path, e.g. `remote_write[0].queue.min_backoff`; empty for the file as a whole.
    public var key: String
    /// What is wrong and what is expected.
    public var message: String

    /// One line: `file:line: key: message`.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if !key.isEmpty { text += ": \(key)" }
        return text + ": " + message
    }
}
