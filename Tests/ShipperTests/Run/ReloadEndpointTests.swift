import Foundation
import Testing
@testable import ShipperCollect
@testable import ShipperMetrics
@testable import ShipperEncode
@testable import ShipperBuffer
@testable import ShipperConfig
@testable import ShipperSend
@testable import ShipperRun

/// Reload as a transaction over endpoints, by SIGHUP to the real binary with disk buffers, against
/// real Prometheus servers: every setting of an endpoint, a moved buffer, a removed and re-added
/// endpoint, and reloads that cannot be built.
@Suite(.requiresBPF, .timeLimit(.minutes(5)))
struct ReloadEndpointTests {
    /// A daemon on one map at a 1 s interval, its config rewritten and reloaded step by step.
    final class Fixture {
        let holder: MapHolder
        let prefix = uniquePrefix()
        let mapID: UInt32
        let base = Scratch.path("reload-endpoints")
        let file: URL
        private(set) var daemon: ShipperDaemon!

        init() async throws {
            holder = try MapHolder()
            mapID = try await holder.create("hash", name: prefix + "m", maxEntries: 64, fill: 7)
            try FileManager.default.createDirectory(at: base, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            file = base.appendingPathComponent("shipper.yml")
        }

        deinit { try? FileManager.default.removeItem(at: base) }

        func directory(_ name: String) -> String { base.appendingPathComponent(name).path }

        /// `endpoints` are YAML flow mappings; `buffer` the lines under `buffer:`.
        func write(endpoints: [String], buffer: [String]) throws {
            let text = """
                interval: 1s
                maps:
                  include: ['^\(prefix)m$']
                remote_write:
                \(endpoints.map { "  - \($0)" }.joined(separator: "\n"))
                buffer:
                \(buffer.map { "  \($0)" }.joined(separator: "\n"))

                """
            try text.write(to: file, atomically: true, encoding: .utf8)
        }

        func start() throws { daemon = try ShipperDaemon(file: file) }

        func lines(_ message: String) -> Int {
            daemon.log.split(separator: "\n").filter { $0.contains("msg=\"\(message)\"") }.count
        }

        /// SIGHUP, and waits for the daemon to say how the reload went.
        func reload(expect message: String = "config reloaded") async -> Bool {
            let before = lines(message)
            kill(daemon.pid, SIGHUP)
            return await eventually(within: 30) { lines(message) > before }
        }

        func stamps(_ prometheus: ReceiverProcess) async throws -> [Int64] {
            try await prometheus.samples("ebpf_map_entries{map_id=\"\(mapID)\"}[10m]").first?.timestampsMs ?? []
        }

        func values(_ prometheus: ReceiverProcess) async throws -> Set<String> {
            Set(try await prometheus.samples("ebpf_map_entries{map_id=\"\(mapID)\"}[10m]").first?.values ?? [])
        }

        /// Waits until the receiver has a sample stamped after now.
        func passes(_ prometheus: ReceiverProcess) async -> Bool {
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            return await eventually(within: 60) { ((try? await stamps(prometheus).last) ?? 0) > now }
        }
    }

    static func contiguous(_ stamps: [Int64]) -> Bool {
        !stamps.isEmpty && zip(stamps, stamps.dropFirst()).allSatisfy { $1 - $0 == 1000 }
    }

    /// Each step changes one more setting of the same endpoint; each is reloaded while samples
    /// flow, and the receiver ends with every interval, exact, and no hole.
    @Test func everyEndpointSettingChangesWithoutAHole() async throws {
        let fixture = try await Fixture()
        let prometheus = try await ReceiverProcess.prometheus()
        let url = "http://127.0.0.1:\(prometheus.port)/api/v1/write"
        let secret = fixture.base.appendingPathComponent("secret").path
        try "s3cret\n".write(toFile: secret, atomically: true, encoding: .utf8)
        let proxy = try await ReceiverProcess.tinyproxy()
        let steps: [(endpoint: String, buffer: [String])] = [
            ("queue: {max_backoff: 20s}", []),
            ("queue: {max_backoff: 20s, min_backoff: 50ms}", []),
            ("queue: {max_backoff: 20s, min_backoff: 50ms, max_samples_per_send: 50}", []),
            ("queue: {max_backoff: 20s, min_backoff: 50ms, max_samples_per_send: 50, retry_on_http_429: false}", []),
            ("timeout: 20s", []),
            ("headers: {X-Fleet: edge}", []),
            ("bearer_token_file: \(secret)", []),
            ("basic_auth: {username: edge, password_file: \(secret)}", []),
            ("tls_config: {insecure_skip_verify: true}", []),
            ("protobuf_message: io.prometheus.write.v2.Request", []),
            ("proxy_url: http://127.0.0.1:\(proxy.port)", []),
            ("buffer: {max_size: 2MiB, max_age: 1h}", []),
            ("buffer: {max_size: 2MiB, max_age: 1h}", ["max_size: 64MiB", "max_age: 2h", "fsync: always"]),
            ("url: '\(url)?step=url'", ["fsync: always"]),
        ]
        let dir = "dir: \(fixture.directory("buffer"))"
        try fixture.write(endpoints: ["{name: central, url: '\(url)'}"], buffer: [dir])
        try fixture.start()
        #expect(await fixture.passes(prometheus), "\(fixture.daemon.log)")
        for step in steps {
            let endpoint = step.endpoint.hasPrefix("url:") ? "{name: central, \(step.endpoint)}" : "{name: central, url: '\(url)', \(step.endpoint)}"
            try fixture.write(endpoints: [endpoint], buffer: [dir] + step.buffer)
            #expect(await fixture.reload(), "\(step.endpoint): \(fixture.daemon.log)")
            #expect(await fixture.passes(prometheus), "\(step.endpoint): \(fixture.daemon.log)")
            if step.endpoint.hasPrefix("proxy_url") {
                // Sent through the proxy; it goes away, and the next step, without it, passes.
                #expect(proxy.log.contains("POST \(url) HTTP/1.1"), "\(proxy.log)")
                await proxy.stop()
            }
        }
        #expect(fixture.lines("config reload failed") == 0, "\(fixture.daemon.log)")
        #expect(fixture.lines("config reloaded") == steps.count)
        // The 1.0 receiver took the 2.0 step as 1.0, and the steps after it went back to 1.0.
        #expect(fixture.lines("endpoint takes only remote-write 1.0; sending it prometheus.WriteRequest until restart (or a reload that changes its protobuf_message), queued batches included") == 1)
        let stamps = try await fixture.stamps(prometheus)
        #expect(Self.contiguous(stamps), "hole in \(stamps)")
        #expect(stamps.count >= steps.count + 1)
        #expect(try await fixture.values(prometheus) == ["7"])
        #expect(await fixture.daemon.terminate() == 0)
        await prometheus.stop()
    }

    /// While both receivers are down: `buffer.dir` moves (the queue follows, in order), one
    /// endpoint is removed (its buffer stays, and one line says where and how much), then it comes
    /// back and the buffer moves back. Once the receivers are up, everything buffered arrives.
    @Test func movedAndRemovedEndpointsStrandNothing() async throws {
        let fixture = try await Fixture()
        let (stayPort, leavePort) = (Network.freePort(), Network.freePort())
        let endpoints = [
            "{name: stay, url: 'http://127.0.0.1:\(stayPort)/api/v1/write', queue: {max_backoff: 200ms}}",
            "{name: leave, url: 'http://127.0.0.1:\(leavePort)/api/v1/write', queue: {max_backoff: 200ms}}",
        ]
        let (a, b) = (fixture.directory("a"), fixture.directory("b"))
        try fixture.write(endpoints: endpoints, buffer: ["dir: \(a)"])
        try fixture.start()
        #expect(await eventually(within: 60) { BufferedRecords.timestamps(in: a + "/leave").count >= 3 }, "\(fixture.daemon.log)")

        // Moved: every record of a/ goes to b/, and a/ has nothing left to deliver.
        try fixture.write(endpoints: endpoints, buffer: ["dir: \(b)"])
        #expect(await fixture.reload(), "\(fixture.daemon.log)")
        #expect(fixture.lines("endpoint's queue moved by the reload; its unsent samples go out first") == 2)
        #expect(fixture.daemon.log.contains("buffer.from=\(a)/stay"), "\(fixture.daemon.log)")

        // Removed: its records stay in b/leave, said in one line.
        try fixture.write(endpoints: [endpoints[0]], buffer: ["dir: \(b)"])
        #expect(await fixture.reload(), "\(fixture.daemon.log)")
        let removed = fixture.daemon.log.split(separator: "\n").filter {
            $0.contains("endpoint removed by the reload; its unsent samples stay in its buffer directory")
        }
        #expect(removed.count == 1 && removed[0].contains("buffer.dir=\(b)/leave"), "\(fixture.daemon.log)")
        let stranded = BufferedRecords.timestamps(in: b + "/leave")
        #expect(!stranded.isEmpty)
        #expect(removed.first?.contains("buffer.samples=\(BufferedRecords.headers(in: b + "/leave").reduce(0) { $0 + $1.sampleCount })") == true)
        // The endpoint is gone for a few intervals.
        let removedAt = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(await eventually(within: 60) { (BufferedRecords.timestamps(in: b + "/stay").last ?? 0) > removedAt + 2000 })

        // Back, where its buffer was left; then both back to a/: none is "in use" by the shipper itself.
        try fixture.write(endpoints: endpoints, buffer: ["dir: \(b)"])
        #expect(await fixture.reload(), "\(fixture.daemon.log)")
        let readdedAt = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(await eventually(within: 60) { (BufferedRecords.timestamps(in: b + "/leave").last ?? 0) > readdedAt + 1000 })
        try fixture.write(endpoints: endpoints, buffer: ["dir: \(a)"])
        #expect(await fixture.reload(), "\(fixture.daemon.log)")
        #expect(fixture.lines("endpoint's queue moved by the reload; its unsent samples go out first") == 4)
        #expect(fixture.lines("config reload failed") == 0, "\(fixture.daemon.log)")

        let stay = try await ReceiverProcess.prometheus(port: stayPort)
        let leave = try await ReceiverProcess.prometheus(port: leavePort)
        #expect(await fixture.passes(stay), "\(fixture.daemon.log)")
        #expect(await fixture.passes(leave), "\(fixture.daemon.log)")
        let stayed = try await fixture.stamps(stay)
        #expect(Self.contiguous(stayed), "hole in \(stayed)")
        let left = try await fixture.stamps(leave)
        // Everything it had buffered, then nothing while it was removed, then every interval again.
        let before = left.filter { $0 <= stranded.last! }
        #expect(before == stranded.filter { $0 >= left.first! }, "\(left) \(stranded)")
        #expect(left.first == stayed.first)
        let after = left.filter { $0 > stranded.last! }
        #expect(Self.contiguous(after) && after.first! > removedAt && after.first! <= readdedAt + 1000, "\(after) \(removedAt) \(readdedAt)")
        #expect(try await fixture.values(stay) == ["7"])
        #expect(try await fixture.values(leave) == ["7"])
        #expect(await fixture.daemon.terminate() == 0)
        await stay.stop()
        await leave.stop()
    }

    /// A buffer.dir that fails the safety checks (writable by others; a symlink) is refused as a
    /// whole: every endpoint goes on sending, the log says so, and the good config reloads again.
    @Test func aReloadThatCannotBeBuiltChangesNothing() async throws {
        let fixture = try await Fixture()
        let prometheus = try await ReceiverProcess.prometheus()
        let endpoint = "{name: central, url: '\(prometheus.remoteWriteURL)'}"
        let good = fixture.directory("good")
        try fixture.write(endpoints: [endpoint], buffer: ["dir: \(good)"])
        try fixture.start()
        #expect(await fixture.passes(prometheus), "\(fixture.daemon.log)")

        let open = fixture.directory("open")
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        chmod(open, 0o1777)
        let link = fixture.directory("link")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: good)
        for bad in [open, link] {
            try fixture.write(endpoints: [endpoint], buffer: ["dir: \(bad)"])
            #expect(await fixture.reload(expect: "config reload failed; the running config goes on unchanged"), "\(fixture.daemon.log)")
            #expect(await fixture.passes(prometheus), "\(bad): \(fixture.daemon.log)")
            #expect(await eventually(within: 30) {
                (try? await prometheus.samples("ebpf_map_shipper_config_last_reload_successful[1m]").first?.values.last) == "0"
            })
        }
        let failures = fixture.daemon.log.split(separator: "\n").filter { $0.contains("config reload failed") }
        #expect(failures.count == 2)
        #expect(failures.first?.contains("buffer directory \(open)") == true, "\(failures)")
        try fixture.write(endpoints: [endpoint], buffer: ["dir: \(good)"])
        #expect(await fixture.reload(expect: "config reloaded: unchanged"))
        #expect(await eventually(within: 30) {
            (try? await prometheus.samples("ebpf_map_shipper_config_last_reload_successful[1m]").first?.values.last) == "1"
        })
        let stamps = try await fixture.stamps(prometheus)
        #expect(Self.contiguous(stamps), "hole in \(stamps)")
        #expect(await fixture.daemon.terminate() == 0)
        await prometheus.stop()
    }
    /// A Pushgateway entry's settings changed by SIGHUP: the next push goes to the new group.
    @Test func aPushgatewayChangedByReloadPushesItsNewGroup() async throws {
        let fixture = try await Fixture()
        let gateway = try await ReceiverProcess.pushgateway()
        func write(stage: String) throws {
            try """
                interval: 1s
                maps:
                  include: ['^\(fixture.prefix)m$']
                pushgateway:
                  - {name: gw, url: '\(gateway.baseURL)', job: nightly, grouping: {stage: \(stage)}}

                """.write(to: fixture.file, atomically: true, encoding: .utf8)
        }
        func stages() async -> Set<String> {
            Set(await gateway.exposed("ebpf_map_entries").compactMap { line in
                line.firstRange(of: "stage=\"").map { String(line[$0.upperBound...].prefix { $0 != "\"" }) }
            })
        }
        try write(stage: "load")
        try fixture.start()
        #expect(await eventually(within: 30) { await stages() == ["load"] }, "\(fixture.daemon.log)")
        try write(stage: "transform")
        #expect(await fixture.reload(), "\(fixture.daemon.log)")
        #expect(await eventually(within: 30) { await stages() == ["load", "transform"] }, "\(fixture.daemon.log)")
        #expect(await gateway.exposed("ebpf_map_entries").allSatisfy { $0.hasSuffix(" 7") })
        #expect(await fixture.daemon.terminate() == 0)
        await gateway.stop()
    }
}
