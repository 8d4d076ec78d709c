import Foundation

/// The keys every HTTP endpoint shares (remote_write and pushgateway entries).
struct HTTPFields {
    static let keys = ["name", "url", "headers", "basic_auth", "bearer_token_file", "sigv4", "oauth2", "timeout", "tls_config"] + ProxyConfig.keys

    /// Headers the shipper sets itself, and those that belong to the connection rather than the
    /// request (framing, upgrades, proxies): a config may never set them. One would otherwise
    /// send a request with both Content-Length and Transfer-Encoding.
    static let reservedHeaders: Set<String> = [
        "content-encoding", "content-type", "x-prometheus-remote-write-version", "user-agent", "content-length",
        "host", "authorization", "transfer-encoding", "connection", "expect", "te", "trailer", "upgrade", "keep-alive",
        "proxy-connection", "proxy-authorization",
    ]

    /// A configured header's name (a request's or a proxy's): an HTTP token.
    static func checkName(_ name: (text: String, fail: (String) -> ConfigError)) throws(ConfigError) {
        guard HTTPSyntax.isToken(name.text) else {
            throw name.fail("invalid header name; expected letters, digits and !#$%&'*+-.^_`|~ (no spaces or colons)")
        }
    }

    /// A configured header's value: one line. The error does not repeat it: it may be a key.
    static func checkValue(_ value: String, of name: (text: String, fail: (String) -> ConfigError)) throws(ConfigError) {
        guard HTTPSyntax.isFieldValue(value) else {
            throw name.fail("invalid header value; expected one line of visible ASCII characters (no CR, LF or other control characters)")
        }
    }

    var name: String
    var url: String
    var headers: [HTTPHeader] = []
    var basicAuth: BasicAuth?
    var bearerTokenFile: String?
    var timeout: Duration?
    var tls = TLSConfig.defaults
    var proxy = ProxyConfig.none
    var sigv4: SigV4Config?
    var oauth2: OAuth2Config?

    init(_ map: [String: YAMLValue], in value: YAMLValue, example: String) throws(ConfigError) {
        guard let urlValue = map["url"] else { throw value.fail("missing key 'url'; e.g. url: \(example)") }
        url = try urlValue.string()
        let parsed: EndpointURL
        do { parsed = try EndpointURL(url) } catch { throw urlValue.fail(error.message) }
        if let nameValue = map["name"] {
            name = try nameValue.string()
            guard !name.isEmpty, name.count <= 100, HTTPSyntax.isPrintable(name) else {
                throw nameValue.fail("invalid endpoint name; expected 1 to 100 printable characters, e.g. central")
            }
        } else {
            name = parsed.port.map { "\(parsed.host):\($0)" } ?? parsed.host
        }
        if let headers = map["headers"] {
            self.headers = try headers.stringMap(atMost: ConfigBounds.headers).map { name, value throws(ConfigError) in
                if Self.reservedHeaders.contains(name.text.lowercased()) {
                    throw name.fail("header '\(name.text)' is set by the shipper itself and cannot be configured"
                        + (name.text.lowercased() == "authorization" ? "; use bearer_token_file or basic_auth" : ""))
                }
                try Self.checkName(name)
                try Self.checkValue(value, of: name)
                return HTTPHeader(name: name.text, value: value)
            }
        }
        if let auth = map["basic_auth"] {
            let fields = try auth.mapping(keys: ["username", "password_file", "password"])
            if let inline = fields["password"] {
                throw inline.fail("inline passwords are not accepted; write the password to a file readable only by the shipper and set password_file")
            }
            guard let username = fields["username"] else { throw auth.fail("missing key 'username'") }
            guard let file = fields["password_file"] else { throw auth.fail("missing key 'password_file'") }
            let user = try username.string()
            guard !user.contains(":"), HTTPSyntax.isPrintable(user) else {
                throw username.fail("invalid username; basic auth usernames cannot hold ':' or control characters")
            }
            basicAuth = BasicAuth(username: user, passwordFile: try file.secretFile(token: false))
        }
        if let token = map["bearer_token_file"] {
            bearerTokenFile = try token.secretFile(token: true)
        }
        if let timeout = map["timeout"] { self.timeout = try timeout.duration(in: ConfigBounds.timeout) }
        if let tls = map["tls_config"] { self.tls = try TLSConfig(tls) }
        proxy = try ProxyConfig(map)
        // One scheme sets Authorization: Prometheus accepts at most one of them too.
        let schemes = ["basic_auth", "bearer_token_file", "sigv4", "oauth2"].filter { map[$0] != nil }
        if schemes.count > 1, let value = map[schemes[1]] {
            throw value.fail("set one of basic_auth, bearer_token_file, sigv4 and oauth2, not several")
        }
        if let value = map["sigv4"] { sigv4 = try SigV4Config(value) }
        if let value = map["oauth2"] { oauth2 = try OAuth2Config(value) }
    }
}

extension TLSConfig {
    /// A `tls_config` mapping: an endpoint's, or an OAuth 2.0 token endpoint's.
    init(_ tls: YAMLValue) throws(ConfigError) {
        self = .defaults
        let fields = try tls.mapping(keys: ["ca_file", "cert_file", "key_file", "insecure_skip_verify"])
        if let value = fields["ca_file"] { caFile = try value.readableFile() }
        if let value = fields["cert_file"] { certFile = try value.readableFile() }
        if let value = fields["key_file"] { keyFile = try value.readableFile() }
        if let value = fields["insecure_skip_verify"] { insecureSkipVerify = try value.bool() }
        if (certFile == nil) != (keyFile == nil) {
            throw tls.fail("cert_file and key_file go together; set both for client certificates")
        }
    }
}
