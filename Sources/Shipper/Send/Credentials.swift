import Foundation
import Logging

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

/// An endpoint's headers and credentials, applied to its HTTP client before each request so that
/// rotated secret files take effect without a restart.
final class RequestCredentials {
    private let headers: [String]
    private let username: String?
    private let password: SecretFile?
    private let token: SecretFile?
    private let logger: Logger

    init(headers: [HTTPHeader], basicAuth: BasicAuth?, bearerTokenFile: String?, logger: Logger) {
        self.headers = headers.map { "\($0.name): \($0.value)" }
        self.username = basicAuth?.username
        self.password = basicAuth.map { SecretFile(path: $0.passwordFile) }
        self.token = bearerTokenFile.map(SecretFile.init(path:))
        self.logger = logger
    }

    /// Every request's: who sends it, and no "Expect: 100-continue" round trip before each body.
    static let commonHeaders = ["User-Agent: ebpf-map-shipper/\(ShipperVersion.current)", "Expect:"]

    /// Sets the common headers, `protocolHeaders`, the configured headers and the credentials on `client`.
    func apply(to client: HTTPClient, protocolHeaders: [String]) {
        var lines = Self.commonHeaders + protocolHeaders + headers
        if let token {
            if let value = token.read() { lines.append("Authorization: Bearer \(value)") } else { warnUnreadable(token) }
        }
        client.setHeaders(lines)
        if let username, let password {
            let secret = password.read()
            if secret == nil { warnUnreadable(password) }
            client.setBasicAuth(username: username, password: secret ?? "")
        }
    }

    private func warnUnreadable(_ file: SecretFile) {
        logger.warning("cannot read the secret file; sending without it", metadata: ["file.path": "\(file.path)"])
    }
}
