import Foundation
import Testing
@testable import ShipperCollect
@testable import ShipperMetrics
@testable import ShipperEncode
@testable import ShipperBuffer
@testable import ShipperConfig
@testable import ShipperSend
@testable import ShipperRun

/// `protobuf_message: io.prometheus.write.v2.Request` against receivers that take only 1.0: the
/// real Prometheus 2.42 and VictoriaMetrics of Debian 12 answer a 2.0 request with 204 and no
/// X-Prometheus-Remote-Write-*-Written header, and drop it. The real binary falls back, and every
/// interval arrives with its exact value: the one whose request showed it, and every one buffered
/// as 2.0 during an outage that began before it.
@Suite(.requiresBPF, .timeLimit(.minutes(3)))
struct RemoteWriteV2FallbackTests {
    static let fallbackLine =
        "msg=\"endpoint takes only remote-write 1.0; sending it prometheus.WriteRequest until restart (or a reload that changes its protobuf_message), queued batches included\""

    @Test(arguments: ["prometheus", "victoria-metrics"])
    func aReceiverThatTakesOnly1_0GetsEveryIntervalAfterAnOutage(receiver kind: String) async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "m", maxEntries: 16, fill: 3)
        let port = Network.freePort()
        let outage = OutageTests()
        let daemon = try ShipperDaemon(config: outage.config(port: port, prefix: prefix, message: .v2))
        let file = try #require(daemon.configFile)
        // Nothing listens until six intervals are buffered as 2.0.
        #expect(await eventually(within: 60) { outage.buffered(file).count >= 6 }, "\(daemon.log)")
        let held = outage.buffered(file)
        #expect(BufferedRecords.headers(in: file.path + ".buffer/central").allSatisfy { $0.format == .frame })
        let started = Date()
        let receiver = try await kind == "prometheus" ? ReceiverProcess.prometheus(port: port) : ReceiverProcess.victoriaMetrics(port: port)
        #expect(await outage.waitForDrain(receiver, id, past: started), "\(daemon.log)")

        let series = try #require(try await receiver.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first, "\(daemon.log)")
        // From the first cycle on, every interval buffered as 2.0 arrived as 1.0, in order: none
        // lost to the fallback.
        #expect(Array(series.timestampsMs.prefix(held.count)) == held, "held \(held), received \(series.timestampsMs)")
        #expect(series.timestampsMs.count > held.count)
        #expect(series.values.allSatisfy { $0 == "3" }, "\(series.values)")
        #expect(daemon.log.components(separatedBy: Self.fallbackLine).count == 2, "one fallback line: \(daemon.log)")
        #expect(await eventually(within: 30) {
            (try? await receiver.query("ebpf_map_shipper_remote_write_version{endpoint=\"central\"}").first?.value) == "1"
        })
        #expect(await daemon.terminate() == 0)
        await receiver.stop()
    }
}
