import Foundation
import Testing

@testable import ShipperMetrics

/// The real binary against real maps held by another process.
@Suite(.requiresBPF)
struct ListCommandTests {
    @Test func jsonHasExactlyTheDocumentedKeysAndValues() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let hash = try await holder.create("hash", name: prefix + "hash", maxEntries: 8, flags: 1, fill: 3)
        let array = try await holder.create("array", name: prefix + "array", valueSize: 16, maxEntries: 4)
        try await holder.loadProgram(name: prefix + "prog", using: [hash])

        let result = try await ShipperBinary.run(["list", "--format", "json", "--name", "^" + prefix])
        #expect(result.status == 0, "\(result.stderr)")

        let objects = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(objects.count == 2)
        let keys: Set = [
            "id", "name", "type", "key_size", "value_size", "max_entries", "flags", "entries", "count_method",
            "memory_bytes", "insert_failures", "evictions", "pinned", "programs", "holders",
        ]
        for object in objects { #expect(Set(object.keys) == keys) }
        let byName = Dictionary(uniqueKeysWithValues: objects.map { ($0["name"] as! String, $0) })

        let h = try #require(byName[prefix + "hash"])
        #expect(h["id"] as? Int == Int(hash))
        #expect(h["type"] as? String == "hash")
        #expect(h["key_size"] as? Int == 4)
        #expect(h["value_size"] as? Int == 8)
        #expect(h["max_entries"] as? Int == 8)
        #expect(h["flags"] as? Int == 1)
        #expect(h["entries"] as? Int == 3)
        #expect(h["count_method"] as? String == "kfunc")
        #expect(h["memory_bytes"] as? UInt64 == (try await holder.memlock(id: hash)))
        #expect(h["pinned"] as? [String] == [])
        #expect(h["programs"] as? [String] == [prefix + "prog"])
        let holders = h["holders"] as? [[String: Any]]
        #expect(holders?.count == 1)
        #expect(holders?.first?["pid"] as? Int == Int(holder.pid))
        #expect(holders?.first?["comm"] as? String == (try holder.comm))

        let a = try #require(byName[prefix + "array"])
        #expect(a["id"] as? Int == Int(array))
        #expect(a["type"] as? String == "array")
        #expect(a["value_size"] as? Int == 16)
        #expect(a["entries"] is NSNull)
        #expect(a["count_method"] is NSNull)
        #expect(a["memory_bytes"] as? UInt64 == (try await holder.memlock(id: array)))
        #expect(a["programs"] as? [String] == [])
    }

    /// `list --programs`: every program with the documented keys; run time and runs null while
    /// statistics are off; the table names it.
    @Test func programsAreListedInEveryFormat() async throws {
        try #require(!ProgramTests.statisticsOnByTheSysctl, "kernel.bpf_stats_enabled is 1 on this machine")
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let map = try await holder.create("hash", name: prefix + "m", maxEntries: 8)
        let id = try await holder.loadProgram(name: prefix + "prog", using: [map])

        let json = try await ShipperBinary.run(["list", "--programs", "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let program = try #require(objects.first { $0["id"] as? Int == Int(id) })
        #expect(Set(program.keys) == [
            "id", "name", "type", "tag", "run_time_ns", "run_count", "sampled_run_time_ratio", "sampled_runs_per_second",
            "recursion_misses", "memory_bytes", "verified_instructions", "map_ids", "links", "holders",
        ])
        #expect((program["links"] as? [Any])?.isEmpty == true, "a socket filter loaded and not attached")
        #expect(program["sampled_run_time_ratio"] is NSNull && program["sampled_runs_per_second"] is NSNull)
        #expect(program["name"] as? String == prefix + "prog")
        #expect(program["type"] as? String == "socket_filter")
        #expect(program["run_time_ns"] is NSNull && program["run_count"] is NSNull)
        #expect(program["map_ids"] as? [Int] == [Int(map)])
        let comm = try holder.comm
        #expect((program["holders"] as? [[String: Any]])?.map { "\($0["comm"] ?? "")(\($0["pid"] ?? ""))" } == ["\(comm)(\(holder.pid))"])
        let tag = try #require(program["tag"] as? String)

        let table = try await ShipperBinary.run(["list", "--programs"])
        let rows = table.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(rows.first == ["ID", "TYPE", "NAME", "TAG", "RUN", "TIME", "RUNS", "AVG", "MEMORY", "VERIFIED", "MAPS", "ATTACHED", "HOLDERS"])
        let row = try #require(rows.first { $0.first == "\(id)" }, "\(table.stdout)")
        #expect(row == [
            "\(id)", "socket_filter", prefix + "prog", tag, "-", "-", "-", row[7],
            "\(program["verified_instructions"] as? Int ?? -1)", "\(map)", "-", "\(comm)(\(holder.pid))",
        ])

        let text = try await ShipperBinary.run(["list", "--programs", "--format", "prometheus"])
        #expect(text.stdout.contains(
            "ebpf_prog_info{prog_id=\"\(id)\",prog_name=\"\(prefix)prog\",prog_type=\"socket_filter\",tag=\"\(tag)\"} 1\n"))
        #expect(!text.stdout.contains("ebpf_prog_run_count_total{prog_id=\"\(id)\""))
        // Sampled: the rates over one window, in which nothing ran it.
        let sampled = try await ShipperBinary.run(["list", "--programs", "--format", "json", "--program-stats", "sampled"])
        let rates = try #require(
            (try JSONSerialization.jsonObject(with: Data(sampled.stdout.utf8)) as? [[String: Any]])?.first { $0["id"] as? Int == Int(id) },
            "\(sampled.stderr)")
        #expect(rates["sampled_runs_per_second"] as? Double == 0 && rates["sampled_run_time_ratio"] as? Double == 0, "\(rates)")
        let sampledTable = try await ShipperBinary.run(["list", "--programs", "--program-stats", "sampled"])
        let sampledRow = sampledTable.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.first { $0.first == "\(id)" }
        #expect(sampledRow?[4...6] == ["0ns/s", "0.0/s", "-"], "\(sampledTable.stdout)")
        #expect(text.stdout.contains("ebpf_prog_holder_info{comm=\"\(comm)\",pid=\"\(holder.pid)\",prog_id=\"\(id)\"} 1\n"))
    }

    /// Another shipper on the host (a daemon beside this `list`) is the shipper too: what only it
    /// holds, and the maps only its programs use, are left out, and reported when asked.
    @Test func anotherShipperProcesssMapsAndProgramsAreLeftOutUnlessAsked() async throws {
        let port = Network.freePort()
        let daemon = try ShipperDaemon(command: ["serve", "--listen", "127.0.0.1:\(port)"])
        #expect(await eventually(within: 30) { await Network.get("http://127.0.0.1:\(port)/metrics") != nil }, "\(daemon.log)")
        func objects(_ arguments: [String]) async throws -> [[String: Any]] {
            let result = try await ShipperBinary.run(["list", "--format", "json"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        }
        func heldByTheDaemon(_ object: [String: Any]) -> Bool {
            (object["holders"] as? [[String: Any]])?.contains { $0["pid"] as? Int == Int(daemon.pid) } == true
        }
        let programs = try await objects(["--programs"])
        #expect(!programs.contains(where: heldByTheDaemon), "\(programs)")
        let asked = try await objects(["--programs", "--include-self"]).filter(heldByTheDaemon)
        #expect(Set(asked.compactMap { $0["name"] as? String }) == ["dump_map_records", "dump_holders"], "\(asked)")
        let daemonsMaps = Set(asked.flatMap { $0["map_ids"] as? [Int] ?? [] })
        #expect(!daemonsMaps.isEmpty)
        let maps = Set(try await objects([]).compactMap { $0["id"] as? Int })
        #expect(maps.isDisjoint(with: daemonsMaps))
        let mapsAsked = Set(try await objects(["--include-self"]).compactMap { $0["id"] as? Int })
        #expect(mapsAsked.isSuperset(of: daemonsMaps))
        #expect(await daemon.terminate() == 0)
    }

    @Test func prometheusFormatIsTheMetricSet() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("lru_hash", name: prefix + "lru", maxEntries: 8, fill: 2)
        let memory = try await holder.memlock(id: id)

        let result = try await ShipperBinary.run(["list", "--format", "prometheus", "--name", "^" + prefix])
        #expect(result.status == 0, "\(result.stderr)")
        let labels = "map_id=\"\(id)\",map_name=\"\(prefix)lru\",map_type=\"lru_hash\""
        let (maps, own) = splitSelfMetrics(result.stdout)
        #expect(
            maps == """
                # HELP ebpf_map_entries Elements in the eBPF map; only for map types that hold a meaningful count.
                # TYPE ebpf_map_entries gauge
                ebpf_map_entries{\(labels)} 2
                # HELP ebpf_map_max_entries Configured capacity (max_entries) of the eBPF map.
                # TYPE ebpf_map_max_entries gauge
                ebpf_map_max_entries{\(labels)} 8
                # HELP ebpf_map_pressure ebpf_map_entries / ebpf_map_max_entries; at 1 further inserts into the map fail.
                # TYPE ebpf_map_pressure gauge
                ebpf_map_pressure{\(labels)} 0.25
                # HELP ebpf_map_memory_bytes Memory the kernel accounts to the eBPF map (fdinfo memlock).
                # TYPE ebpf_map_memory_bytes gauge
                ebpf_map_memory_bytes{\(labels)} \(memory)
                # HELP ebpf_map_info Constant 1; labels describe the map: sizes, flags, bpffs pins and the programs using it.
                # TYPE ebpf_map_info gauge
                ebpf_map_info{flags="0x0",key_size="4",\(labels),value_size="8"} 1
                # HELP ebpf_map_holder_info Constant 1 for each process holding a file descriptor of the map: its pid and comm.
                # TYPE ebpf_map_holder_info gauge
                ebpf_map_holder_info{comm="\(try holder.comm)",map_id="\(id)",pid="\(holder.pid)"} 1

                """)
        // The shipper's own metrics follow: collection failures by stage, the collection just timed,
        // whether losses are counted (off here), and the build.
        let lines = own.split(separator: "\n")
        #expect(lines.count == 18)
        #expect(lines[2...8] == ["enumerate", "describe", "count", "memory", "programs", "holders", "losses"].map {
            "ebpf_map_shipper_collect_errors_total{stage=\"\($0)\"} 0"
        }[...])
        #expect(lines[9] == "# HELP ebpf_map_shipper_collect_duration_seconds Wall time of the last collection of every map.")
        let seconds = try #require(Double(lines[11].split(separator: " ").last ?? ""))
        #expect(seconds > 0 && seconds < 5)
        #expect(lines[14] == "ebpf_map_shipper_loss_tracking_active 0")
        #expect(lines[17] == "ebpf_map_shipper_build_info{version=\"\(ShipperVersion.current)\"} 1")
    }

    /// The exposition split where the shipper's own metrics start.
    private func splitSelfMetrics(_ text: String) -> (maps: String, own: String) {
        guard let start = text.range(of: "# HELP ebpf_map_shipper_") else { return (text, "") }
        return (String(text[..<start.lowerBound]), String(text[start.lowerBound...]))
    }

    @Test func tableListsTheMostPressuredFirst() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        try await holder.create("hash", name: prefix + "calm", maxEntries: 8, fill: 1)
        try await holder.create("hash", name: prefix + "full", maxEntries: 8, fill: 8)
        try await holder.create("array", name: prefix + "arr", maxEntries: 8)

        let result = try await ShipperBinary.run(["list", "--name", "^" + prefix])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = result.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        #expect(rows.map { $0[2] } == ["NAME", "\(prefix)full", "\(prefix)calm", "\(prefix)arr"])
        #expect(rows.map { $0[5] } == ["PRESSURE", "100.0%", "12.5%", "-"])
    }

    @Test func withoutPrivilegesItSaysWhatIsMissingInOneLine() async throws {
        // Root with an empty capability bounding set: uid 0, but no CAP_BPF, CAP_PERFMON or CAP_SYS_ADMIN.
        let result = try await ShipperBinary.run(
            ["list"], prefix: ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs"])
        #expect(result.status == 1)
        #expect(result.stdout == "")
        #expect(
            result.stderr == "ebpf-map-shipper: error: cannot load the map iterator: reading eBPF maps needs root, "
                + "or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN: run it with sudo, or grant them with "
                + "`setcap cap_bpf,cap_perfmon,cap_sys_admin+ep <binary>`\n")
    }
}

@Suite(.requiresBPF)
struct LogFormatTests {
    @Test func jsonLogsAreOneObjectPerLine() async throws {
        let receiver = try FakeReceiver(script: [.status(503)])
        // Loss tracking off: on this host its info line would be one more.
        let result = try await ShipperBinary.once(config: """
            maps: {include: ['^never-matches$'], loss_tracking: off}
            remote_write: [{name: fake, url: '\(receiver.url)', queue: {min_backoff: 10ms, max_backoff: 20ms}}]
            """, ["--log-format", "json"])
        #expect(result.status == 0)
        let lines = result.stderr.split(separator: "\n")
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(objects.count == lines.count && lines.count == 2, "\(result.stderr)")
        #expect(objects.map { $0["msg"] } == ["send failed; retrying", "endpoint accepted the batch after retries"])
        #expect(objects.map { $0["level"] } == ["warning", "info"])
        #expect(objects.first?["http.status"] == "503")
        #expect(objects.allSatisfy { $0["endpoint.name"] == "fake" && $0["ts"]?.hasSuffix("Z") == true })
    }
}

/// Argument errors need no privileges.
struct ListArgumentTests {
    /// A value that starts with '-' is a value (refused with its reason), not a missing one; a
    /// --bpffs that is not a bpffs is an error, not an empty answer.
    @Test func argumentsSayWhatIsWrongWithThem() async throws {
        let timeout = try await ShipperBinary.run(["once", "--timeout", "-5s"])
        #expect(timeout.status == 64)
        #expect(timeout.stderr.hasPrefix("Error: invalid --timeout '-5s'; expected a duration from 100ms to 1h, such as 30s or 2m\n"))
        let keys = try await ShipperBinary.run(["list", "--max-walk-keys", "-1"])
        #expect(keys.status == 64)
        #expect(keys.stderr.hasPrefix("Error: The value '-1' is invalid for '--max-walk-keys <max-walk-keys>'"))
        let missing = try await ShipperBinary.run(["list", "--bpffs", "/nonexistent"])
        #expect(missing.status == 64 && missing.stdout.isEmpty)
        #expect(missing.stderr.hasPrefix("Error: --bpffs /nonexistent: no such directory\n"))
        let notBPFFS = try await ShipperBinary.run(["list", "--bpffs", "/proc"])
        #expect(notBPFFS.status == 64)
        #expect(notBPFFS.stderr.hasPrefix("Error: --bpffs /proc: not on a bpffs (mount one with: mount -t bpf bpf /proc)\n"))
    }

    @Test func unknownTypeNamesTheValidOnes() async throws {
        let result = try await ShipperBinary.run(["list", "--type", "hashh"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("unknown map type 'hashh'; expected one of: hash, array, prog_array"))
    }

    @Test func badRegexIsRejectedBeforeTouchingTheKernel() async throws {
        let result = try await ShipperBinary.run(["list", "--name", "("])
        #expect(result.status == 64)
        #expect(result.stderr.contains("invalid --name regex '('"))
    }
}
