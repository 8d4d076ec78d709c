/// What remote-write and Pushgateway entries share for reaching their receiver.
public protocol HTTPEndpointConfig {
    var name: String { get }
    var headers: [HTTPHeader] { get }
    var basicAuth: BasicAuth? { get }
    var bearerTokenFile: String? { get }
    var timeout: Duration { get }
    var tls: TLSConfig { get }
    var proxy: ProxyConfig { get }
    var sigv4: SigV4Config? { get }
    var oauth2: OAuth2Config? { get }
}

extension RemoteWriteConfig: HTTPEndpointConfig {}
extension PushgatewayConfig: HTTPEndpointConfig {}

extension HTTPEndpointConfig {
    /// `check-config`'s words for how the entry reaches its receiver: header names, credentials
    /// as file paths only, verification turned off, the proxy.
    var connectionSummary: String {
        var line = ""
        if !headers.isEmpty { line += " headers=\(headers.map(\.name))" }
        if let auth = basicAuth { line += " basic_auth=\(auth.username):<\(auth.passwordFile)>" }
        if let file = bearerTokenFile { line += " bearer_token=<\(file)>" }
        if let sigv4 { line += sigv4.summary }
        if let oauth2 { line += oauth2.summary }
        if tls.insecureSkipVerify { line += " tls_verify=OFF" }
        return line + proxy.summary
    }
}
