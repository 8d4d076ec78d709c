import Foundation

/// OAuth 2.0 client credentials (RFC 6749 §4.4): Prometheus's `oauth2` keys, with the secret in
/// `client_secret_file` only. The token endpoint is reached through the entry's proxy.
public struct OAuth2Config: Sendable, Equatable {
    public var clientID: String
    public var clientSecretFile: String
    public var tokenURL: String
    public var scopes: [String]
    /// Added to the token request's form, e.g. `audience`.
    public var endpointParams: [String: String]
    /// For the token endpoint, not the receiver.
    public var tls: TLSConfig
}

extension OAuth2Config {
    static let keys = ["client_id", "client_secret_file", "client_secret", "token_url", "scopes", "endpoint_params", "tls_config"]

    init(_ value: YAMLValue) throws(ConfigError) {
        let fields = try value.mapping(keys: Self.keys)
        if let inline = fields["client_secret"] {
            throw inline.fail("an inline client_secret is not accepted; write it to a file readable only by the shipper and set client_secret_file")
        }
        guard let id = fields["client_id"] else { throw value.fail("missing key 'client_id'") }
        clientID = try id.string()
        guard !clientID.isEmpty, clientID.count <= 1024, HTTPSyntax.isFieldValue(clientID) else {
            throw id.fail("invalid client_id; expected 1 to 1,024 visible characters on one line")
        }
        guard let secret = fields["client_secret_file"] else {
            throw value.fail("missing key 'client_secret_file'; the file holds the client secret")
        }
        clientSecretFile = try secret.secretFile(token: true)
        guard let url = fields["token_url"] else { throw value.fail("missing key 'token_url'; e.g. token_url: https://auth.example/oauth2/token") }
        tokenURL = try url.string()
        do { _ = try EndpointURL(tokenURL) } catch { throw url.fail(error.message) }
        scopes = try fields["scopes"].map { list throws(ConfigError) in
            try list.list().map { item throws(ConfigError) in
                let scope = try item.string()
                // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
                guard !scope.isEmpty, scope.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f && $0 != "\"" && $0 != "\\" }) else {
                    throw item.fail("invalid scope '\(scope)'; a scope is visible ASCII without spaces, quotes or backslashes")
                }
                return scope
            }
        } ?? []
        endpointParams = [:]
        if let params = fields["endpoint_params"] {
            for (name, text) in try params.stringMap(atMost: ConfigBounds.headers) {
                guard !name.text.isEmpty, !["grant_type", "client_secret"].contains(name.text) else {
                    throw name.fail("endpoint_params cannot set '\(name.text)'; the shipper sends grant_type=client_credentials and the secret from client_secret_file")
                }
                endpointParams[name.text] = text
            }
        }
        tls = try fields["tls_config"].map { tls throws(ConfigError) in try TLSConfig(tls) } ?? .defaults
    }

    /// The token URL for logs: a query's values hidden (one may carry a key).
    public var shownTokenURL: String { EndpointURL.hidingQueryValues(tokenURL) }

    /// What `check-config` prints: the client and the endpoint, never the secret.
    var summary: String {
        " oauth2=\(clientID)@\(shownTokenURL) client_secret=<\(clientSecretFile)>"
            + (scopes.isEmpty ? "" : " scopes=\(scopes.joined(separator: ","))")
    }
}
