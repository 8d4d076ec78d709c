import Foundation
import Logging
import ShipperMetrics
import ShipperConfig

/// A secret read from a file: re-read when the file changes (rotation), never logged.
///
/// Trailing whitespace (CR, LF, spaces, tabs) is trimmed, as Prometheus trims its secret files: a
/// token saved with CRLF would otherwise send the CR and be refused. A file that is missing,
/// empty or unusable (see `usable`) does not replace the last good secret: the endpoint keeps
/// sending with it, and the problem is logged once until the file is good again.
final class SecretFile {
    let path: String
    private let usable: (String) -> Bool
    /// What the warning says when `usable` refuses the file.
    private let unusable: String
    private let logger: Logger
    private var lastGood: String?
    private var stamp: Date?
    private var warned = false

    init(
        path: String, logger: Logger, usable: @escaping (String) -> Bool = { _ in true },
        unusable: String = "the secret file holds control characters inside the secret"
    ) {
        self.path = path
        self.usable = usable
        self.unusable = unusable
        self.logger = logger
    }

    /// The secret to send now; nil only if the file was never good.
    func read() -> String? {
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        if let lastGood, modified != nil, modified == stamp { return lastGood }
        let problem: String
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let secret = String(text.reversed().drop { $0.isWhitespace }.reversed())
            if !secret.isEmpty && usable(secret) {
                lastGood = secret
                stamp = modified
                if warned { logger.info("the secret file is readable again", metadata: ["file.path": "\(path)"]) }
                warned = false
                return secret
            }
            problem = secret.isEmpty ? "the secret file is empty" : unusable
        } else {
            problem = "cannot read the secret file"
        }
        stamp = nil
        if !warned {
            warned = true
            logger.warning(
                "\(problem); \(lastGood == nil ? "sending nothing until it holds one" : "keeping the last good secret")",
                metadata: ["file.path": "\(path)"])
        }
        return lastGood
    }
}
