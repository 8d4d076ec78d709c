import Foundation
import Testing

/// Loss tracking on every kernel of the matrix (qemu guests; these kernels let fexit programs
/// attach): maps made to lose data by Tests/Fixtures/guest_losses.c, from bpf(2) and from BPF
/// programs, and the counters the shipper reports for them, exactly what the writers saw fail:
/// scraped from `serve`, and pushed by `run` into a real VictoriaMetrics inside the guest. Where a
/// kernel will not let a type be traced (`OlderKernelTests.untracked`), its maps have no counters.
@Suite(.requiresGuestKernel, .timeLimit(.minutes(20)))
struct LossTrackingTests {
    typealias Kernel = GuestKernel.Release

    static let commands: [(name: String, command: String)] = [
        // First, alone on the host: no map but the shipper's own (its iterator's, its loss counters').
        ("alone", "ebpf-map-shipper list --format json --loss-tracking on"),
        ("alone_self", "ebpf-map-shipper list --format json --loss-tracking on --include-self"),
        ("programs", "ebpf-map-shipper list --programs --format json --loss-tracking on --include-self"),
        ("receiver", """
            sh -c 'victoria-metrics -storageDataPath=/tmp/vm -httpListenAddr=127.0.0.1:8428 -search.latencyOffset=0s -loggerLevel=ERROR >/tmp/vm.log 2>&1 & \
            n=0; while ! wget -qO- http://127.0.0.1:8428/health >/dev/null 2>&1 && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done'
            """),
        ("run", """
            sh -c 'mkdir -m 700 /tmp/buffer; ebpf-map-shipper run --config /bin/shipper.yml 2>/tmp/run.err & \
            n=0; while ! grep -q "endpoint accepts samples" /tmp/run.err && [ $n -lt 3000 ]; do sleep 0.1; n=$((n+1)); done; \
            cat /tmp/run.err'
            """),
        ("serve", """
            sh -c 'ebpf-map-shipper serve --listen 127.0.0.1:9435 --loss-tracking on --name "^l_" 2>/tmp/serve.err & \
            n=0; while ! wget -qO- http://127.0.0.1:9435/metrics >/dev/null 2>&1 && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; \
            cat /tmp/serve.err'
            """),
        ("losses", """
            sh -c 'guest_losses >/tmp/losses & echo $! >/tmp/losses.pid; \
            n=0; while ! grep -q ready /tmp/losses 2>/dev/null && [ $n -lt 3000 ]; do sleep 0.1; n=$((n+1)); done; cat /tmp/losses'
            """),
        ("scrape", "wget -qO- http://127.0.0.1:9435/metrics"),
        ("again", """
            sh -c 'kill -USR1 $(cat /tmp/losses.pid); n=0; while ! grep -q again /tmp/losses && [ $n -lt 3000 ]; do sleep 0.1; n=$((n+1)); done; \
            grep again /tmp/losses'
            """),
        ("rescrape", "wget -qO- http://127.0.0.1:9435/metrics"),
        ("export", """
            sh -c 'sleep 3; wget -qO- http://127.0.0.1:8428/internal/force_flush >/dev/null; \
            wget -qO- "http://127.0.0.1:8428/api/v1/export?match[]=ebpf_map_insert_failures_total&match[]=ebpf_map_evictions_total"'
            """),
        ("panels", """
            sh -c 'while read -r query; do wget -qO- "http://127.0.0.1:8428/api/v1/query?query=$query"; echo; done </bin/panels.txt'
            """),
        // `auto`, the default, as maps fill in service: guest_losses --gradual steps its d_ maps from
        // empty, to near full, to past capacity; `serve` collects at each scrape.
        ("auto", """
            sh -c 'ebpf-map-shipper serve --listen 127.0.0.1:9436 --name "^d_" --log-level debug 2>/tmp/auto.err & \
            guest_losses --gradual >/tmp/gradual & echo $! >/tmp/gradual.pid; \
            n=0; while ! grep -q created /tmp/gradual 2>/dev/null && [ $n -lt 3000 ]; do sleep 0.1; n=$((n+1)); done; \
            n=0; while ! wget -qO- http://127.0.0.1:9436/metrics >/dev/null 2>&1 && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done'
            """),
        ("empty", "wget -qO- http://127.0.0.1:9436/metrics"),
        // Scraped until the hash type is armed, and the ring buffer type where this kernel tracks it.
        ("filled", """
            sh -c 'kill -USR2 $(cat /tmp/gradual.pid); \
            n=0; while ! grep -q filled /tmp/gradual && [ $n -lt 3000 ]; do sleep 0.1; n=$((n+1)); done; \
            n=0; while [ $n -lt 600 ]; do wget -qO /tmp/armed http://127.0.0.1:9436/metrics; \
            grep -q "armed{map_type=.hash.} 1" /tmp/armed && { grep -q "armed{map_type=.ringbuf.} 1" /tmp/armed \
            || grep -q "type_active{map_type=.ringbuf.} 0" /tmp/armed; } && break; sleep 0.1; n=$((n+1)); done; cat /tmp/armed'
            """),
        ("overflowed", """
            sh -c 'kill -USR2 $(cat /tmp/gradual.pid); \
            n=0; while ! grep -q overflowed /tmp/gradual && [ $n -lt 3000 ]; do sleep 0.1; n=$((n+1)); done; cat /tmp/gradual'
            """),
        ("counted", "sh -c 'wget -qO- http://127.0.0.1:9436/metrics; cat /tmp/auto.err'"),
        ("fresh", "ebpf-map-shipper list --format json --name '^l_' --loss-tracking on"),
        ("off", "ebpf-map-shipper list --format json --name '^l_' --loss-tracking off"),
        // Who holds what: guest_losses, still running, holds its l_ maps and its programs.
        ("losses_pid", "cat /tmp/losses.pid"),
        ("held_programs", "ebpf-map-shipper list --programs --format json"),
        ("sampled_programs", "ebpf-map-shipper list --programs --format json --program-stats sampled"),
    ]

    /// `run`'s config: every second, the l_ maps with loss tracking, to the guest's VictoriaMetrics.
    static let config = """
        interval: 1s
        maps: {include: ['^l_'], loss_tracking: on}
        remote_write: [{name: vm, url: 'http://127.0.0.1:8428/api/v1/write'}]
        buffer: {dir: /tmp/buffer}

        """

    /// The dashboard's loss panels' queries, URL-encoded, one per line: this kernel has the data.
    static func lossPanels() throws -> [(title: String, expr: String)] {
        try Dashboard.queries().filter { Dashboard.needsLossTracking($0.expr) }
    }

    static let guests = Dictionary(uniqueKeysWithValues: Kernel.allCases.map { kernel in
        (kernel, Task {
            let panels = try lossPanels().map { $0.expr.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
            return try await GuestKernel.run(
                commands, fixtures: ["guest_losses"],
                files: ["shipper.yml": config, "panels.txt": panels.joined(separator: "\n") + "\n"],
                binaries: ["/usr/bin/victoria-metrics"], kernel: kernel)
        })
    })

    static func guest(_ kernel: Kernel) async throws -> GuestKernel.Run { try await guests[kernel]!.value }

    /// Whether this kernel lets the losses of a map of `type` be counted.
    static func tracked(_ type: String, on kernel: Kernel) -> Bool {
        !OlderKernelTests.untracked(on: kernel).contains(type)
    }

    /// What guest_losses saw: name -> (id, type, insert failures, evictions).
    struct Seen: Equatable {
        var id: Int
        var type: String
        var insertFailures: Int?
        var evictions: Int?
    }

    static func seen(_ run: GuestKernel.Run, in command: String = "losses") -> [String: Seen] {
        var maps: [String: Seen] = [:]
        for line in run[command].stdout.split(separator: "\n") where line.hasPrefix("loss ") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 6, let id = Int(fields[2]) else { continue }
            maps[fields[1]] = Seen(id: id, type: fields[3], insertFailures: Int(fields[4]), evictions: Int(fields[5]))
        }
        return maps
    }

    /// The value of a self-metric with labels `labels` in a scrape, nil if absent.
    static func selfValue(_ scrape: String, _ series: String) -> Double? {
        scrape.split(separator: "\n").first { $0.hasPrefix(series + " ") }?.split(separator: " ").last.flatMap { Double($0) }
    }

    /// The value of `metric` for map `name` in a scrape, nil if absent.
    static func value(_ scrape: String, _ metric: String, _ name: String) -> Double? {
        for line in scrape.split(separator: "\n") where line.hasPrefix(metric + "{") && line.contains("map_name=\"\(name)\"") {
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        return nil
    }

    /// Before any other shipper runs, `list` shows the guest's maps (guest_maps' g_ maps) and not
    /// its own; `--include-self` adds exactly its own: the iterator's and the loss counters' maps,
    /// each with the programs that use them.
    @Test(arguments: Kernel.allCases)
    func theShippersOwnMapsAreLeftOutUnlessAsked(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        func maps(_ command: String) throws -> [(id: Int, name: String, programs: [String])] {
            let objects = try #require(try JSONSerialization.jsonObject(with: Data(run[command].stdout.utf8)) as? [[String: Any]])
            return objects.map { ($0["id"] as? Int ?? -1, $0["name"] as? String ?? "", $0["programs"] as? [String] ?? []) }
        }
        let alone = try maps("alone")
        let withSelf = try maps("alone_self")
        #expect(alone.count == 14, "\(run["alone"].stdout)")
        #expect(alone.allSatisfy { $0.name.hasPrefix("g_") || $0.name == "inner" })
        let aloneIDs = Set(alone.map(\.id))
        #expect(Set(withSelf.map(\.id)).isSuperset(of: aloneIDs))
        let own = withSelf.filter { !aloneIDs.contains($0.id) }
        #expect(own.contains { $0.name == "shipper_losses" }, "\(run["alone_self"].stdout)")
        #expect(own.allSatisfy { !$0.programs.isEmpty }, "\(run["alone_self"].stdout)")
        let programs = Set(own.flatMap(\.programs))
        // Linux 5.10 has no bpf_loop: its iterator only lists the maps.
        #expect(programs.contains(kernel == .bullseye ? "list_map_records" : "dump_map_records"), "\(programs)")
        #expect(programs.contains("hash_update"), "\(programs)")
    }

    /// `list --programs` on every kernel: the shipper's own programs when asked, with what each
    /// kernel reports (recursion misses from 5.12, verified instructions from 5.16: absent on 5.10).
    @Test(arguments: Kernel.allCases)
    func programsAreListedWithWhatTheKernelReports(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let programs = try #require(
            try JSONSerialization.jsonObject(with: Data(run["programs"].stdout.utf8)) as? [[String: Any]], "\(run["programs"].stderr)")
        let iterator = try #require(
            programs.first { $0["name"] as? String == (kernel == .bullseye ? "list_map_records" : "dump_map_records") },
            "\(run["programs"].stdout)")
        #expect(iterator["type"] as? String == "tracing")
        #expect((iterator["memory_bytes"] as? Int ?? 0) > 0)
        #expect((iterator["map_ids"] as? [Int])?.isEmpty == false)
        #expect(iterator["run_count"] is NSNull, "statistics are off in the guest")
        #expect(iterator["recursion_misses"] is NSNull == (kernel == .bullseye))
        #expect(iterator["verified_instructions"] is NSNull == (kernel == .bullseye))
        #expect(programs.contains { $0["name"] as? String == "hash_update" && $0["type"] as? String == "tracing" })
        // The iterator program is held through its link, by the `list` that loaded it; the link
        // says what it iterates.
        #expect((iterator["holders"] as? [[String: Any]])?.map { $0["comm"] as? String } == ["ebpf-map-shippe"], "\(iterator)")
        let links = (iterator["links"] as? [[String: Any]])?.map { [$0["type"] as? String, $0["attach_type"] as? String, $0["target"] as? String] }
        #expect(links == [["iter", "trace_iter", "bpf_map"]], "\(iterator)")
    }

    /// A fixture process holding maps and programs (guest_losses) is reported with its pid and
    /// comm on every kernel, for each map and for the program using l_prog.
    @Test(arguments: Kernel.allCases)
    func holdersAreReportedWithTheirPidAndComm(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let pid = try #require(Int(run["losses_pid"].stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "\(run["losses_pid"].stdout)")
        let expected = ["guest_losses(\(pid))"]
        func holders(_ object: [String: Any]) -> [String]? {
            (object["holders"] as? [[String: Any]])?.map { "\($0["comm"] as? String ?? "")(\($0["pid"] as? Int ?? -1))" }
        }
        let maps = try #require(try JSONSerialization.jsonObject(with: Data(run["fresh"].stdout.utf8)) as? [[String: Any]])
        // Every map guest_losses reports, and the inner map of l_hom, which loses nothing.
        #expect(Set(maps.compactMap { $0["name"] as? String }) == Set(Self.seen(run).keys).union(["l_inner"]), "\(run["fresh"].stdout)")
        for map in maps { #expect(holders(map) == expected, "\(map)") }
        let programs = try #require(
            try JSONSerialization.jsonObject(with: Data(run["held_programs"].stdout.utf8)) as? [[String: Any]], "\(run["held_programs"].stderr)")
        let lProg = try #require(Self.seen(run)["l_prog"]?.id)
        let users = programs.filter { ($0["map_ids"] as? [Int])?.contains(lProg) == true }
        #expect(users.count == 1, "\(programs)")
        for program in users { #expect(holders(program) == expected, "\(program)") }
    }

    /// `--program-stats sampled` on every kernel: each program's rates over a one-second window,
    /// and no counters, since statistics were not on for the programs' lifetimes.
    @Test(arguments: Kernel.allCases)
    func sampledStatisticsGiveEveryProgramItsRates(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let programs = try #require(
            try JSONSerialization.jsonObject(with: Data(run["sampled_programs"].stdout.utf8)) as? [[String: Any]],
            "\(run["sampled_programs"].stderr)")
        #expect(programs.count == (try JSONSerialization.jsonObject(with: Data(run["held_programs"].stdout.utf8)) as? [Any])?.count)
        for program in programs {
            #expect((program["sampled_runs_per_second"] as? Double).map { $0 >= 0 } == true, "\(program)")
            #expect((program["sampled_run_time_ratio"] as? Double).map { $0 >= 0 } == true, "\(program)")
            #expect(program["run_count"] is NSNull, "\(program)")
        }
    }

    @Test(arguments: Kernel.allCases)
    func theWritersSawWhatTheTestsExpect(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let seen = Self.seen(run)
        #expect(seen["l_hash"]?.insertFailures == 10, "\(run.console)")
        #expect(seen["l_prog"]?.insertFailures == 5)
        #expect(seen["l_pcpu"]?.insertFailures == 3)
        #expect(seen["l_hom"]?.insertFailures == 1)
        #expect(seen["l_lpm"]?.insertFailures == 2)
        #expect(seen["l_queue"]?.insertFailures == 2)
        #expect(seen["l_stack"]?.insertFailures == 2)
        #expect(seen["l_ring"]?.insertFailures == 3)
        // 20 distinct keys into 8 slots; the kernel evicts in per-CPU batches, so fewer than 8 may stay.
        let evictions = try #require(seen["l_lru"]?.evictions)
        #expect((12...20).contains(evictions))
    }

    /// Every refused write and every eviction, from bpf(2) and from programs, is counted once.
    @Test(arguments: Kernel.allCases)
    func countersEqualWhatTheWritersSaw(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let seen = Self.seen(run)
        try #require(seen.count == 9, "\(run.console)")
        let scrape = run["scrape"].stdout
        for (name, map) in seen {
            guard Self.tracked(map.type, on: kernel) else {
                #expect(Self.value(scrape, "ebpf_map_insert_failures_total", name) == nil, "\(name)")
                #expect(Self.value(scrape, "ebpf_map_evictions_total", name) == nil, "\(name)")
                continue
            }
            if let failures = map.insertFailures {
                #expect(Self.value(scrape, "ebpf_map_insert_failures_total", name) == Double(failures), "\(name)")
                #expect(Self.value(scrape, "ebpf_map_evictions_total", name) == nil, "\(name)")
            }
            if let evictions = map.evictions {
                #expect(Self.value(scrape, "ebpf_map_evictions_total", name) == Double(evictions), "\(name)")
                #expect(Self.value(scrape, "ebpf_map_insert_failures_total", name) == nil, "\(name)")
            }
        }
        #expect(scrape.contains("\nebpf_map_shipper_loss_tracking_active 1\n"))
        // The ring buffer nobody reads: 56 records of 64 bytes and an 8-byte header are waiting.
        #expect(Self.value(scrape, "ebpf_map_entries", "l_ring") == 4032)
        #expect(Self.value(scrape, "ebpf_map_pressure", "l_ring") == 4032.0 / 4096.0)
        #expect(!run["serve"].stdout.contains("level=warning"), "\(run["serve"].stdout)")
    }

    /// Counters only grow: ten more refused writes add ten.
    @Test(arguments: Kernel.allCases)
    func countersGrow(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        #expect(run["again"].stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "again 20", "\(run.console)")
        #expect(Self.value(run["rescrape"].stdout, "ebpf_map_insert_failures_total", "l_hash") == 20)
        #expect(Self.value(run["rescrape"].stdout, "ebpf_map_insert_failures_total", "l_prog") == 5)
    }

    /// `run` pushed them into a real receiver as counters: every series only grows, and ends at what
    /// the writers saw (l_hash after its second round of refused writes).
    @Test(arguments: Kernel.allCases)
    func theReceiverGotCountersThatOnlyGrow(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        #expect(!run["run"].stdout.contains("level=warning"), "\(run["run"].stdout)")
        let seen = Self.seen(run)
        var last: [String: Double] = [:]
        for line in run["export"].stdout.split(separator: "\n") {
            let series = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let labels = try #require(series["metric"] as? [String: String])
            let values = try #require(series["values"] as? [Double])
            let name = try #require(labels["map_name"])
            #expect(values == values.sorted(), "\(name): \(values)")
            last[name] = values.last
        }
        let counted = seen.filter { Self.tracked($0.value.type, on: kernel) }
        #expect(Set(last.keys) == Set(counted.keys), "\(run["export"].stdout)")
        for (name, map) in counted {
            let expected = name == "l_hash" ? 20 : (map.insertFailures ?? map.evictions ?? -1)
            #expect(last[name] == Double(expected), "\(name)")
        }
    }

    /// The dashboard's loss panels return series from what `run` pushed (DashboardTests checks the
    /// other panels on this machine's kernel).
    @Test(arguments: Kernel.allCases)
    func theDashboardsLossPanelsHaveData(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let panels = try Self.lossPanels()
        let answers = run["panels"].stdout.split(separator: "\n").filter { !$0.isEmpty }
        #expect(panels.count == 2)
        try #require(answers.count == panels.count, "\(run["panels"])")
        for (panel, answer) in zip(panels, answers) {
            let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])
            let result = ((json["data"] as? [String: Any])?["result"] as? [[String: Any]]) ?? []
            let maps = Set(result.compactMap { ($0["metric"] as? [String: String])?["map_name"] })
            #expect(!maps.isEmpty, "\(panel.title): \(answer)")
            #expect(maps.isSubset(of: Set(Self.seen(run).keys)), "\(panel.title): \(maps)")
        }
    }

    /// A collector that starts later counts from then: tracked types read 0, not null; with loss
    /// tracking off, null.
    @Test(arguments: Kernel.allCases)
    func countsStartWithTheCollector(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        for (command, expected) in [("fresh", 0 as Int?), ("off", nil)] {
            let objects = try #require(
                try JSONSerialization.jsonObject(with: Data(run[command].stdout.utf8)) as? [[String: Any]], "\(run[command])")
            let maps = Dictionary(uniqueKeysWithValues: objects.map { (($0["name"] as? String) ?? "", $0) })
            // The l_ maps, and l_inner, the array in l_hom, whose losses are not tracked.
            #expect(maps.count == 10, "\(command)")
            #expect(maps["l_inner"]?["insert_failures"] is NSNull)
            #expect(maps["l_inner"]?["evictions"] is NSNull)
            for (name, map) in maps where name != "l_inner" {
                let key = name == "l_lru" ? "evictions" : "insert_failures"
                let other = name == "l_lru" ? "insert_failures" : "evictions"
                let expected = Self.tracked(map["type"] as? String ?? "", on: kernel) ? expected : nil
                #expect((map[key] as? NSNumber)?.intValue == expected, "\(command) \(name)")
                #expect(map[other] is NSNull, "\(command) \(name)")
                if expected == nil { #expect(map[key] is NSNull, "\(command) \(name)") }
            }
        }
    }

    /// With the default, `auto`: nothing armed but the eviction hook while the maps are empty; the
    /// hash and ring buffer hooks armed once their maps near capacity (said at debug); and then
    /// every refused write and eviction counted exactly. 5.10 cannot attach a detached hook again,
    /// so there every hook stays attached, as with `on`, and says so.
    @Test(arguments: Kernel.allCases)
    func autoArmsAsMapsFillAndCountsExactly(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let ringTracked = Self.tracked("ringbuf", on: kernel)
        let detaches = kernel != .bullseye
        let armed = { (scrape: String, type: String) in
            Self.selfValue(scrape, "ebpf_map_shipper_loss_tracking_armed{map_type=\"\(type)\"}")
        }
        let empty = run["empty"].stdout
        #expect(armed(empty, "hash") == (detaches ? 0 : 1), "\(run.console)")
        #expect(armed(empty, "ringbuf") == (ringTracked ? (detaches ? 0 : 1) : nil))
        #expect(armed(empty, "lru_hash") == 1)
        let filled = run["filled"].stdout
        #expect(armed(filled, "hash") == 1, "\(filled)")
        #expect(armed(filled, "ringbuf") == (ringTracked ? 1 : nil))
        #expect(armed(filled, "percpu_hash") == (detaches ? 0 : 1))

        let seen = Self.seen(run, in: "overflowed")
        #expect(seen["d_hash"]?.insertFailures == 10, "\(run["overflowed"])")
        #expect(seen["d_prog"]?.insertFailures == 5)
        #expect(seen["d_ring"]?.insertFailures == 3)
        let evictions = try #require(seen["d_lru"]?.evictions)
        let counted = run["counted"].stdout
        #expect(Self.value(counted, "ebpf_map_insert_failures_total", "d_hash") == 10, "\(counted)")
        #expect(Self.value(counted, "ebpf_map_insert_failures_total", "d_prog") == 5)
        #expect(Self.value(counted, "ebpf_map_insert_failures_total", "d_ring") == (ringTracked ? 3 : nil))
        #expect(Self.value(counted, "ebpf_map_evictions_total", "d_lru") == Double(evictions))
        let armedLines = counted.split(separator: "\n").filter { $0.contains("loss tracking armed") }
        #expect(armedLines.count == (detaches ? (ringTracked ? 2 : 1) : 0), "\(counted)")
        #expect(!detaches || armedLines.contains { $0.contains("map_type=hash") && $0.contains("map.name=d_") })
        #expect(counted.contains("loss tracking keeps every hook attached") == !detaches)
        #expect(!counted.contains("level=warning"))
    }
}
