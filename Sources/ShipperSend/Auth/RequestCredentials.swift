import Foundation
import Logging
import ShipperMetrics
import ShipperConfig

/// An endpoint's headers and credentials, and its proxy's, applied to its HTTP client before each
/// request so that rotated secret files take effect without a restart.
final class RequestCredentials {
    private let headers: [String]
    private let username: String?
    private let password: SecretFile?
    private let token: SecretFile?
    /// The proxy's headers: each a whole line, or a name and the file its value is read from.
    private let proxyHeaders: [(name: String, line: String?, file: SecretFile?)]
    /// With `sigv4`: what signs each request, and the keys it signs with.
    private let sigv4: (signer: SigV4Signer, keys: AWSCredentialProvider)?
    /// With `oauth2`: the access token each request carries.
    private let oauth2: OAuth2Token?

    /// The credentials of `endpoint`, whose requests go to `url`.
    convenience init(_ endpoint: some HTTPEndpointConfig, url: String, logger: Logger) throws(HTTPSetupError) {
        self.init(
            headers: endpoint.headers, basicAuth: endpoint.basicAuth, bearerTokenFile: endpoint.bearerTokenFile,
            proxyHeaders: endpoint.proxy.headers,
            sigv4: try endpoint.sigv4.map { config throws(HTTPSetupError) in
                (SigV4Signer(url: url, region: config.region, service: SigV4Config.service),
                 try AWSCredentialProvider(config, proxy: endpoint.proxy, timeout: endpoint.timeout, logger: logger))
            },
            oauth2: try endpoint.oauth2.map { config throws(HTTPSetupError) in
                try OAuth2Token(config, proxy: endpoint.proxy, timeout: endpoint.timeout, logger: logger)
            },
            logger: logger)
    }

    init(
        headers: [HTTPHeader], basicAuth: BasicAuth?, bearerTokenFile: String?, proxyHeaders: [ProxyHeader] = [],
        sigv4: (signer: SigV4Signer, keys: AWSCredentialProvider)? = nil, oauth2: OAuth2Token? = nil, logger: Logger
    ) {
        self.sigv4 = sigv4
        self.oauth2 = oauth2
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
    /// without the credentials it was configured with. An OAuth 2.0 token the receiver refuses
    /// (401) is replaced once, and the request sent again with the new one.
    func perform(
        _ client: HTTPClient, method: String, body: [UInt8], protocolHeaders: [String], deadline: ContinuousClock.Instant? = nil
    ) -> HTTPOutcome {
        // The proxy's headers go with the token and STS requests too: they cross the same proxy.
        var proxyLines: [String] = []
        for header in proxyHeaders {
            if let line = header.line { proxyLines.append(line) }
            if let file = header.file {
                guard let value = file.read() else { return Self.missing(file) }
                proxyLines.append("\(header.name): \(value)")
            }
        }
        client.setProxyHeaders(proxyLines)
        var lines = Self.commonHeaders + protocolHeaders + headers
        if let username, let password {
            guard let secret = password.read() else { return Self.missing(password) }
            client.setBasicAuth(username: username, password: secret)
        }
        if let token {
            guard let value = token.read() else { return Self.missing(token) }
            lines.append("Authorization: Bearer \(value)")
        }
        if let sigv4 {
            // Over the very body sent; AWS accepts the signing time to within five minutes.
            let now = Date()
            switch sigv4.keys.current(at: now, proxyHeaders: proxyLines) {
            case .success(let keys): lines += sigv4.signer.headers(method: method, body: body, credentials: keys, at: now)
            case .failure(let error): return .failure(error.failure, message: error.message)
            }
        }
        guard let oauth2 else {
            client.setHeaders(lines)
            return client.perform(method: method, body: body, deadline: deadline)
        }
        var refreshed = false
        while true {
            switch oauth2.token(at: Date(), proxyHeaders: proxyLines) {
            case .success(let value): client.setHeaders(lines + ["Authorization: Bearer \(value)"])
            case .failure(let error): return .failure(error.failure, message: error.message)
            }
            let outcome = client.perform(method: method, body: body, deadline: deadline)
            guard case .response(401, _, _, _) = outcome, !refreshed else { return outcome }
            oauth2.invalidate()
            refreshed = true
        }
    }

    private static func missing(_ file: SecretFile) -> HTTPOutcome {
        .failure(.credentials, message: "no usable secret in \(file.path); nothing was sent")
    }
}
