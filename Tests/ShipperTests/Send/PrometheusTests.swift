import Foundation
import Testing

@testable import ShipperMetrics
@testable import ShipperConfig

/// The real binary, real maps, and a real Prometheus with its remote-write receiver.
@Suite(.requiresBPF, .timeLimit(.minutes(2)))
struct PrometheusTests {
    @Test func onceDeliversExactValuesAndLabels() async throws {
        let prometheus = try await ReceiverProcess.prometheus()
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let hash = try await holder.create("hash", name: prefix + "hash", maxEntries: 8, fill: 3)
        let lru = try await holder.create("lru_hash", name: prefix + "lru", maxEntries: 4, fill: 2)
        let array = try await holder.create("array", name: prefix + "arr", maxEntries: 16)
        let result = try await ShipperBinary.once(config: """
            interval: 1s
            external_labels:
              site: edge-1
            maps:
              include: ['^\(prefix)']
            remote_write:
              - name: central
                url: \(prometheus.remoteWriteURL)
            """)
        #expect(result.status == 0, "\(result.stderr)")

        let host = Config.hostname()
        func labels(_ id: UInt32, _ suffix: String, _ type: String, _ name: String) -> [String: String] {
            ["__name__": name, "instance": host, "job": "ebpf-map-shipper", "site": "edge-1", "map_id": "\(id)",
             "map_name": prefix + suffix, "map_type": type]
        }
        let entries = try await prometheus.query("ebpf_map_entries")
        #expect(entries.count == 2)
        #expect(entries.first { $0.labels["map_id"] == "\(hash)" }?.labels == labels(hash, "hash", "hash", "ebpf_map_entries"))
        #expect(entries.first { $0.labels["map_id"] == "\(hash)" }?.value == "3")
        #expect(entries.first { $0.labels["map_id"] == "\(lru)" }?.value == "2")
        #expect(try await prometheus.valuesByMap("ebpf_map_max_entries") == ["\(hash)": "8", "\(lru)": "4", "\(array)": "16"])
        #expect(try await prometheus.valuesByMap("ebpf_map_pressure") == ["\(hash)": "0.375", "\(lru)": "0.5"])
        #expect(try await prometheus.valuesByMap("ebpf_map_memory_bytes") == [
            "\(hash)": "\(try await holder.memlock(id: hash))", "\(lru)": "\(try await holder.memlock(id: lru))",
            "\(array)": "\(try await holder.memlock(id: array))",
        ])
        let info = try await prometheus.query("ebpf_map_info{map_id=\"\(hash)\"}")
        var expectedInfo = labels(hash, "hash", "hash", "ebpf_map_info")
        expectedInfo.merge(["key_size": "4", "value_size": "8", "flags": "0x0"]) { $1 }
        #expect(info.map(\.labels) == [expectedInfo])
        #expect(try await prometheus.query("ebpf_map_shipper_build_info").map(\.labels["version"]) == [ShipperVersion.current])
        #expect(try await prometheus.query("ebpf_map_shipper_samples_dropped_total{endpoint=\"central\"}").allSatisfy { $0.value == "0" })
    }

    @Test func runSendsEveryIntervalAndEndsVanishedSeriesAtOnce() async throws {
        let prometheus = try await ReceiverProcess.prometheus()
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let doomed = try await holder.create("hash", name: prefix + "doomed", maxEntries: 64, fill: 10)
        let stays = try await holder.create("hash", name: prefix + "stays", maxEntries: 64, fill: 5)
        let daemon = try ShipperDaemon(config: """
            interval: 1s
            maps:
              include: ['^\(prefix)']
            remote_write:
              - url: \(prometheus.remoteWriteURL)
            """)

        #expect(await eventually(within: 30) {
            (try? await prometheus.query("count_over_time(ebpf_map_entries{map_id=\"\(doomed)\"}[1m])").first?.value)
                .flatMap { Int($0) }.map { $0 >= 3 } ?? false
        }, "\(daemon.log)")

        try await holder.delete(id: doomed, count: 4)
        #expect(await eventually(within: 30) {
            (try? await prometheus.query("ebpf_map_entries{map_id=\"\(doomed)\"}").first?.value) == "6"
        })

        try await holder.close(id: doomed)
        // Without a stale marker Prometheus would keep returning the last value for five minutes.
        #expect(await eventually(within: 30) {
            (try? await prometheus.query("ebpf_map_entries{map_id=\"\(doomed)\"}").isEmpty) == true
        })
        #expect(try await prometheus.query("ebpf_map_entries{map_id=\"\(stays)\"}").first?.value == "5")
        // Every 1s tick lands exactly on a whole second.
        let stamps = try await prometheus.query("timestamp(ebpf_map_entries{map_id=\"\(stays)\"})")
        #expect(stamps.first.flatMap { Double($0.value) }.map { $0 == $0.rounded() } == true)

        #expect(await daemon.terminate() == 0)
        #expect(daemon.log.contains("msg=stopped"))
        #expect(!prometheus.log.contains("out of order"))
    }

    @Test func onceFailsWhenNoEndpointAcceptsTheData() async throws {
        let result = try await ShipperBinary.once(config: """
            maps:
              include: ['^never-matches$']
            remote_write:
              - name: nowhere
                url: http://127.0.0.1:\(Network.freePort())/api/v1/write
                queue:
                  max_backoff: 200ms
            """, ["--timeout", "2s"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("msg=\"endpoint did not accept every sample\" endpoint.name=nowhere"))
    }

    /// map_id to value, for one metric.
}

@Suite(.requiresBPF, .timeLimit(.minutes(2)))
struct VictoriaMetricsTests {
    @Test func onceDeliversExactValues() async throws {
        let victoria = try await ReceiverProcess.victoriaMetrics()
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("percpu_hash", name: prefix + "pcpu", maxEntries: 32, fill: 8)
        let result = try await ShipperBinary.once(config: """
            maps:
              include: ['^\(prefix)']
            remote_write:
              - name: vm
                url: \(victoria.remoteWriteURL)
            """)
        #expect(result.status == 0, "\(result.stderr)")
        var found: [(labels: [String: String], value: String)] = []
        #expect(await eventually(within: 30) {
            found = (try? await victoria.query("ebpf_map_pressure{map_id=\"\(id)\"}")) ?? []
            return !found.isEmpty
        })
        #expect(found.first?.value == "0.25")
        #expect(found.first?.labels == [
            "__name__": "ebpf_map_pressure", "instance": Config.hostname(), "job": "ebpf-map-shipper",
            "map_id": "\(id)", "map_name": prefix + "pcpu", "map_type": "percpu_hash",
        ])
        #expect(try await victoria.query("ebpf_map_entries{map_id=\"\(id)\"}").first?.value == "8")
    }
}

/// Remote-write 2.0 against a real 2.0 receiver: Prometheus 3.5.3 from Debian forky
/// (`ReceiverProcess.prometheus3`). It answers with the Written headers, so the shipper keeps
/// sending 2.0; every value arrives exactly, read back through its query API.
@Suite(.requiresBPF, .timeLimit(.minutes(2)))
struct Prometheus3Tests {
    @Test func a2_0CycleArrivesWithExactValues() async throws {
        let prometheus = try await ReceiverProcess.prometheus3()
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let hash = try await holder.create("hash", name: prefix + "hash", maxEntries: 8, fill: 3)
        let lru = try await holder.create("lru_hash", name: prefix + "lru", maxEntries: 4, fill: 2)
        let result = try await ShipperBinary.once(config: """
            external_labels: {site: edge-1}
            maps: {include: ['^\(prefix)']}
            remote_write:
              - name: central
                url: \(prometheus.remoteWriteURL)
                protobuf_message: io.prometheus.write.v2.Request
            buffer: {dir: ''}
            """)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("endpoint takes only remote-write 1.0"), "\(result.stderr)")
        #expect(try await prometheus.valuesByMap("ebpf_map_entries") == ["\(hash)": "3", "\(lru)": "2"])
        #expect(try await prometheus.valuesByMap("ebpf_map_max_entries") == ["\(hash)": "8", "\(lru)": "4"])
        #expect(try await prometheus.valuesByMap("ebpf_map_pressure") == ["\(hash)": "0.375", "\(lru)": "0.5"])
        let entries = try await prometheus.query("ebpf_map_entries{map_id=\"\(hash)\"}")
        #expect(entries.map(\.labels) == [[
            "__name__": "ebpf_map_entries", "instance": Config.hostname(), "job": "ebpf-map-shipper", "site": "edge-1",
            "map_id": "\(hash)", "map_name": prefix + "hash", "map_type": "hash",
        ]])
        #expect(try await prometheus.query("ebpf_map_shipper_remote_write_version{endpoint=\"central\"}").map(\.value) == ["2"])
    }
}
