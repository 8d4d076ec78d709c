import Logging

/// A logger whose lines a test can read back.
final class CapturedLog: Sendable {
    private let lines = Mutex2<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var logger: Logger {
        Logger(label: "test") { _ in Handler(log: self) }
    }

    var entries: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] { lines.get() }

    func count(_ message: String) -> Int { entries.filter { $0.message == message }.count }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            var all = metadata
            all.merge(event.metadata ?? [:]) { $1 }
            log.lines.update { $0.append((event.level, "\(event.message)", all)) }
        }
    }
}
