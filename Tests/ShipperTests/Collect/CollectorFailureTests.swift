import Foundation
import Testing

@testable import ShipperCollect
@testable import ShipperMetrics
@testable import ShipperConfig
@testable import ShipperRun

/// One failing part of a collection leaves out only what it concerns; the rest of the cycle is
/// collected and sent, and the failure is counted by stage.
@Suite(.requiresBPF)
struct CollectorFailureTests {
    /// Two hash maps (3 and 5 elements) and a program using the first.
    func maps() async throws -> (holder: MapHolder, prefix: String) {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let a = try await holder.create("hash", name: prefix + "a", maxEntries: 8, fill: 3)
        try await holder.create("hash", name: prefix + "b", maxEntries: 8, fill: 5)
        try await holder.loadProgram(name: prefix + "p", using: [a])
        return (holder, prefix)
    }

    func collector(_ prefix: String, _ method: CollectionMethod, log: CapturedLog) async throws -> Collector {
        try await Collector.loaded(CollectorOptions(method: method, filter: MapFilter(include: ["^" + prefix])), logger: log.logger)
    }

    func byName(_ maps: [MapStats]) -> [String: MapStats] {
        Dictionary(uniqueKeysWithValues: maps.map { ($0.name, $0) })
    }

    @Test("a count or memory failure leaves out only that value", arguments: [CollectionMethod.iterator, .fallback])
    func countAndMemory(method: CollectionMethod) async throws {
        let (holder, prefix) = try await maps()
        let log = CapturedLog()
        let collector = try await collector(prefix, method, log: log)
        // The kfunc counts in the iterator itself: only the fallback's counting can fail.
        collector.injectedFailures = method == .fallback ? [.count, .memory] : [.memory]
        let maps = byName(try await collector.collected())
        #expect(maps.count == 2)
        #expect(maps[prefix + "a"]?.entries == (method == .fallback ? nil : 3))
        #expect(maps[prefix + "b"]?.memoryBytes == nil)
        #expect(maps[prefix + "a"]?.programs == [prefix + "p"])
        #expect(collector.errors[.memory] == 2)
        #expect(collector.errors[.count] == (method == .fallback ? 2 : nil))
        // Once a minute per stage, however many maps failed.
        #expect(log.count("could not read a map's memory; reporting it without this cycle") == 1)

        collector.injectedFailures = []
        let healed = byName(try await collector.collected())
        #expect(healed[prefix + "a"]?.entries == 3)
        #expect(healed[prefix + "b"]?.entries == 5)
        #expect(healed[prefix + "b"]?.memoryBytes == (try await holder.memlock(id: healed[prefix + "b"]!.id)))
    }

    @Test func aFailingProgramListingKeepsLastCyclesNames() async throws {
        let (holder, prefix) = try await maps()
        let log = CapturedLog()
        let collector = try await collector(prefix, .iterator, log: log)
        #expect(byName(try await collector.collected())[prefix + "a"]?.programs == [prefix + "p"])
        collector.injectedFailures = [.programs]
        let maps = byName(try await collector.collected())
        #expect(maps[prefix + "a"]?.programs == [prefix + "p"])
        #expect(maps[prefix + "b"]?.entries == 5)
        #expect(collector.errors[.programs] == 1)
        #expect(log.count("could not list the programs; keeping last cycle's programs and the names of those using each map") == 1)
        withExtendedLifetime(holder) {}
    }

    @Test func aMapThatCannotBeDescribedIsLeftOutOnTheFallback() async throws {
        let (holder, prefix) = try await maps()
        let log = CapturedLog()
        let collector = try await collector(prefix, .fallback, log: log)
        collector.injectedFailures = [.describe]
        #expect(try await collector.collected().isEmpty)
        // Every map on the host was described before the filter: at least our two failed.
        #expect((collector.errors[.describe] ?? 0) >= 2)
        collector.injectedFailures = []
        #expect(byName(try await collector.collected()).keys.sorted() == [prefix + "a", prefix + "b"])
        withExtendedLifetime(holder) {}
    }

    /// Through the cycle: the failure reaches `ebpf_map_shipper_collect_errors_total{stage}` and
    /// the maps still reach the encoder.
    @Test func theCounterIsExportedAndTheCycleStillSends() async throws {
        let (holder, prefix) = try await maps()
        let log = CapturedLog()
        let collector = try await collector(prefix, .iterator, log: log)
        collector.injectedFailures = [.programs, .memory]
        let metrics = SelfMetrics()
        let cycle = CollectCycle(
            config: Config.defaults(hostname: "h"), collector: collector, senders: [], gateways: [], metrics: metrics, logger: log.logger)
        #expect(try await blocking { cycle.run() })
        let errors = Dictionary(uniqueKeysWithValues: metrics.samples().filter { $0.metric == .collectErrors }.map {
            ($0.labels["stage"] ?? "", $0.value)
        })
        #expect(errors == ["enumerate": 0, "describe": 0, "count": 0, "memory": 2, "programs": 1, "holders": 0, "losses": 0])
        collector.injectedFailures = [.enumerate]
        #expect(try await !blocking { cycle.run() })
        #expect(metrics.samples().first { $0.metric == .collectErrors && $0.labels["stage"] == "enumerate" }?.value == 1)
        withExtendedLifetime(holder) {}
    }
}
