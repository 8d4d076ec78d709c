import Foundation
import Testing

/// SIGHUP re-reads the config, as Prometheus does: the real binary, two real Prometheus servers.
@Suite(.requiresBPF, .timeLimit(.minutes(3)))
struct ReloadTests {
    func config(_ prefix: String, include: String, ports: [UInt16], buffer: URL) -> String {
        """
        interval: 1s
        maps:
          include: ['\(include)']
        remote_write:
        \(ports.enumerated().map { "  - {name: p\($0.offset), url: 'http://127.0.0.1:\($0.element)/api/v1/write'}" }.joined(separator: "\n"))
        buffer:
          dir: \(buffer.path)

        """
    }

    func stamps(_ prometheus: ReceiverProcess, _ id: UInt32) async throws -> [Int64] {
        try await prometheus.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first?.timestampsMs ?? []
    }

    func lastValue(_ prometheus: ReceiverProcess, _ metric: String) async throws -> String? {
        try await prometheus.samples("\(metric)[1m]").first?.values.last
    }

    static func contiguous(_ stamps: [Int64]) -> Bool {
        zip(stamps, stamps.dropFirst()).allSatisfy { $1 - $0 == 1000 }
    }

    /// Whether the daemon said its collect thread woke more than an interval late and skipped a
    /// boundary: on a starved machine (the suite beside busy loops and emulated guests) a hole
    /// that has nothing to do with reloading, and that the daemon reports.
    static func starved(_ daemon: ShipperDaemon) -> Bool {
        daemon.log.contains("msg=\"collection fell behind its interval; skipped intervals\"")
    }

    @Test func aFilterAndASecondEndpointTakeEffectWithoutAGap() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let a = try await holder.create("hash", name: prefix + "a", maxEntries: 16, fill: 3)
        let b = try await holder.create("hash", name: prefix + "b", maxEntries: 16, fill: 5)
        let first = try await ReceiverProcess.prometheus()
        let second = try await ReceiverProcess.prometheus()
        let buffer = Scratch.path("reload")
        try FileManager.default.createDirectory(at: buffer, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: buffer) }
        let file = try writeConfig(config(prefix, include: "^\(prefix)a$", ports: [first.port], buffer: buffer))
        defer { removeConfig(file) }
        let daemon = try ShipperDaemon(file: file)
        #expect(await eventually(within: 30) { ((try? await stamps(first, a).count) ?? 0) >= 3 }, "\(daemon.log)")

        // The filter widened and a second endpoint added.
        try config(prefix, include: "^\(prefix)(a|b)$", ports: [first.port, second.port], buffer: buffer)
            .write(to: file, atomically: true, encoding: .utf8)
        let reloadedAt = Int64(Date().timeIntervalSince1970 * 1000)
        kill(daemon.pid, SIGHUP)
        #expect(await eventually(within: 30) { ((try? await stamps(second, b).count) ?? 0) >= 3 }, "\(daemon.log)")
        #expect(daemon.log.contains("msg=\"config reloaded\" endpoints.count=2"), "\(daemon.log)")
        // The first endpoint has its own pace: wait for it to be past the reload too.
        #expect(await eventually(within: 30) { ((try? await stamps(first, a).last) ?? 0) > reloadedAt + 1000 }, "\(daemon.log)")

        // The first endpoint missed no interval of map a across the reload, and got b from then on.
        let before = try await stamps(first, a)
        #expect(Self.contiguous(before) || Self.starved(daemon), "gap in \(before)\n\(daemon.log)")
        #expect(before.first ?? .max < reloadedAt - 2000 && before.last ?? 0 > reloadedAt + 1000)
        let bAtFirst = try await stamps(first, b)
        #expect(!bAtFirst.isEmpty && bAtFirst.first ?? 0 >= reloadedAt - 1000, "\(bAtFirst) \(reloadedAt)")
        // The second endpoint starts at the reload: nothing from before it.
        let aAtSecond = try await stamps(second, a)
        #expect(!aAtSecond.isEmpty && aAtSecond.first ?? 0 >= reloadedAt - 1000, "\(aAtSecond) \(reloadedAt)")
        #expect(try await lastValue(first, "ebpf_map_shipper_config_last_reload_successful") == "1")

        // A broken config changes nothing but the gauge.
        try "interval: 5x\n".write(to: file, atomically: true, encoding: .utf8)
        let brokenAt = Date()
        kill(daemon.pid, SIGHUP)
        #expect(await eventually(within: 30) { (try? await lastValue(first, "ebpf_map_shipper_config_last_reload_successful")) == "0" })
        #expect(await eventually(within: 30) {
            ((try? await stamps(second, b).last) ?? 0) > Int64(brokenAt.timeIntervalSince1970 * 1000) + 2000
        })
        let after = try await stamps(first, a)
        #expect(Self.contiguous(after) || Self.starved(daemon), "gap in \(after)\n\(daemon.log)")
        let refused = daemon.log.split(separator: "\n").filter { $0.contains("config reload refused") }
        #expect(refused.count == 1, "\(daemon.log)")
        #expect(refused.first?.contains("\(file.path):1: interval: invalid duration '5x'") == true, "\(refused)")
        #expect(await daemon.terminate() == 0)
        await first.stop()
        await second.stop()
    }

    /// `programs.stats` changed by a reload: runs of a program go unreported while statistics are
    /// off, and from the reload on its runs reach Prometheus, counted exactly.
    @Test func programStatisticsTurnedOnAndSampledByReloads() async throws {
        try #require(!ProgramTests.statisticsOnByTheSysctl, "kernel.bpf_stats_enabled is 1 on this machine")
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let map = try await holder.create("hash", name: prefix + "m", maxEntries: 8)
        let program = try await holder.loadProgram(name: prefix + "p", using: [map])
        let prometheus = try await ReceiverProcess.prometheus()
        func config(stats: String) -> String {
            """
            interval: 1s
            maps: {include: ['^\(prefix)']}
            programs: {stats: \(stats)}
            remote_write: [{name: p, url: 'http://127.0.0.1:\(prometheus.port)/api/v1/write'}]
            buffer: {dir: ''}

            """
        }
        let file = try writeConfig(config(stats: "off"))
        defer { removeConfig(file) }
        let daemon = try ShipperDaemon(file: file)
        let info = "ebpf_prog_info{prog_id=\"\(program)\",prog_type=\"socket_filter\"}"
        let runs = "ebpf_prog_run_count_total{prog_id=\"\(program)\"}"
        #expect(await eventually(within: 30) { (try? await lastValue(prometheus, info)) == "1" }, "\(daemon.log)")
        try await holder.testRun(program: prefix + "p", times: 3)
        // Two more cycles after the runs: still no run count, not even 0.
        let ranAt = Date()
        #expect(await eventually(within: 30) {
            ((try? await prometheus.samples("\(info)[1m]").first?.timestampsMs.last) ?? 0) > Int64(ranAt.timeIntervalSince1970 * 1000) + 2000
        })
        #expect(try await prometheus.samples("\(runs)[10m]").isEmpty)

        try config(stats: "on").write(to: file, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        // Statistics are global: a parallel test's collector may have counted the three runs.
        #expect(await eventually(within: 30) { (try? await lastValue(prometheus, runs)) != nil }, "\(daemon.log)")
        let value = try await lastValue(prometheus, runs)
        let counted = try #require(value.flatMap { Int($0) }, "\(String(describing: value))")
        #expect((0...3).contains(counted))
        try await holder.testRun(program: prefix + "p", times: 4)
        #expect(await eventually(within: 30) { (try? await lastValue(prometheus, runs)) == "\(counted + 4)" }, "\(daemon.log)")

        // Sampled, with a window of its own: the rates arrive; the counters no longer count.
        try config(stats: "sampled, sample_window: 200ms").write(to: file, atomically: true, encoding: .utf8)
        kill(daemon.pid, SIGHUP)
        let sampled = "ebpf_prog_sampled_runs_per_second{prog_id=\"\(program)\"}"
        #expect(await eventually(within: 30) { (try? await lastValue(prometheus, sampled)) != nil }, "\(daemon.log)")
        #expect(daemon.log.contains("programs.sample_window=200ms"), "\(daemon.log)")
        #expect(await daemon.terminate() == 0)
        await prometheus.stop()
    }
}
