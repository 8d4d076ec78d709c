import Foundation
import Logging

/// A secret read from a file: re-read when the file changes (rotation), never logged.
///
/// Trailing whitespace (CR, LF, spaces, tabs) is trimmed, as Prometheus trims its secret files: a
/// token saved with CRLF would otherwise send the CR and be refused. A file that is missing,
/// empty or unusable (see `usable`) does not replace the last good secret: the endpoint keeps
/// sending with it, and the problem is logged once until the file is good again.
final class SecretFile {
    let path: String
    private let usable: (String) -> Bool
    private let logger: Logger
    private var lastGood: String?
    private var stamp: Date?
    private var warned = false

    init(path: String, logger: Logger, usable: @escaping (String) -> Bool = { _ in true }) {
        self.path = path
        self.usable = usable
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
            problem = secret.isEmpty ? "the secret file is empty" : "the secret file holds control characters inside the secret"
        } else {
            problem = "cannot read the secret file"
        }
        stamp = nil
        if !warned {
            warned = true
            logger.warning(
                "\(problem); \(lastGood == nil ? "sending without it" : "keeping the last good secret")",
                metadata: ["file.path": "\(path)"])
        }
        return lastGood
    }
}

/// An endpoint's headers and credentials, applied to its HTTP client before each request so that
/// rotated secret files take effect without a restart.
final class RequestCredentials {
    private let headers: [String]
    private let username: String?
    private let password: SecretFile?
    private let token: SecretFile?

    init(headers: [HTTPHeader], basicAuth: BasicAuth?, bearerTokenFile: String?, logger: Logger) {
        self.headers = headers.map { "\($0.name): \($0.value)" }
        self.username = basicAuth?.username
        self.password = basicAuth.map { SecretFile(path: $0.passwordFile, logger: logger) }
        // A token becomes a header line: one with CR or LF inside would inject another header.
        self.token = bearerTokenFile.map { SecretFile(path: $0, logger: logger, usable: HTTPSyntax.isFieldValue) }
    }

    /// Every request's: who sends it, and no "Expect: 100-continue" round trip before each body.
    static let commonHeaders = ["User-Agent: ebpf-map-shipper/\(ShipperVersion.current)", "Expect:"]

    /// Sets the common headers, `protocolHeaders`, the configured headers and the credentials on `client`.
    func apply(to client: HTTPClient, protocolHeaders: [String]) {
        var lines = Self.commonHeaders + protocolHeaders + headers
        if let value = token?.read() { lines.append("Authorization: Bearer \(value)") }
        client.setHeaders(lines)
        if let username, let password {
            let secret = password.read()
            client.setBasicAuth(username: secret == nil ? nil : username, password: secret)
        }
    }
}
