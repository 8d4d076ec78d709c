import Foundation
import Logging
import Synchronization

/// One line per event on stderr, as logfmt (`ts=… level=info msg="…" endpoint.name=…`) or as
/// one JSON object: both easy to grep and to ship to a log pipeline.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text, json
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let format: Format

    /// One lock for the process, so lines from different threads never interleave.
    private static let output = Mutex(())

    public init(format: Format, level: Logger.Level) {
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        let time = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let line: String
        switch format {
        case .text:
            var text = "ts=\(time) level=\(event.level) msg=\(Self.logfmt("\(event.message)"))"
            for (key, value) in fields.sorted(by: { $0.key < $1.key }) { text += " \(key)=\(Self.logfmt("\(value)"))" }
            line = text
        case .json:
            var pairs = [("ts", time), ("level", "\(event.level)"), ("msg", "\(event.message)")]
            pairs += fields.sorted(by: { $0.key < $1.key }).map { ($0.key, "\($0.value)") }
            line = "{" + pairs.map { "\(JSON.quote($0.0)):\(JSON.quote($0.1))" }.joined(separator: ",") + "}"
        }
        Self.output.withLock { _ in Self.writeToStandardError(line + "\n") }
    }

    /// The whole line with write(2), retried on EINTR and short writes. A closed or full pipe
    /// loses the line, never the process (FileHandle's `write(_:)` traps on EPIPE).
    public static func writeToStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + written, $0.count - written) }
            if result > 0 {
                written += result
            } else if result < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    /// Quotes a value when it holds spaces, quotes or `=`, so every line splits the same way.
    private static func logfmt(_ value: String) -> String {
        if !value.isEmpty, !value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) { return value }
        return JSON.quote(value)
    }
}
