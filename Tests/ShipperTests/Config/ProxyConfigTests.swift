import Foundation
import Testing

@testable import ShipperConfig

/// The proxy keys, as Prometheus spells them, on remote_write and pushgateway entries alike:
/// what is read, what is refused at load (in one line that says what to do), and what
/// `check-config` shows (never a credential).
struct ProxyConfigTests {
    static func parse(_ yaml: String) throws(ConfigError) -> Config {
        try Config.parse(yaml, file: "shipper.yml", environment: [:], hostname: "edge-7")
    }

    static func error(_ yaml: String) -> String? {
        do {
            _ = try parse(yaml)
            return nil
        } catch {
            return error.description
        }
    }

    static func entry(_ proxy: String) -> String {
        "remote_write:\n  - url: https://aps.example/api/v1/write\n" + proxy.split(separator: "\n").map { "    " + $0 + "\n" }.joined()
    }

    static func secretPath(_ text: String) throws -> String { try Scratch.file("proxy-authorization", text).path }

    @Test func readsEveryKeyOnBothKindsOfEndpoint() throws {
        let file = try Self.secretPath("Basic ZWRnZTpzM2NyZXQ=\n")
        let proxy = """
            proxy_url: http://proxy.internal:3128
            no_proxy: "localhost, .internal,10.0.0.0/8"
            proxy_connect_header:
              Proxy-Authorization: {file: \(file)}
              X-Site: edge-7
            """
        let expected = ProxyConfig(
            url: "http://proxy.internal:3128", noProxy: "localhost,.internal,10.0.0.0/8", fromEnvironment: false,
            headers: [ProxyHeader(name: "Proxy-Authorization", file: file), ProxyHeader(name: "X-Site", value: "edge-7")])
        #expect(try Self.parse(Self.entry(proxy)).remoteWrite[0].proxy == expected)
        let gateway = "pushgateway:\n  - url: http://gw:9091\n    job: nightly\n" + proxy.split(separator: "\n").map { "    " + $0 + "\n" }.joined()
        #expect(try Self.parse(gateway).pushgateway[0].proxy == expected)
        #expect(try Self.parse(Self.entry("proxy_from_environment: true")).remoteWrite[0].proxy
            == ProxyConfig(url: nil, noProxy: nil, fromEnvironment: true, headers: []))
        #expect(try Self.parse(Self.entry("")).remoteWrite[0].proxy == .none, "no proxy, and the environment ignored")
        #expect(try Self.parse(Self.entry("proxy_url: https://proxy.internal:3129/")).remoteWrite[0].proxy.url == "https://proxy.internal:3129/")
    }

    @Test func refusesWhatWouldLeakACredentialOrNeverWork() throws {
        let at = "shipper.yml:3: remote_write[0]."
        #expect(Self.error(Self.entry("proxy_url: http://edge:s3cret@proxy.internal:3128")) == at
            + "proxy_url: the proxy URL carries credentials, which would be logged and shown; remove them and set "
            + "proxy_connect_header: {Proxy-Authorization: {file: ...}} with a file holding 'Basic <base64 of user:password>'")
        #expect(Self.error(Self.entry("proxy_url: http://proxy.internal:3128/path")) == at
            + "proxy_url: invalid proxy URL 'http://proxy.internal:3128/path'; expected http:// or https://, a host and a port, e.g. http://proxy.example:3128")
        #expect(Self.error(Self.entry("proxy_url: socks5://proxy.internal:1080")) == at
            + "proxy_url: invalid URL 'socks5://proxy.internal:1080'; expected http:// or https:// with a host")
        #expect(Self.error(Self.entry("proxy_url: http://p:3128\nproxy_from_environment: true")) == "shipper.yml:4: remote_write[0]."
            + "proxy_from_environment: set either proxy_url or proxy_from_environment, not both")
        #expect(Self.error(Self.entry("no_proxy: localhost")) == at
            + "no_proxy: no_proxy needs proxy_url; with proxy_from_environment: true the environment's no_proxy applies")
        #expect(Self.error(Self.entry("proxy_url: http://p:3128\nno_proxy: 'a b'")) == "shipper.yml:4: remote_write[0].no_proxy: "
            + "invalid no_proxy 'a b'; expected hosts, domains, addresses or CIDR ranges, comma-separated, e.g. localhost,.internal,10.0.0.0/8")
        #expect(Self.error(Self.entry("proxy_connect_header: {X-Site: a}")) == at
            + "proxy_connect_header: proxy_connect_header needs proxy_url or proxy_from_environment: true")
        let header = { (line: String) in Self.entry("proxy_url: http://p:3128\nproxy_connect_header:\n  \(line)") }
        #expect(Self.error(header("Proxy-Authorization: Basic ZWRnZTpzM2NyZXQ=")) == "shipper.yml:5: remote_write[0].proxy_connect_header."
            + "Proxy-Authorization: an inline Proxy-Authorization is not accepted; write 'Basic <base64 of user:password>' "
            + "to a file readable only by the shipper and set {file: path}")
        #expect(Self.error(header("Host: elsewhere")) == "shipper.yml:5: remote_write[0].proxy_connect_header.Host: "
            + "header 'Host' belongs to the connection and cannot be configured")
        #expect(Self.error(header("\"X-Site\": \"a\\r\\nX: b\"")) == "shipper.yml:5: remote_write[0].proxy_connect_header.X-Site: "
            + "invalid header value; expected one line of visible ASCII characters (no CR, LF or other control characters)")
        let empty = try Self.secretPath("\n")
        #expect(Self.error(header("Proxy-Authorization: {file: \(empty)}")) == "shipper.yml:5: remote_write[0].proxy_connect_header."
            + "Proxy-Authorization.file: '\(empty)' is empty; write the secret to it")
    }

    /// check-config names the proxy and the file a header comes from, never a header's secret.
    @Test func checkConfigShowsTheProxyWithoutItsCredentials() async throws {
        let file = try Self.secretPath("Basic ZWRnZTpzM2NyZXQ=\n")
        let config = try writeConfig(Self.entry("""
            proxy_url: http://proxy.internal:3128
            no_proxy: localhost,127.0.0.1
            proxy_connect_header:
              Proxy-Authorization: {file: \(file)}
              X-Site: edge-7
            """))
        defer { removeConfig(config) }
        let result = try await ShipperBinary.run(["check-config", config.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(
            " proxy=http://proxy.internal:3128 no_proxy=localhost,127.0.0.1 proxy_connect_header=[Proxy-Authorization=<\(file)>, X-Site] buffer="),
            "\(result.stdout)")
        #expect(!result.stdout.contains("ZWRnZTpzM2NyZXQ") && !result.stdout.contains("edge-7"))
    }
}
