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
                "\(problem); \(lastGood == nil ? "sending nothing until it holds one" : "keeping the last good secret")",
                metadata: ["file.path": "\(path)"])
        }
        return lastGood
    }
}

/// An endpoint's headers and credentials, and its proxy's, applied to its HTTP client before each
/// request so that rotated secret files take effect without a restart.
final class RequestCredentials {
    private let headers: [String]
    private let username: String?
    private let password: SecretFile?
    private let token: SecretFile?
    /// The proxy's headers: each a whole line, or a name and the file its value is read from.
    private let proxyHeaders: [(name: String, line: String?, file: SecretFile?)]

    init(headers: [HTTPHeader], basicAuth: BasicAuth?, bearerTokenFile: String?, proxyHeaders: [ProxyHeader] = [], logger: Logger) {
        self.headers = headers.map { "\($0.name): \($0.value)" }
        self.username = basicAuth?.username
        self.password = basicAuth.map { SecretFile(path: $0.passwordFile, logger: logger) }
        // A token becomes a header line: one with CR or LF inside would inject another header.
        self.token = bearerTokenFile.map { SecretFile(path: $0, logger: logger, usable: HTTPSyntax.isFieldValue) }
        self.proxyHeaders = proxyHeaders.map { header in
            (header.name, header.value.map { "\(header.name): \($0)" },
             header.file.map { SecretFile(path: $0, logger: logger, usable: HTTPSyntax.isFieldValue) })
        }
    }

    /// Every request's: who sends it, and no "Expect: 100-continue" round trip before each body.
    static let commonHeaders = ["User-Agent: ebpf-map-shipper/\(ShipperVersion.current)", "Expect:"]

    /// Sets the common headers, `protocolHeaders`, the configured headers and the credentials on
    /// `client`, and performs the request. A secret file that never held a usable secret sends
    /// nothing: the request fails as `credentials` and is retried, so no request ever goes out
    /// without the credentials it was configured with.
    func perform(
        _ client: HTTPClient, method: String, body: [UInt8], protocolHeaders: [String], deadline: ContinuousClock.Instant? = nil
    ) -> HTTPOutcome {
        var lines = Self.commonHeaders + protocolHeaders + headers
        if let token {
            guard let value = token.read() else { return Self.missing(token) }
            lines.append("Authorization: Bearer \(value)")
        }
        client.setHeaders(lines)
        if !proxyHeaders.isEmpty {
            var proxyLines: [String] = []
            for header in proxyHeaders {
                if let line = header.line { proxyLines.append(line) }
                if let file = header.file {
                    guard let value = file.read() else { return Self.missing(file) }
                    proxyLines.append("\(header.name): \(value)")
                }
            }
            client.setProxyHeaders(proxyLines)
        }
        if let username, let password {
            guard let secret = password.read() else { return Self.missing(password) }
            client.setBasicAuth(username: username, password: secret)
        }
        return client.perform(method: method, body: body, deadline: deadline)
    }

    private static func missing(_ file: SecretFile) -> HTTPOutcome {
        .failure(.credentials, message: "no usable secret in \(file.path); nothing was sent")
    }
}
