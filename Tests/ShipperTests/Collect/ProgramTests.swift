import Foundation
@testable import ShipperCollect
@testable import ShipperMetrics
@testable import ShipperEncode
import Testing

/// Loaded programs, from a fixture process that loads a socket filter and runs it with
/// BPF_PROG_TEST_RUN: what the kernel says of each, and their runs, counted exactly while run-time
/// statistics are on and absent while they are off.
@Suite(.requiresBPF)
struct ProgramTests {
    /// The fixture's program, described; `statistics` is the collector's mode.
    static func program(
        _ holder: MapHolder, statistics: ProgramStatistics
    ) async throws -> (name: String, id: UInt32, map: UInt32, collector: Collector) {
        let prefix = uniquePrefix()
        let map = try await holder.create("hash", name: prefix + "m", maxEntries: 8)
        let id = try await holder.loadProgram(name: prefix + "p", using: [map])
        var options = CollectorOptions(filter: MapFilter(include: ["^" + prefix]))
        options.programStatistics = statistics
        let collector = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        return (prefix + "p", id, map, collector)
    }

    static var statisticsOnByTheSysctl: Bool {
        (try? String(contentsOfFile: "/proc/sys/kernel/bpf_stats_enabled", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) == "1"
    }

    @Test func runsAreCountedExactlyWhileStatisticsAreOn() async throws {
        let holder = try MapHolder()
        let (name, id, map, collector) = try await Self.program(holder, statistics: .on)
        #expect(collector.programStatisticsActive)
        _ = try await collector.collected()
        let before = try #require(collector.programs.first { $0.id == id })
        #expect(before.name == name)
        #expect(before.type == "socket_filter")
        #expect(before.tag.count == 16 && before.tag.allSatisfy(\.isHexDigit), "\(before.tag)")
        #expect(before.mapIDs == [map])
        #expect((before.memoryBytes ?? 0) > 0)
        #expect((before.verifiedInstructions ?? 0) > 0)
        #expect(before.recursionMisses == 0)
        #expect(before.runCount == 0)
        #expect(before.runTimeNs == 0)

        try await holder.testRun(program: name, times: 7)
        _ = try await collector.collected()
        let after = try #require(collector.programs.first { $0.id == id })
        #expect(after.runCount == 7)
        #expect((after.runTimeNs ?? 0) > 0)
        try await holder.testRun(program: name, times: 5)
        _ = try await collector.collected()
        let again = try #require(collector.programs.first { $0.id == id })
        #expect(again.runCount == 12)
        #expect((again.runTimeNs ?? 0) > (after.runTimeNs ?? 0))

        let text = TextExposition.render(MetricSet.samples(for: [again]))
        #expect(text.contains("\nebpf_prog_run_count_total{prog_id=\"\(id)\",prog_name=\"\(name)\"} 12\n"), "\(text)")
        #expect(text.contains(
            "\nebpf_prog_info{prog_id=\"\(id)\",prog_name=\"\(name)\",prog_type=\"socket_filter\",tag=\"\(again.tag)\"} 1\n"))
    }

    /// Without statistics the runs are not counted: their series are absent, not 0.
    @Test func withoutStatisticsRunTimeAndRunsAreAbsent() async throws {
        try #require(!Self.statisticsOnByTheSysctl, "kernel.bpf_stats_enabled is 1 on this machine")
        let holder = try MapHolder()
        let (name, id, _, collector) = try await Self.program(holder, statistics: .off)
        #expect(!collector.programStatisticsActive)
        try await holder.testRun(program: name, times: 3)
        _ = try await collector.collected()
        let program = try #require(collector.programs.first { $0.id == id })
        #expect(program.runCount == nil && program.runTimeNs == nil)
        let text = TextExposition.render(MetricSet.samples(for: [program]))
        #expect(!text.contains("ebpf_prog_run_count_total{"), "\(text)")
        #expect(!text.contains("ebpf_prog_run_time_seconds_total{"), "\(text)")
        #expect(text.contains("\nebpf_prog_memory_bytes{prog_id=\"\(id)\",prog_name=\"\(name)\"} \(program.memoryBytes ?? 0)\n"), "\(text)")
    }

    /// `sampled`: the runs made while the window is open, over the window's length, and nothing
    /// counted outside it. The daemon opens the window a window before each collection; a
    /// collection with none open opens it and waits it out.
    @Test func sampledRatesAreTheRunsOverTheWindow() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.loadProgram(name: prefix + "p", using: [])
        var options = CollectorOptions(filter: MapFilter(include: ["^" + prefix]))
        options.programStatistics = .sampled
        options.sampleWindow = .milliseconds(100)
        let collector = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        #expect(collector.sampleWindow == .milliseconds(100))
        #expect(!collector.programStatisticsActive || Self.statisticsOnByTheSysctl)

        try await blocking { collector.openSampleWindow() }
        try await holder.testRun(program: prefix + "p", times: 9)
        _ = try await collector.collected()
        let program = try #require(collector.programs.first { $0.id == id })
        let rates = try #require(program.sampled)
        #expect(abs(rates.runsPerSecond * rates.window.seconds - 9) < 1e-6, "\(rates)")
        #expect(rates.runTimeRatio > 0)
        if !Self.statisticsOnByTheSysctl { #expect(program.runCount == nil && program.runTimeNs == nil) }
        let text = TextExposition.render(MetricSet.samples(for: [program]))
        #expect(text.contains("\nebpf_prog_sampled_runs_per_second{prog_id=\"\(id)\",prog_name=\"\(prefix)p\"} \(rates.runsPerSecond)\n"), "\(text)")
        #expect(text.contains("\nebpf_prog_sampled_run_time_ratio{prog_id=\"\(id)\",prog_name=\"\(prefix)p\"} "), "\(text)")

        // Runs between windows are not counted; the next collection waits out a window of its own.
        try await holder.testRun(program: prefix + "p", times: 5)
        _ = try await collector.collected()
        let quiet = try #require(collector.programs.first { $0.id == id }?.sampled)
        #expect(quiet.runsPerSecond == 0 && quiet.runTimeRatio == 0)
        #expect(quiet.window >= .milliseconds(100))
    }

    /// The shipper's own iterator program is left out unless asked.
    @Test func theShippersOwnProgramIsLeftOutUnlessAsked() async throws {
        let collector = try await Collector.loaded(CollectorOptions(), logger: BPFGate.quietLogger)
        let own = try #require(collector.iterator?.programIDs.first)
        _ = try await collector.collected()
        #expect(!collector.programs.contains { $0.id == own })
        var options = CollectorOptions()
        options.includeSelf = true
        let including = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        _ = try await including.collected()
        #expect(including.programs.first { $0.id == own }?.name == "dump_map_records")
    }
}

/// Where the kernel says each program is attached: its links.
@Suite(.requiresBPF)
struct ProgramLinkTests {
    /// A cgroup_skb program linked to a cgroup's ingress: the link, its attach type and the
    /// cgroup's path, in the program's info series.
    @Test func aProgramLinkedToACgroupSaysWhere() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let (id, link, path) = try await holder.attachCgroup(name: prefix + "c", cgroup: prefix + "cgroup")
        let collector = try await Collector.loaded(CollectorOptions(), logger: BPFGate.quietLogger)
        _ = try await collector.collected()
        let program = try #require(collector.programs.first { $0.id == id })
        #expect(program.type == "cgroup_skb")
        #expect(program.links == [ProgramLink(id: link, type: "cgroup", attachType: "cgroup_inet_ingress", target: path)])
        let text = TextExposition.render(MetricSet.samples(for: [program]))
        #expect(text.contains(
            "\nebpf_prog_info{attach_target=\"\(path)\",attach_type=\"cgroup_inet_ingress\",prog_id=\"\(id)\",prog_name=\"\(prefix)c\",prog_type=\"cgroup_skb\",tag=\"\(program.tag)\"} 1\n"),
            "\(text)")
        try await holder.detachCgroup(name: prefix + "c")
        _ = try await collector.collected()
        #expect(!collector.programs.contains { $0.id == id })
    }

    /// The shipper's iterators are attached by links too, which name what they iterate.
    @Test func theIteratorsLinksNameWhatTheyIterate() async throws {
        var options = CollectorOptions()
        options.includeSelf = true
        let collector = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        _ = try await collector.collected()
        let own = try #require(collector.iterator?.programIDs.first)
        let links = try #require(collector.programs.first { $0.id == own }?.links)
        #expect(links.map { [$0.type, $0.attachType, $0.target] } == [["iter", "trace_iter", "bpf_map"]])
        let holders = try #require(collector.holderIterator?.programIDs.first)
        #expect(collector.programs.first { $0.id == holders }?.links.map(\.target) == ["task_file"])
    }
}
