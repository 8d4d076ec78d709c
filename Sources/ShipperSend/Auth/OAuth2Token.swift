import Foundation
import Logging
import ShipperCollect
import ShipperConfig

/// An endpoint's OAuth 2.0 access token (client credentials, RFC 6749 §4.4): asked for with the
/// client's id and secret (HTTP Basic, §2.3.1), cached until ten seconds before `expires_in` ends,
/// or until the receiver answers 401. A token endpoint that fails hands out nothing: the request
/// is not sent (send failure `token`), the batch is retried, and the failure is logged once a
/// minute.
final class OAuth2Token {
    private let config: OAuth2Config
    private let client: HTTPClient
    private let secret: SecretFile
    private let logger: Logger
    private var cached: (token: String, refreshAt: Date?)?
    private var failureLog = LogLimit()

    /// How long before its end a token is replaced: golang.org/x/oauth2's margin, as Prometheus has.
    static let margin: TimeInterval = 10

    init(_ config: OAuth2Config, proxy: ProxyConfig, timeout: Duration, logger: Logger) throws(HTTPSetupError) {
        self.config = config
        self.logger = logger
        client = try HTTPClient(url: config.tokenURL, timeout: timeout, tls: config.tls, proxy: proxy, responseLimit: 65536)
        secret = SecretFile(path: config.clientSecretFile, logger: logger, usable: HTTPSyntax.isFieldValue)
    }

    /// Forgets the cached token: the receiver refused it (401).
    func invalidate() { cached = nil }

    /// The token to send now, from the cache or the token endpoint (`proxyHeaders` go to the
    /// entry's proxy with its request).
    func token(at now: Date, proxyHeaders: [String]) -> Result<String, CredentialError> {
        if let cached, cached.refreshAt.map({ now < $0 }) ?? true { return .success(cached.token) }
        guard let clientSecret = secret.read() else {
            return .failure(CredentialError(message: "no usable client secret in \(config.clientSecretFile); nothing was sent"))
        }
        var form = [("grant_type", "client_credentials")]
        if !config.scopes.isEmpty { form.append(("scope", config.scopes.joined(separator: " "))) }
        form += config.endpointParams.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let body = Array(form.map { "\(Self.formEncode($0))=\(Self.formEncode($1))" }.joined(separator: "&").utf8)
        client.setHeaders(RequestCredentials.commonHeaders + [
            "Content-Type: application/x-www-form-urlencoded", "Accept: application/json",
        ])
        client.setProxyHeaders(proxyHeaders)
        client.setBasicAuth(username: Self.formEncode(config.clientID), password: Self.formEncode(clientSecret))
        let problem: String
        switch client.perform(method: "POST", body: body) {
        case .response(200, _, let text, _):
            if let (token, expiresIn) = Self.parse(text) {
                cached = (token, expiresIn.map { now.addingTimeInterval(max(0, $0 - Self.margin)) })
                return .success(token)
            }
            problem = "answered 200 without an access_token"
        case .response(let status, _, let text, _):
            let error = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["error"] as? String
            problem = "answered \(status)" + (error.map { " (\($0))" } ?? "")
        case .failure(let failure, let message):
            problem = "failed (\(failure.rawValue): \(message))"
        }
        let message = "the OAuth 2.0 token endpoint \(config.shownTokenURL) \(problem); nothing was sent"
        if failureLog.allows() { logger.warning("could not get an OAuth 2.0 token; retrying", metadata: ["error": "\(message)"]) }
        return .failure(CredentialError(message: message, failure: .token))
    }

    /// `access_token` and `expires_in` (seconds, a number or a numeral) of a token response.
    static func parse(_ text: String) -> (token: String, expiresIn: TimeInterval?)? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
            let token = object["access_token"] as? String, !token.isEmpty, HTTPSyntax.isFieldValue(token)
        else { return nil }
        let expiresIn = (object["expires_in"] as? NSNumber)?.doubleValue ?? (object["expires_in"] as? String).flatMap(Double.init)
        return (token, expiresIn.flatMap { $0 > 0 ? $0 : nil })
    }

    /// application/x-www-form-urlencoded: unreserved characters as they are, space as '+'.
    static func formEncode(_ text: String) -> String {
        SigV4Signer.encode(text).replacingOccurrences(of: "%20", with: "+")
    }
}
