import Foundation
import Testing

/// OAuth 2.0 client credentials (`oauth2`) against Tests/Fixtures/oauth2_server.py, a token
/// endpoint that checks the real token request, and a gate that passes only its tokens on to a
/// real Prometheus: tokens fetched once and cached, replaced before they expire and after a
/// 401, a token endpoint that is down losing nothing, and a reload that mends a wrong secret.
@Suite(.requiresBPF, .timeLimit(.minutes(3)))
struct OAuth2Tests {
    static let clientSecret = "s3cret with spaces & symbols:/="

    static func config(_ prefix: String, _ server: ReceiverProcess, secret: String = clientSecret, extra: String = "") throws -> String {
        let secret = try Scratch.file("client-secret", secret + "\n")
        return """
            interval: 1s
            maps: {include: ['^\(prefix)']}
            remote_write:
              - name: central
                url: \(server.baseURL)/api/v1/write
                queue: {max_backoff: 1s}
                oauth2:
                  client_id: edge-7@fleet
                  client_secret_file: \(secret.path)
                  token_url: \(server.baseURL)/token
                  scopes: [metrics.write, tenant:edge]
                  endpoint_params: {audience: 'https://prometheus.example'}
            \(extra)
            """
    }

    static func lines(_ server: ReceiverProcess, _ prefix: String) -> [Substring] {
        server.log.split(separator: "\n").filter { $0.hasPrefix(prefix) }
    }

    static func oauth2(_ upstream: ReceiverProcess, expiresIn: Int?) async throws -> ReceiverProcess {
        try await ReceiverProcess.oauth2(
            upstream: upstream.remoteWriteURL, clientID: "edge-7@fleet", clientSecret: clientSecret,
            scope: "metrics.write tenant:edge", params: ["audience": "https://prometheus.example"], expiresIn: expiresIn)
    }

    /// One token serves every request until the gate refuses it (401): then one new token, the
    /// same request sent again, and no interval missing.
    @Test func aTokenIsCachedAndReplacedAfterA401WithoutAHole() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "h", maxEntries: 8, fill: 3)
        let prometheus = try await ReceiverProcess.prometheus()
        let server = try await Self.oauth2(prometheus, expiresIn: 3600)
        let daemon = try ShipperDaemon(config: try Self.config(prefix, server))
        #expect(await eventually(within: 60) { Self.lines(server, "accepted token-1").count >= 3 }, "\(server.log)\n\(daemon.log)")
        #expect(Self.lines(server, "issued").count == 1, "\(server.log)")

        #expect(await server.control("revoke"))
        #expect(await eventually(within: 30) { Self.lines(server, "accepted token-2").count >= 2 }, "\(server.log)\n\(daemon.log)")
        #expect(Self.lines(server, "issued") == ["issued token-1", "issued token-2"])
        #expect(Self.lines(server, "refused") == ["refused token-1"], "\(server.log)")
        #expect(await daemon.terminate() == 0)
        #expect(!daemon.log.contains("endpoint refused the batch") && !daemon.log.contains("send failed"), "\(daemon.log)")
        #expect(!daemon.log.contains("s3cret"))
        let samples = try await prometheus.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first
        let stamps = samples?.timestampsMs ?? []
        #expect(!stamps.isEmpty && zip(stamps, stamps.dropFirst()).allSatisfy { $1 - $0 == 1000 }, "hole in \(stamps)")
        #expect(samples?.values.allSatisfy { $0 == "3" } == true)
        withExtendedLifetime(holder) {}
        await server.stop()
        await prometheus.stop()
    }

    /// A token that expires in 11 s is replaced 10 s early: new tokens, and the gate never refuses one.
    @Test func aTokenIsReplacedShortlyBeforeItExpires() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        _ = try await holder.create("hash", name: prefix + "h", maxEntries: 8, fill: 3)
        let prometheus = try await ReceiverProcess.prometheus()
        let server = try await Self.oauth2(prometheus, expiresIn: 11)
        let daemon = try ShipperDaemon(config: try Self.config(prefix, server))
        #expect(await eventually(within: 60) { Self.lines(server, "accepted token-3").count >= 1 }, "\(server.log)\n\(daemon.log)")
        #expect(Self.lines(server, "refused").isEmpty, "\(server.log)")
        #expect(await daemon.terminate() == 0)
        withExtendedLifetime(holder) {}
        await server.stop()
        await prometheus.stop()
    }

    /// A token endpoint that is down: nothing is sent (send failure `token`), the daemon buffers,
    /// one line says why (not one per retry); when it is back, every buffered interval arrives, in
    /// order, through remote-write 2.0's fallback to 1.0.
    @Test func aTokenEndpointThatIsDownLosesNothing() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "h", maxEntries: 8, fill: 3)
        let prometheus = try await ReceiverProcess.prometheus()
        let server = try await Self.oauth2(prometheus, expiresIn: 3600)
        #expect(await server.control("down"))
        let daemon = try ShipperDaemon(config: try Self.config(prefix, server, extra: "    protobuf_message: io.prometheus.write.v2.Request"))
        let file = try #require(daemon.configFile)
        let buffered = { BufferedRecords.timestamps(in: file.path + ".buffer/central") }
        #expect(await eventually(within: 120) { buffered().count >= 4 }, "\(daemon.log)")
        let held = buffered()
        #expect(Self.lines(server, "token endpoint down").count >= 2)

        #expect(await server.control("up"))
        let stamps = { try await prometheus.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first?.timestampsMs ?? [] }
        let returned = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(await eventually(within: 30) { ((try? await stamps()).flatMap(\.last) ?? 0) > returned }, "\(daemon.log)")
        #expect(Array(try await stamps().prefix(held.count)) == held)
        #expect(await daemon.terminate() == 0)
        let warnings = daemon.log.split(separator: "\n").filter { $0.contains("msg=\"could not get an OAuth 2.0 token; retrying\"") }
        #expect(warnings.count == 1, "\(daemon.log)")
        #expect(warnings.first?.contains("answered 503 (temporarily_unavailable); nothing was sent") == true, "\(daemon.log)")
        #expect(daemon.log.contains("send.failure=token"), "\(daemon.log)")
        #expect(!daemon.log.contains("samples.dropped"), "\(daemon.log)")
        withExtendedLifetime(holder) {}
        await server.stop()
        await prometheus.stop()
    }

    /// A wrong client secret: the token endpoint refuses it and the daemon buffers; a reload to
    /// the right secret's file gets a token, and every buffered interval arrives.
    @Test func aReloadThatMendsTheSecretDeliversWhatWasBuffered() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "h", maxEntries: 8, fill: 3)
        let prometheus = try await ReceiverProcess.prometheus()
        let server = try await Self.oauth2(prometheus, expiresIn: 3600)
        let daemon = try ShipperDaemon(config: try Self.config(prefix, server, secret: "wrong"))
        let file = try #require(daemon.configFile)
        let buffered = { BufferedRecords.timestamps(in: file.path + ".buffer/central") }
        #expect(await eventually(within: 120) { buffered().count >= 3 }, "\(daemon.log)")
        let held = buffered()
        #expect(Self.lines(server, "refused token request: client not authenticated").count >= 1, "\(server.log)")

        try Self.config(prefix, server).write(to: file, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        let stamps = { try await prometheus.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first?.timestampsMs ?? [] }
        let returned = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(await eventually(within: 30) { ((try? await stamps()).flatMap(\.last) ?? 0) > returned }, "\(daemon.log)")
        #expect(Array(try await stamps().prefix(held.count)) == held)
        #expect(Self.lines(server, "issued") == ["issued token-1"])
        #expect(await daemon.terminate() == 0)
        #expect(daemon.log.contains("msg=\"config reloaded\""), "\(daemon.log)")
        #expect(daemon.log.contains("answered 401 (invalid_client); nothing was sent"), "\(daemon.log)")
        #expect(!daemon.log.contains("samples.dropped"), "\(daemon.log)")
        withExtendedLifetime(holder) {}
        await server.stop()
        await prometheus.stop()
    }
}
