import Foundation
import Testing

@testable import ShipperCollect

/// Loss tracking where the kernel refuses every tracing program, as this project's CI kernel
/// does: `auto` says why once and collects everything else, `on` refuses to start in one line,
/// and the counters are absent, never 0.
@Suite(.requiresBPF, .enabled("this kernel loads fexit programs; LossTrackingTests covers that case") { await TracingGate.refused.value })
struct LossTrackingRefusedTests {
    static let refusal =
        "the kernel refuses fexit (tracing) programs (lockdown, or a kernel built or configured without them)"

    @Test func autoSaysWhyOnceAndCollectsTheRest() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        _ = try await holder.create("hash", name: prefix + "hash", maxEntries: 4, fill: 4)
        var options = CollectorOptions(method: .iterator, filter: MapFilter(include: ["^" + prefix]))
        options.lossTracking = .auto
        let log = CapturedLog()
        let collector = try await Collector.loaded(options, logger: log.logger)
        #expect(!collector.lossTrackingActive)
        let unavailable = log.entries.filter { $0.message.hasPrefix("loss tracking unavailable") }
        #expect(unavailable.map(\.message) == ["loss tracking unavailable: \(Self.refusal); refused writes and evictions are not counted"])
        #expect(unavailable.map(\.level) == [.info])
        #expect(!log.entries.contains { $0.level >= .warning }, "\(log.entries)")

        let maps = try await collector.collected()
        #expect(maps.map(\.entries) == [4])
        #expect(maps.map(\.insertFailures) == [nil])
        #expect(maps.map(\.evictions) == [nil])
    }

    @Test func onRefusesToStartInOneLine() async throws {
        var options = CollectorOptions(method: .iterator)
        options.lossTracking = .on
        await #expect {
            _ = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        } throws: { error in
            "\(error)" == "cannot start loss tracking (it is on): \(Self.refusal); set loss tracking to auto to count where the kernel allows, or off"
        }
        let result = try await ShipperBinary.run(["list", "--loss-tracking", "on"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("ebpf-map-shipper: error: cannot start loss tracking (it is on): "), "\(result.stderr)")
    }

    /// The self-metric says which case the host is in; the per-map counters are absent.
    @Test func theSelfMetricSaysInactive() async throws {
        let result = try await ShipperBinary.run(["list", "--format", "prometheus", "--type", "hash"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\nebpf_map_shipper_loss_tracking_active 0\n"))
        #expect(!result.stdout.contains("ebpf_map_insert_failures_total{"))
        #expect(!result.stdout.contains("ebpf_map_evictions_total{"))
    }
}

/// Whether this kernel refuses the loss-tracking programs.
enum TracingGate {
    static let refused = Task {
        BPFGate.mountBPFFSIfNeeded()
        // Quietly: libbpf's one callback would log the refusal into whichever test's log is routed.
        return (try? await blocking { try LibbpfLog.quietly { () throws(BPFError) in try LossCounters() } }) == nil
    }
}
