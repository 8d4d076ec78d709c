import Foundation
import Testing

@testable import ShipperCollect
@testable import ShipperConfig
@testable import ShipperSend

/// TLS, HTTP/2, credentials and independent queues, through the real binary.
@Suite(.requiresBPF, .timeLimit(.minutes(2)))
struct EndpointTests {
    @Test func httpsVerifiesCertificatesAndSpeaksHTTP2() async throws {
        let prometheus = try await ReceiverProcess.prometheusWithTLS()
        let prefix = uniquePrefix()
        let holder = try MapHolder()
        let id = try await holder.create("hash", name: prefix + "tls", maxEntries: 16, fill: 4)
        let series = "ebpf_map_entries{map_id=\"\(id)\"}"
        func config(_ tls: String) -> String {
            """
            maps:
              include: ['^\(prefix)']
            remote_write:
              - name: secure
                url: \(prometheus.remoteWriteURL)
                queue: {max_backoff: 200ms}
                tls_config: {\(tls)}
            """
        }

        // Verification is on by default: a self-signed certificate is refused, and retried. The
        // daemon is watched until it says so, however long a loaded machine takes to get there.
        let untrusted = try ShipperDaemon(config: config(""))
        #expect(await untrusted.stop(afterLogging: "send.failure=tls"), "\(untrusted.log)")
        #expect(!untrusted.buffered("secure").isEmpty, "the refused batch waits on disk")
        #expect(try await prometheus.queryOverTLS(series).contains("\"result\":[]"), "nothing crossed the refused connection")

        let trusted = try await ShipperBinary.once(config: config("ca_file: \(prometheus.certificate)"), ["--timeout", "60s"])
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(trusted.stderr.contains("http.version=2"), "\(trusted.stderr)")

        #expect(try await prometheus.queryOverTLS(series).contains(",\"4\"]"), "over HTTPS/2")
    }

    @Test func credentialsComeFromFilesAndAreNeverLogged() async throws {
        let receiver = try FakeReceiver(script: [])
        let password = try writeConfig("pa55-word\n")
        let token = try writeConfig("t0ken-value")
        defer {
            try? FileManager.default.removeItem(at: password)
            try? FileManager.default.removeItem(at: token)
        }
        let config = try writeConfig("""
            maps:
              include: ['^never-matches$']
            remote_write:
              - name: basic
                url: \(receiver.url)
                basic_auth: {username: edge, password_file: \(password.path)}
              - name: bearer
                url: http://127.0.0.1:\(receiver.port)/bearer
                bearer_token_file: \(token.path)
                headers: {X-Scope-OrgID: fleet-a}
            """)
        defer { removeConfig(config) }

        let result = try await ShipperBinary.run(["once", "--config", config.path, "--log-level", "trace"])
        #expect(result.status == 0, "\(result.stderr)")
        let byPath = Dictionary(grouping: receiver.requests, by: \.path)
        #expect(byPath["/api/v1/write"]?.first?.headers["authorization"] == "Basic " + Data("edge:pa55-word".utf8).base64EncodedString())
        #expect(byPath["/bearer"]?.first?.headers["authorization"] == "Bearer t0ken-value")
        #expect(byPath["/bearer"]?.first?.headers["x-scope-orgid"] == "fleet-a")
        #expect(!result.stderr.contains("pa55-word") && !result.stderr.contains("t0ken-value"))

        let check = try await ShipperBinary.run(["check-config", config.path])
        #expect(check.status == 0)
        #expect(!check.stdout.contains("pa55-word") && !check.stdout.contains("t0ken-value"))
        #expect(check.stdout.contains("basic_auth=edge:<\(password.path)>"))
    }

    @Test func aDeadEndpointDoesNotHoldBackALiveOne() async throws {
        let prometheus = try await ReceiverProcess.prometheus()
        let dead = try FakeReceiver(script: [], fallback: .hang)
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "live", maxEntries: 8, fill: 1)
        let daemon = try ShipperDaemon(config: """
            interval: 1s
            maps:
              include: ['^\(prefix)']
            remote_write:
              - name: dead
                url: \(dead.url)
                timeout: 10m
              - name: live
                url: \(prometheus.remoteWriteURL)
            """)
        // Five intervals at the live endpoint while the dead one's first request still hangs. (At
        // least five: a loaded machine may poll Prometheus less often than samples arrive.)
        #expect(await eventually(within: 60) {
            let count = try? await prometheus.query("count_over_time(ebpf_map_entries{map_id=\"\(id)\"}[10m])").first?.value
            return count.flatMap { Int($0) }.map { $0 >= 5 } ?? false
        }, "\(daemon.log)")
        #expect(try await prometheus.query("max_over_time(ebpf_map_entries{map_id=\"\(id)\"}[10m])").first?.value == "1")
        #expect(dead.requests.count == 1)
        dead.stop()
        #expect(await daemon.terminate() == 0)
    }
}
