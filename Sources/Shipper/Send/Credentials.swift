import Foundation

/// A secret read from a file: re-read when the file changes (rotation), never logged.
final class SecretFile {
    let path: String
    private var cached: String?
    private var modified: Date?

    init(path: String) { self.path = path }

    /// The file's content without a trailing newline; nil if it cannot be read now.
    func read() -> String? {
        let stamp = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        if let cached, stamp == modified { return cached }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        cached = text.hasSuffix("\n") ? String(text.dropLast()) : text
        modified = stamp
        return cached
    }
}
