/// The proxy keys of remote_write and pushgateway entries, as Prometheus spells them.
extension ProxyConfig {
    static let keys = ["proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header"]

    /// Headers a proxy header may not be: the connection's own framing, which libcurl writes.
    private static let reservedHeaders: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "proxy-connection", "expect", "te", "trailer",
        "upgrade", "keep-alive",
    ]

    init(_ map: [String: YAMLValue]) throws(ConfigError) {
        self = .none
        if let value = map["proxy_url"] {
            let text = try value.string()
            url = try Self.checkedURL(text, value)
        }
        if let value = map["proxy_from_environment"] {
            fromEnvironment = try value.bool()
            if fromEnvironment, url != nil {
                throw value.fail("set either proxy_url or proxy_from_environment, not both")
            }
        }
        if let value = map["no_proxy"] {
            let text = try value.string()
            guard url != nil else {
                throw value.fail(
                    "no_proxy needs proxy_url; with proxy_from_environment: true the environment's no_proxy applies")
            }
            let entries = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !entries.isEmpty, entries.allSatisfy({ entry in
                !entry.isEmpty && entry.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".-:/[]*_".contains($0)) }
            }) else {
                throw value.fail("invalid no_proxy '\(text)'; expected hosts, domains, addresses or CIDR ranges, comma-separated, e.g. localhost,.internal,10.0.0.0/8")
            }
            noProxy = entries.joined(separator: ",")
        }
        if let value = map["proxy_connect_header"] {
            guard url != nil || fromEnvironment else {
                throw value.fail("proxy_connect_header needs proxy_url or proxy_from_environment: true")
            }
            headers = try Self.headers(value)
        }
    }

    /// The proxy's URL: http or https, a host and a port, no path and no credentials.
    private static func checkedURL(_ text: String, _ value: YAMLValue) throws(ConfigError) -> String {
        do {
            _ = try EndpointURL(text)
        } catch {
            if error.message.contains("credentials") {
                throw value.fail(
                    "the proxy URL carries credentials, which would be logged and shown; remove them and set "
                        + "proxy_connect_header: {Proxy-Authorization: {file: ...}} with a file holding 'Basic <base64 of user:password>'")
            }
            throw value.fail(error.message)
        }
        let afterHost = text[text.range(of: "://")!.upperBound...].drop { $0 != "/" && $0 != "?" && $0 != "#" }
        guard afterHost.isEmpty || afterHost == "/" else {
            throw value.fail("invalid proxy URL '\(EndpointURL.hidingQueryValues(text))'; expected http:// or https://, a host and a port, e.g. http://proxy.example:3128")
        }
        return text
    }

    /// `Name: value` or `Name: {file: path}`; Proxy-Authorization only from a file.
    private static func headers(_ value: YAMLValue) throws(ConfigError) -> [ProxyHeader] {
        try value.entries(atMost: ConfigBounds.headers).map { name, entry throws(ConfigError) in
            let lower = name.text.lowercased()
            try HTTPFields.checkName(name)
            guard !reservedHeaders.contains(lower) else {
                throw name.fail("header '\(name.text)' belongs to the connection and cannot be configured")
            }
            if case .mapping = entry.node {
                let fields = try entry.mapping(keys: ["file"])
                guard let file = fields["file"] else { throw entry.fail("missing key 'file'; the file holds the header's value") }
                return ProxyHeader(name: name.text, file: try file.secretFile(token: true))
            }
            guard lower != "proxy-authorization" else {
                throw name.fail("an inline Proxy-Authorization is not accepted; write 'Basic <base64 of user:password>' to a file readable only by the shipper and set {file: path}")
            }
            let text = try entry.string()
            try HTTPFields.checkValue(text, of: name)
            return ProxyHeader(name: name.text, value: text)
        }
    }
}

extension ProxyConfig {
    /// What `check-config` prints of it: the proxy, never a header's value (a file's path instead).
    var summary: String {
        var text = ""
        if let url { text += " proxy=\(EndpointURL.hidingQueryValues(url))" }
        if let noProxy { text += " no_proxy=\(noProxy)" }
        if fromEnvironment { text += " proxy=environment" }
        if !headers.isEmpty {
            text += " proxy_connect_header=[" + headers.map { $0.name + ($0.file.map { "=<\($0)>" } ?? "") }.joined(separator: ", ") + "]"
        }
        return text
    }
}
