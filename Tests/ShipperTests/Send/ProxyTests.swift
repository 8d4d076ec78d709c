import Foundation
import Testing

@testable import ShipperConfig
@testable import ShipperSend

/// Endpoints behind an HTTP proxy (`proxy_url`, `no_proxy`, `proxy_from_environment`,
/// `proxy_connect_header`), through a real tinyproxy that wants credentials: plain HTTP, a CONNECT
/// tunnel to a Prometheus serving TLS, and a Pushgateway; a proxy that is down until the buffer
/// holds data; and the environment's http_proxy, which is ignored unless asked for.
@Suite(.requiresBPF, .timeLimit(.minutes(3)))
struct ProxyTests {
    /// A map of 3 elements to send, and a file holding the proxy's credentials.
    static func setUp() async throws -> (holder: MapHolder, prefix: String, id: UInt32, authorization: URL) {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "h", maxEntries: 8, fill: 3)
        let authorization = try Scratch.file("proxy-authorization", "Basic " + Data("edge:s3cret".utf8).base64EncodedString() + "\n")
        return (holder, prefix, id, authorization)
    }

    static func config(_ prefix: String, url: String, proxy: String, tls: String = "") -> String {
        """
        maps: {include: ['^\(prefix)']}
        remote_write:
          - name: central
            url: \(url)
        \(proxy.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        \(tls)
        """
    }

    @Test func plainAndTunnelledRequestsGoThroughTheProxyWithItsCredentials() async throws {
        let (holder, prefix, id, authorization) = try await Self.setUp()
        let proxy = try await ReceiverProcess.tinyproxy(user: "edge", password: "s3cret")
        let prometheus = try await ReceiverProcess.prometheus()
        let settings = """
            proxy_url: http://127.0.0.1:\(proxy.port)
            proxy_connect_header:
              Proxy-Authorization: {file: \(authorization.path)}
            """
        // Remote-write 2.0 to a receiver that takes only 1.0: the fallback goes through the proxy too.
        let plain = try await ShipperBinary.once(config: Self.config(
            prefix, url: prometheus.remoteWriteURL, proxy: settings + "\nprotobuf_message: io.prometheus.write.v2.Request"))
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stderr.contains("endpoint takes only remote-write 1.0"), "\(plain.stderr)")
        #expect(try await prometheus.valuesByMap("ebpf_map_entries") == ["\(id)": "3"])
        #expect(proxy.log.contains("Request (file descriptor"), "\(proxy.log)")
        #expect(proxy.log.contains("POST \(prometheus.remoteWriteURL) HTTP/1.1"), "\(proxy.log)")

        // HTTPS: a CONNECT tunnel, the receiver's certificate checked through it.
        let tls = try await ReceiverProcess.prometheusWithTLS()
        let tunnelled = try await ShipperBinary.once(config: Self.config(
            prefix, url: tls.remoteWriteURL, proxy: settings,
            tls: "    tls_config: {ca_file: \(tls.certificate)}"))
        #expect(tunnelled.status == 0, "\(tunnelled.stderr)")
        let body = try await tls.queryOverTLS("ebpf_map_entries{map_id=\"\(id)\"}")
        #expect(body.contains(",\"3\"]"), "\(body)")
        #expect(proxy.log.contains("CONNECT 127.0.0.1:\(tls.port) HTTP/1.1"), "\(proxy.log)")

        // Without the credentials the proxy refuses the tunnel (407): nothing is dropped, the send
        // fails and is retried. (tinyproxy refuses a plain request the same way, but resets the
        // connection while the body is still coming: that reads as a transfer failure.)
        let refused = try ShipperDaemon(config: Self.config(
            prefix, url: tls.remoteWriteURL, proxy: "proxy_url: http://127.0.0.1:\(proxy.port)\nqueue: {max_backoff: 200ms}",
            tls: "    tls_config: {ca_file: \(tls.certificate)}"))
        #expect(await refused.stop(afterLogging: "send.failure=proxy_auth"), "\(refused.log)")
        #expect(!refused.log.contains("dropped"), "\(refused.log)")
        #expect(!refused.buffered("central").isEmpty, "the refused batch waits on disk")
        withExtendedLifetime(holder) {}
        await tls.stop()
        await prometheus.stop()
        await proxy.stop()
    }

    /// A proxy that is down is a send failure like a receiver that is down: the daemon buffers,
    /// and when the proxy returns every interval the buffer held arrives, in order.
    @Test func aProxyThatIsDownBuffersAndLosesNothing() async throws {
        let (holder, prefix, id, _) = try await Self.setUp()
        let prometheus = try await ReceiverProcess.prometheus()
        let port = Network.freePort()
        let daemon = try ShipperDaemon(config: "interval: 1s\n" + Self.config(
            prefix, url: prometheus.remoteWriteURL, proxy: "proxy_url: http://127.0.0.1:\(port)\nqueue: {max_backoff: 1s}"))
        let file = try #require(daemon.configFile)
        let buffered = { BufferedRecords.timestamps(in: file.path + ".buffer/central") }
        #expect(await eventually(within: 120) { buffered().count >= 5 }, "\(daemon.log)")
        let held = buffered()

        let proxy = try await ReceiverProcess.tinyproxy(port: port)
        let stamps = { try await prometheus.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first?.timestampsMs ?? [] }
        let returned = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(await eventually(within: 30) { ((try? await stamps()).flatMap(\.last) ?? 0) > returned }, "\(daemon.log)")
        let times = try await stamps()
        #expect(Array(times.prefix(held.count)) == held, "held \(held), received \(times)")
        #expect(try await prometheus.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first?.values.allSatisfy { $0 == "3" } == true)
        #expect(await daemon.terminate() == 0)
        #expect(daemon.log.contains("send.failure=connect"), "\(daemon.log)")
        #expect(daemon.log.contains("msg=\"buffer backlog drained\""), "\(daemon.log)")
        #expect(proxy.log.contains("POST \(prometheus.remoteWriteURL) HTTP/1.1"))
        withExtendedLifetime(holder) {}
        await proxy.stop()
        await prometheus.stop()
    }

    /// A Pushgateway entry takes the same keys, and its PUT goes through the proxy with its credentials.
    @Test func aPushgatewayIsReachedThroughTheProxyToo() async throws {
        let (holder, prefix, id, authorization) = try await Self.setUp()
        let proxy = try await ReceiverProcess.tinyproxy(user: "edge", password: "s3cret")
        let gateway = try await ReceiverProcess.pushgateway()
        let result = try await ShipperBinary.once(config: """
            maps: {include: ['^\(prefix)']}
            pushgateway:
              - url: \(gateway.baseURL)
                job: nightly
                proxy_url: http://127.0.0.1:\(proxy.port)
                proxy_connect_header: {Proxy-Authorization: {file: \(authorization.path)}}
            """)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(await gateway.exposed("ebpf_map_entries").map { $0.hasSuffix(",map_id=\"\(id)\",map_name=\"\(prefix)h\",map_type=\"hash\"} 3") } == [true])
        #expect(proxy.log.contains("PUT \(gateway.baseURL)/metrics/job/nightly/instance/"), "\(proxy.log)")
        withExtendedLifetime(holder) {}
        await gateway.stop()
        await proxy.stop()
    }

    /// The OAuth 2.0 token request crosses the same proxy as the writes, with the proxy's
    /// credentials: without them tinyproxy would refuse it.
    @Test func theTokenRequestGoesThroughTheProxyWithItsCredentials() async throws {
        let (holder, prefix, id, authorization) = try await Self.setUp()
        let proxy = try await ReceiverProcess.tinyproxy(user: "edge", password: "s3cret")
        let prometheus = try await ReceiverProcess.prometheus()
        let server = try await ReceiverProcess.oauth2(
            upstream: prometheus.remoteWriteURL, clientID: "edge", clientSecret: "client-s3cret", scope: nil, expiresIn: 3600)
        let secret = try Scratch.file("client-secret", "client-s3cret")
        let result = try await ShipperBinary.once(config: Self.config(prefix, url: server.baseURL + "/api/v1/write", proxy: """
            proxy_url: http://127.0.0.1:\(proxy.port)
            proxy_connect_header: {Proxy-Authorization: {file: \(authorization.path)}}
            oauth2: {client_id: edge, client_secret_file: \(secret.path), token_url: '\(server.baseURL)/token'}
            """))
        #expect(result.status == 0, "\(result.stderr)\n\(proxy.log)")
        #expect(try await prometheus.valuesByMap("ebpf_map_entries") == ["\(id)": "3"])
        #expect(proxy.log.contains("POST \(server.baseURL)/token HTTP/1.1"), "\(proxy.log)")
        #expect(server.log.contains("issued token-1") && server.log.contains("accepted token-1"), "\(server.log)")
        withExtendedLifetime(holder) {}
        await server.stop()
        await prometheus.stop()
        await proxy.stop()
    }

    /// no_proxy reaches the receiver directly; the proxy named is down, and never asked.
    @Test func noProxyBypassesIt() async throws {
        let (holder, prefix, id, _) = try await Self.setUp()
        let prometheus = try await ReceiverProcess.prometheus()
        let result = try await ShipperBinary.once(config: Self.config(
            prefix, url: prometheus.remoteWriteURL,
            proxy: "proxy_url: http://127.0.0.1:\(Network.freePort())\nno_proxy: localhost,127.0.0.1"))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try await prometheus.valuesByMap("ebpf_map_entries") == ["\(id)": "3"])
        withExtendedLifetime(holder) {}
        await prometheus.stop()
    }

    /// libcurl reads http_proxy by default; the shipper does only with proxy_from_environment.
    @Test func theEnvironmentsProxyIsIgnoredUnlessAskedFor() async throws {
        let (holder, prefix, id, _) = try await Self.setUp()
        let prometheus = try await ReceiverProcess.prometheus()
        let dead = "http://127.0.0.1:\(Network.freePort())"
        let environment = ["http_proxy": dead, "HTTPS_PROXY": dead, "ALL_PROXY": dead]
        let ignored = try await ShipperBinary.once(
            config: Self.config(prefix, url: prometheus.remoteWriteURL, proxy: ""), environment: environment)
        #expect(ignored.status == 0, "\(ignored.stderr)")
        #expect(try await prometheus.valuesByMap("ebpf_map_entries") == ["\(id)": "3"])

        let proxy = try await ReceiverProcess.tinyproxy()
        let asked = try await ShipperBinary.once(
            config: Self.config(prefix, url: prometheus.remoteWriteURL, proxy: "proxy_from_environment: true"),
            environment: ["http_proxy": "http://127.0.0.1:\(proxy.port)"])
        #expect(asked.status == 0, "\(asked.stderr)")
        #expect(proxy.log.contains("POST \(prometheus.remoteWriteURL) HTTP/1.1"), "\(proxy.log)")
        withExtendedLifetime(holder) {}
        await proxy.stop()
        await prometheus.stop()
    }
}
