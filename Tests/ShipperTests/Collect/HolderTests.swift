import Foundation
import Testing

@testable import ShipperCollect
@testable import ShipperEncode
@testable import ShipperMetrics

/// The processes holding each map and program, from the holders iterator (iter/task_file): fixture
/// processes that hold a map and a program, a second one that opens the same map, and the
/// shipper's own program, which it holds through its link.
@Suite(.requiresBPF)
struct HolderTests {
    static var ownComm: String {
        get throws { try String(contentsOfFile: "/proc/self/comm", encoding: .utf8).trimmingCharacters(in: .newlines) }
    }

    /// The holds among `holders` by the test's own processes. Other tests' processes (a shipper
    /// or bpftool reading every program's info) hold any object for a moment; those are not this
    /// test's to judge.
    static func among(_ processes: [Holder], _ holders: [Holder]?) -> [Holder]? {
        holders?.filter { held in processes.contains { $0.pid == held.pid } }
    }

    @Test func aMapAndAProgramAreReportedWithThePidAndCommOfEveryProcessHoldingThem() async throws {
        let (first, second) = (try MapHolder(), try MapHolder())
        let prefix = uniquePrefix()
        let map = try await first.create("hash", name: prefix + "m", maxEntries: 8)
        let program = try await first.loadProgram(name: prefix + "p", using: [map])
        try await second.open(id: map)
        var options = CollectorOptions(filter: MapFilter(include: ["^" + prefix]))
        options.holdersMaxAge = .zero
        let collector = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        let a = Holder(pid: UInt32(first.pid), comm: try first.comm)
        let b = Holder(pid: UInt32(second.pid), comm: try second.comm)

        let maps = try await collector.collected()
        #expect(maps.map(\.id) == [map])
        #expect(Self.among([a, b], maps.first?.holders) == [a, b].sorted())
        #expect(Self.among([a, b], collector.programs.first { $0.id == program }?.holders) == [a])
        let text = TextExposition.render(
            MetricSet.samples(for: maps) + MetricSet.samples(for: collector.programs.filter { $0.id == program }))
        for holder in [a, b] {
            #expect(text.contains("\nebpf_map_holder_info{comm=\"\(holder.comm)\",map_id=\"\(map)\",pid=\"\(holder.pid)\"} 1\n"), "\(text)")
        }
        #expect(text.contains("\nebpf_prog_holder_info{comm=\"\(a.comm)\",pid=\"\(a.pid)\",prog_id=\"\(program)\"} 1\n"), "\(text)")

        // The first process lets go of the map; its program still uses it, but holds no descriptor.
        try await first.close(id: map)
        let after = try await collector.collected()
        #expect(Self.among([a, b], after.first?.holders) == [b])
        #expect(after.first?.programs == [prefix + "p"])
        withExtendedLifetime(second) {}
    }

    /// The iterator program is held only through its link: it is the shipper's, reported (with
    /// this process as its holder) only when asked, and this process holds nothing anyone sees.
    @Test func theShippersOwnProgramIsHeldThroughItsLinkAndLeftOutUnlessAsked() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let map = try await holder.create("hash", name: prefix + "m", maxEntries: 8)
        var options = CollectorOptions()
        options.includeSelf = true
        let including = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        let own = try #require(including.iterator?.programIDs.first)
        let ours = Holder(pid: UInt32(getpid()), comm: try Self.ownComm)
        _ = try await including.collected()
        #expect(including.programs.first { $0.id == own }?.holders?.contains(ours) == true)

        let collector = try await Collector.loaded(CollectorOptions(), logger: BPFGate.quietLogger)
        let maps = try await collector.collected()
        let fixture = Holder(pid: UInt32(holder.pid), comm: try holder.comm)
        #expect(Self.among([fixture], maps.first { $0.id == map }?.holders) == [fixture])
        #expect(!maps.contains { $0.holders?.contains { $0.pid == ours.pid } == true })
        #expect(!collector.programs.contains { $0.holders?.contains { $0.pid == ours.pid } == true })
        #expect(!collector.programs.contains { $0.id == own })
    }

    /// A new map, or a new program, makes the next collection walk again, and see every change
    /// since (between walks the last one's holders stand: `aWalkAnswersUntil...`).
    @Test func holdersAreWalkedAgainWhenANewMapOrProgramAppears() async throws {
        let (first, second) = (try MapHolder(), try MapHolder())
        let prefix = uniquePrefix()
        let map = try await first.create("hash", name: prefix + "m", maxEntries: 8)
        let collector = try await Collector.loaded(
            CollectorOptions(filter: MapFilter(include: ["^" + prefix])), logger: BPFGate.quietLogger)
        let a = Holder(pid: UInt32(first.pid), comm: try first.comm)
        let b = Holder(pid: UInt32(second.pid), comm: try second.comm)
        let ours = { (holders: [Holder]?) in Self.among([a, b], holders) }
        #expect(ours(try await collector.collected().first?.holders) == [a])

        try await second.open(id: map)
        let other = try await first.create("hash", name: prefix + "n", maxEntries: 8)
        let maps = try await collector.collected()
        #expect(maps.map(\.id) == [map, other])
        #expect(ours(maps.first?.holders) == [a, b].sorted())

        try await first.close(id: map)
        let program = try await second.loadProgram(name: prefix + "p", using: [])
        #expect(ours(try await collector.collected().first?.holders) == [b])
        #expect(ours(collector.programs.first { $0.id == program }?.holders) == [b])
    }

    /// A walk answers until a newer map or program exists, or it is `maxAge` old. Other tests
    /// load programs all the time, so that "no walk" is checked here rather than on the host.
    @Test func aWalkAnswersUntilSomethingNewerExistsOrItIsTooOld() {
        let at = ContinuousClock.now
        let walk = HolderRead(holders: Holders(), at: at, newestMap: 10, newestProgram: 20)
        let maxAge = Duration.seconds(60)
        #expect(walk.covers(newestMap: 10, newestProgram: 20, at: at + .seconds(59), maxAge: maxAge))
        #expect(walk.covers(newestMap: 9, newestProgram: 3, at: at, maxAge: maxAge), "maps and programs that went away")
        #expect(!walk.covers(newestMap: 11, newestProgram: 20, at: at, maxAge: maxAge))
        #expect(!walk.covers(newestMap: 10, newestProgram: 21, at: at, maxAge: maxAge))
        #expect(!walk.covers(newestMap: 10, newestProgram: 20, at: at + .seconds(60), maxAge: maxAge))
        #expect(!walk.covers(newestMap: 10, newestProgram: 20, at: at, maxAge: .zero))
    }

    @Test func aFailingHoldersReadKeepsLastCyclesHolders() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let map = try await holder.create("hash", name: prefix + "m", maxEntries: 8)
        let log = CapturedLog()
        var options = CollectorOptions(filter: MapFilter(include: ["^" + prefix]))
        options.holdersMaxAge = .zero
        let collector = try await Collector.loaded(options, logger: log.logger)
        let held = [Holder(pid: UInt32(holder.pid), comm: try holder.comm)]
        #expect(Self.among(held, try await collector.collected().first?.holders) == held)
        collector.injectedFailures = [.holders]
        let maps = try await collector.collected()
        #expect(maps.map(\.id) == [map])
        #expect(Self.among(held, maps.first?.holders) == held)
        #expect(collector.errors[.holders] == 1)
        #expect(log.count("could not read which processes hold the maps and programs; keeping last cycle's holders") == 1)
    }
}
