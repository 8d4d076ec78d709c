import Foundation
import Testing

@testable import ShipperMetrics
@testable import ShipperConfig
@testable import ShipperSend

/// Batch jobs pushing to a real Pushgateway.
@Suite(.requiresBPF, .timeLimit(.minutes(2)))
struct PushgatewayTests {
    let host = Config.hostname()

    func pushgatewayConfig(_ url: String, _ prefix: String, extra: String = "") -> String {
        """
        external_labels: {site: edge-1}
        maps: {include: ['^\(prefix)']}
        pushgateway:
          - name: gateway
            url: \(url)
            job: nightly
        \(extra)
        """
    }

    @Test func onceExposesExactValuesWithTheGroupingAndNoTimestamps() async throws {
        let gateway = try await ReceiverProcess.pushgateway()
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "h", maxEntries: 8, fill: 3)
        let config = try writeConfig(pushgatewayConfig(gateway.baseURL, prefix, extra: "    grouping: {stage: load}"))
        defer { removeConfig(config) }

        let result = try await ShipperBinary.run(["once", "--config", config.path])
        #expect(result.status == 0, "\(result.stderr)")
        let labels = "instance=\"\(host)\",job=\"nightly\",map_id=\"\(id)\",map_name=\"\(prefix)h\",map_type=\"hash\",site=\"edge-1\",stage=\"load\""
        #expect(await gateway.exposed("ebpf_map_entries") == ["ebpf_map_entries{\(labels)} 3"])
        #expect(await gateway.exposed("ebpf_map_pressure") == ["ebpf_map_pressure{\(labels)} 0.375"])
        #expect(await gateway.exposed("ebpf_map_max_entries") == ["ebpf_map_max_entries{\(labels)} 8"])
        // No disk buffer for a Pushgateway: only the latest state matters.
        #expect(!FileManager.default.fileExists(atPath: config.path + ".buffer"))
    }

    /// `..` and `.` as grouping values are their own groups at a real Pushgateway: `..` never
    /// replaces the group above it, and `.` is not refused.
    @Test func dotValuesPushToTheirOwnGroup() async throws {
        let gateway = try await ReceiverProcess.pushgateway()
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        try await holder.create("hash", name: prefix + "h", maxEntries: 8, fill: 3)
        for value in ["", "..", "."] {
            let grouping = value.isEmpty ? "" : "    grouping: {stage: '\(value)'}"
            let config = try writeConfig(pushgatewayConfig(gateway.baseURL, prefix, extra: grouping))
            defer { removeConfig(config) }
            let result = try await ShipperBinary.run(["once", "--config", config.path])
            #expect(result.status == 0, "\(result.stderr)")
        }
        let stages = await gateway.exposed("ebpf_map_entries").map { line in
            line.contains("stage=\"..\"") ? ".." : line.contains("stage=\".\"") ? "." : line.contains("stage=") ? "?" : ""
        }
        #expect(stages.sorted() == ["", ".", ".."])
    }

    @Test func theBodyIsTextWithoutTimestampsAndTheGroupingIsEscaped() async throws {
        let receiver = try FakeReceiver(script: [])
        let result = try await ShipperBinary.once(config: """
            maps: {include: ['^never-matches$']}
            pushgateway:
              - url: http://127.0.0.1:\(receiver.port)/prefix/
                job: etl/nightly
                grouping: {path: /var/tmp, stage: 'load 1'}
            """)
        #expect(result.status == 0, "\(result.stderr)")
        let request = try #require(receiver.requests.first)
        #expect(request.method == "PUT")
        #expect(request.path == "/prefix/metrics/job@base64/ZXRsL25pZ2h0bHk=/instance/\(host)/path@base64/L3Zhci90bXA=/stage/load%201")
        #expect(request.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        let lines = String(decoding: request.body, as: UTF8.self).split(separator: "\n")
        #expect(lines.contains("# TYPE ebpf_map_shipper_build_info gauge"))
        // name{labels} value: two fields, no third for a timestamp.
        #expect(lines.filter { !$0.hasPrefix("#") }.allSatisfy { $0.split(separator: " ").count == 2 })
    }

    @Test func aSlashInAGroupingValueRoundTrips() async throws {
        let gateway = try await ReceiverProcess.pushgateway()
        let config = try writeConfig(pushgatewayConfig(gateway.baseURL, "never-matches", extra: "    grouping: {path: /var/tmp/x}"))
        defer { removeConfig(config) }
        #expect(try await ShipperBinary.run(["once", "--config", config.path]).status == 0)
        #expect(await gateway.exposed("ebpf_map_shipper_build_info").first?.contains("path=\"/var/tmp/x\"") == true)
    }

    @Test func putReplacesTheGroupPostKeepsOtherNames() async throws {
        let gateway = try await ReceiverProcess.pushgateway()
        let group = gateway.baseURL + "/metrics/job/nightly/instance/\(host)"
        for method in ["put", "post"] {
            #expect(await Network.request("PUT", group, body: "# TYPE other_metric gauge\nother_metric 42\n") != nil)
            let config = try writeConfig(pushgatewayConfig(gateway.baseURL, "never-matches", extra: "    method: \(method)"))
            defer { removeConfig(config) }
            #expect(try await ShipperBinary.run(["once", "--config", config.path]).status == 0)
            #expect(await gateway.exposed("ebpf_map_shipper_build_info").count == 1)
            #expect(await gateway.exposed("other_metric").count == (method == "put" ? 0 : 1), "\(method)")
        }
    }

    @Test func deleteOnShutdownRemovesTheGroup() async throws {
        let gateway = try await ReceiverProcess.pushgateway()
        let daemon = try ShipperDaemon(config: """
            interval: 1s
            \(pushgatewayConfig(gateway.baseURL, "never-matches", extra: "    delete_on_shutdown: true"))
            """)
        #expect(await eventually(within: 30) { await !gateway.exposed("ebpf_map_shipper_build_info").isEmpty }, "\(daemon.log)")
        #expect(await daemon.terminate() == 0)
        #expect(await gateway.exposed("ebpf_map_shipper_build_info").isEmpty)
        #expect(daemon.log.contains("msg=\"deleted the pushgateway group on shutdown\""))
    }

    /// A delete that fails at shutdown says why in fields an operator can grep, never Swift's
    /// debug text, and the shipper still exits 0.
    @Test func aFailedDeleteAtShutdownSaysWhy() async throws {
        let daemon = try ShipperDaemon(config: """
            interval: 1s
            \(pushgatewayConfig("http://127.0.0.1:\(Network.freePort())", "never-matches", extra: "    delete_on_shutdown: true\n    timeout: 1s"))
            """)
        #expect(await eventually(within: 30) { daemon.log.contains("msg=\"send failed; retrying\"") }, "\(daemon.log)")
        #expect(await daemon.terminate() == 0)
        let line = daemon.log.split(separator: "\n").first { $0.contains("could not delete the pushgateway group on shutdown") }
        #expect(line?.contains("send.failure=connect") == true, "\(daemon.log)")
        #expect(line?.contains("failure(") == false && line?.contains("Shipper.") == false, "\(line ?? "")")
    }

    @Test func aTypeClashIsLoggedWithTheGatewaysMessageAndTheShipperKeepsRunning() async throws {
        let gateway = try await ReceiverProcess.pushgateway()
        // Another group already has ebpf_map_shipper_build_info as a counter.
        #expect(await Network.request("PUT", gateway.baseURL + "/metrics/job/other",
                                body: "# TYPE ebpf_map_shipper_build_info counter\nebpf_map_shipper_build_info 1\n") != nil)
        let daemon = try ShipperDaemon(config: """
            interval: 1s
            \(pushgatewayConfig(gateway.baseURL, "never-matches"))
            """)
        func refusals() -> [Substring] { daemon.log.split(separator: "\n").filter { $0.contains("endpoint refused the batch") } }
        // Still running and still pushing every interval, as the gateway's own count of refused
        // pushes shows; the same refusal is logged once a minute, not once a push.
        func refused() async -> Int {
            await gateway.exposed("pushgateway_http_requests_total").filter { $0.contains("code=\"400\",handler=\"push\"") }
                .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
        }
        #expect(await eventually(within: 30) { await refused() >= 4 }, "\(daemon.log)")
        #expect(daemon.isRunning)
        // Each distinct message once (the gateway words the clash from either side, by turns).
        let refusals = refusals()
        let messages = refusals.map { $0.split(separator: "receiver.message=").last ?? "" }
        #expect((1...2).contains(refusals.count) && Set(messages).count == messages.count, "\(daemon.log)")
        #expect(refusals.allSatisfy { $0.contains("http.status=400") && $0.contains("ebpf_map_shipper_build_info") })
        #expect(await daemon.terminate() == 0)
    }

    @Test func aPushgatewayAndAPrometheusBothReceive() async throws {
        let gateway = try await ReceiverProcess.pushgateway()
        let prometheus = try await ReceiverProcess.prometheus()
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("lru_hash", name: prefix + "both", maxEntries: 10, fill: 4)
        let result = try await ShipperBinary.once(config: """
            \(pushgatewayConfig(gateway.baseURL, prefix))
            remote_write:
              - url: \(prometheus.remoteWriteURL)
            """)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(await gateway.exposed("ebpf_map_entries").first?.hasSuffix("map_type=\"lru_hash\",site=\"edge-1\"} 4") == true)
        #expect(try await prometheus.query("ebpf_map_entries{map_id=\"\(id)\"}").first?.value == "4")
    }

    @Test func onceFailsWhenThePushgatewayIsDown() async throws {
        let config = try writeConfig(pushgatewayConfig("http://127.0.0.1:\(Network.freePort())", "never-matches"))
        defer { removeConfig(config) }
        let result = try await ShipperBinary.run(["once", "--config", config.path, "--timeout", "2s"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("msg=\"pushgateway did not accept the push\" endpoint.name=gateway"), "\(result.stderr)")
    }

    @Test func theNewestStateArrivesWhenTheGatewayReturnsWithNothingOnDisk() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "late", maxEntries: 16, fill: 9)
        let port = Network.freePort()
        let config = try writeConfig("""
            interval: 1s
            \(pushgatewayConfig("http://127.0.0.1:\(port)", prefix))
            buffer: {dir: /nonexistent-never-created}
            """)
        defer { removeConfig(config) }
        let daemon = try ShipperDaemon(file: config)
        // Two states pushed into the outage: each one's first failure is logged.
        #expect(await eventually(within: 30) { daemon.log.components(separatedBy: "msg=\"send failed; retrying\"").count > 2 },
                "\(daemon.log)")
        try await holder.delete(id: id, count: 4)
        let gateway = try await ReceiverProcess.pushgateway(port: port)
        #expect(await eventually(within: 30) {
            await gateway.exposed("ebpf_map_entries").first?.hasSuffix("} 5") == true
        }, "\(daemon.log)")
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent-never-created"))
        #expect(await daemon.terminate() == 0)
    }
}

extension PushgatewayConfig {
    /// A gateway at http://gw:9091 with this job and grouping key, for tests of what it is sent.
    static func test(job: String, grouping: LabelSet) -> PushgatewayConfig {
        PushgatewayConfig(
            name: "g", url: "http://gw:9091", job: job, grouping: grouping, method: .put, headers: [], basicAuth: nil,
            bearerTokenFile: nil, timeout: .seconds(1), tls: .defaults, deleteOnShutdown: false)
    }
}

struct PushgatewayURLTests {
    @Test func escapesTheGroupingKey() {
        let gateway = PushgatewayConfig.test(job: "a/b", grouping: LabelSet(["instance": "h-1", "zone": "eu west"]))
        #expect(PushgatewaySender.groupURL(gateway) == "http://gw:9091/metrics/job@base64/YS9i/instance/h-1/zone/eu%20west")
        var emoji = gateway
        emoji.job = "???"
        emoji.grouping = LabelSet(["path": "/?>"])
        // URL-safe base64: '/' and '+' become '_' and '-'.
        #expect(PushgatewaySender.groupURL(emoji) == "http://gw:9091/metrics/job/%3F%3F%3F/path@base64/Lz8-")
        // Dot segments would be removed on the way: each value stays one segment.
        let dots = PushgatewayConfig.test(job: "..", grouping: LabelSet(["a": ".", "b": "..", "c": "..."]))
        #expect(PushgatewaySender.groupURL(dots) == "http://gw:9091/metrics/job@base64/Li4=/a@base64/Lg==/b@base64/Li4=/c/...")
    }
}
