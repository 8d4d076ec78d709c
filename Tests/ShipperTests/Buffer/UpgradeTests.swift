import Foundation
import Testing

@testable import ShipperMetrics
@testable import ShipperCollect
@testable import ShipperConfig
@testable import ShipperSend
@testable import ShipperRun
@testable import ShipperEncode
@testable import ShipperBuffer

/// A disk buffer left by the release before frames, whose records hold remote-write 1.0 and 2.0
/// request bodies: after the upgrade the new binary delivers every sample in it, in order, to a
/// real Prometheus.
@Suite(.requiresBPF, .timeLimit(.minutes(3)))
struct UpgradeTests {
    @Test func aFullBufferOfTheReleaseBeforeFramesIsDeliveredWhole() async throws {
        let buffer = Scratch.path("upgrade").path
        try FileManager.default.createDirectory(atPath: buffer, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: buffer) }
        // As that release wrote them: one record per request, 1.0 bodies, and 2.0 ones (the top bit
        // of the samples field) for an endpoint sent 2.0, 50 series each, until max_size pushes the
        // oldest segments out.
        let metrics = SelfMetrics(endpoints: ["central"])
        let queue = try DiskQueue(
            directory: buffer + "/central", limits: .init(maxSize: 256 << 10, maxAge: .seconds(3600), fsync: false),
            report: DropReport(endpoint: "central", metrics: metrics, logger: CapturedLog().logger))
        let encoder = RemoteWriteEncoder()
        let start = Date().milliseconds - 600_000
        var records = 0
        func full() -> Bool {
            (metrics.samples().first { $0.metric == .samplesDropped && $0.labels["reason"] == "buffer_full" }?.value ?? 0) > 0
        }
        while !full() {
            let time = start + Int64(records) * 100
            let samples = (0..<50).map { Sample(.mapEntries, LabelSet(["map_id": "\($0)", "map_name": "legacy"]), Double(records)) }
            let v2 = records % 3 == 2
            let body = v2
                ? encoder.encodeV2(samples, timestampMs: time, externalLabels: LabelSet())
                : encoder.encode(samples, timestampMs: time, externalLabels: LabelSet())
            queue.append(Batch(body: body, sampleCount: 50, timestampMs: time, format: v2 ? .remoteWriteV2 : .remoteWriteV1))
            records += 1
        }
        let pending = queue.pendingSamples
        queue.release()
        let headers = BufferedRecords.headers(in: buffer + "/central")
        #expect(Set(headers.map(\.format)) == [.remoteWriteV1, .remoteWriteV2])
        #expect(headers.count * 50 == pending && pending > 1_000, "\(headers.count) records")
        let first = try #require(headers.first?.timestampMs)

        let prometheus = try await ReceiverProcess.prometheus()
        let daemon = try ShipperDaemon(config: """
            interval: 1s
            maps: {include: ['^never-a-map-name$']}
            remote_write:
              - name: central
                url: \(prometheus.remoteWriteURL)
            buffer: {dir: '\(buffer)'}
            """)
        // Every record kept arrives whole: 50 series, each with one sample per record, in order.
        let expected = Array((records - pending / 50)..<records).map { "\($0)" }
        func received() async -> [String: [String]] {
            let series = (try? await prometheus.samples("ebpf_map_entries{map_name=\"legacy\"}[1h]")) ?? []
            return Dictionary(series.map { ($0.labels["map_id"] ?? "", $0.values) }) { $1 }
        }
        #expect(await eventually(within: 60) { await received()["0"]?.count == expected.count }, "\(daemon.log)")
        let all = await received()
        #expect(all.count == 50)
        #expect(all.values.allSatisfy { $0 == expected })
        let stamps = try await prometheus.samples("ebpf_map_entries{map_name=\"legacy\",map_id=\"7\"}[1h]").first?.timestampsMs
        #expect(stamps?.first == first)
        #expect(daemon.log.contains("msg=\"replaying the disk buffer left by a previous run\""), "\(daemon.log)")
        #expect(!daemon.log.contains("cannot be read"), "\(daemon.log)")
        #expect(await daemon.terminate() == 0)
    }
}
