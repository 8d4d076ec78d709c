import Foundation
import Testing

/// The collector on every kernel fleets run (Debian's own 5.10, 6.1, 6.12 and 7.x, each in a qemu
/// guest): the maps of another program, unpinned but for one, counted exactly on each, by the
/// path each kernel allows. One boot per kernel for the suite; each test reads its commands' output.
@Suite(.requiresGuestKernel, .timeLimit(.minutes(20)))
struct OlderKernelTests {
    typealias Kernel = GuestKernel.Release

    static let commands: [(name: String, command: String)] = [
        ("auto", "ebpf-map-shipper list --format json --name '^g_'"),
        ("fallback", "ebpf-map-shipper list --format json --name '^g_' --method fallback"),
        ("iterator", "ebpf-map-shipper list --format json --name '^g_' --method iterator"),
        ("prometheus", "ebpf-map-shipper list --format prometheus --name '^g_'"),
        ("losses", "ebpf-map-shipper list --format prometheus --name '^g_' --loss-tracking auto"),
        ("kernel", "uname -r"),
    ]

    /// One boot per kernel, shared by the suite's tests.
    static let guests = Dictionary(uniqueKeysWithValues: Kernel.allCases.map { kernel in
        (kernel, Task { try await GuestKernel.run(commands, kernel: kernel) })
    })

    static func guest(_ kernel: Kernel) async throws -> GuestKernel.Run { try await guests[kernel]!.value }

    /// What the guest's map holder made: name -> (id, type, expected count or nil, max_entries).
    struct Made: Equatable {
        var id: Int
        var type: String
        var count: Int?
        var maxEntries: Int
    }

    static func made(_ run: GuestKernel.Run) -> [String: Made] {
        let lines = run.console.split(separator: "\n").filter { $0.hasPrefix("map g_") }
        var maps: [String: Made] = [:]
        for line in lines {
            let fields = line.split(separator: " ")
            guard fields.count == 6, let id = Int(fields[2]), let max = Int(fields[5]) else { continue }
            maps[String(fields[1])] = Made(id: id, type: String(fields[3]), count: Int(fields[4]), maxEntries: max)
        }
        return maps
    }

    func json(_ text: String) throws -> [String: [String: Any]] {
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: objects.map { (($0["name"] as? String) ?? "", $0) })
    }

    /// The counting path each type takes (docs/counting.md's type table): the hash family by the kfunc
    /// from 6.6, by reading the hash table in the kernel from 5.17 (bpf_loop), by batch lookups
    /// before that and in the fallback; the rest walked. 5.10 has no batch lookup for hash of
    /// maps, which is walked there.
    static func method(_ type: String, _ command: String, on kernel: Kernel) -> String? {
        let hashFamily = ["hash", "lru_hash", "percpu_hash", "lru_percpu_hash", "hash_of_maps"]
        if ["lpm_trie", "sockhash", "devmap_hash", "stack_trace"].contains(type) { return "walk" }
        guard hashFamily.contains(type) else { return nil }
        if type == "hash_of_maps" && kernel == .bullseye { return "walk" }
        if command == "fallback" { return "batch" }
        switch kernel {
        case .bullseye: return "batch"
        case .bookworm: return "htab"
        case .trixie, .forky: return "kfunc"
        }
    }

    @Test(arguments: Kernel.allCases)
    func theGuestRunsItsKernel(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        #expect(run.status == 0, "\(run.console)")
        #expect(run["kernel"].stdout.hasPrefix(kernel.rawValue + "."), "\(run.console)")
        #expect(Self.made(run).count == 13, "\(run.console)")
    }

    @Test(arguments: Kernel.allCases, ["auto", "iterator", "fallback"])
    func everyCountableTypeIsCountedExactly(kernel: Kernel, command: String) async throws {
        let run = try await Self.guest(kernel)
        let made = Self.made(run)
        try #require(made.count == 13, "\(run.console)")
        let listed = try json(run[command].stdout)
        #expect(run[command].status == 0, "\(run[command].stderr)")
        #expect(Set(listed.keys) == Set(made.keys))
        for (name, map) in made {
            let entry = try #require(listed[name], "\(name) missing")
            #expect((entry["id"] as? NSNumber)?.intValue == map.id)
            #expect(entry["type"] as? String == map.type)
            #expect((entry["max_entries"] as? NSNumber)?.intValue == map.maxEntries)
            if let count = map.count {
                #expect((entry["entries"] as? NSNumber)?.intValue == count, "\(name)")
                #expect(entry["count_method"] as? String == Self.method(map.type, command, on: kernel), "\(name)")
            } else {
                #expect(entry["entries"] is NSNull, "\(name)")
                #expect(entry["count_method"] is NSNull, "\(name)")
            }
            let pinned = (entry["pinned"] as? [String]) ?? []
            #expect(pinned == (name == "g_hash" ? ["/sys/fs/bpf/g_pinned"] : []), "\(name)")
        }
    }

    /// What `auto` says of the path it took, at info, once: nothing where the kfunc is there; and
    /// libbpf's complaint about a missing kfunc or helper stays out of the log.
    static func autoLine(_ kernel: Kernel) -> String? {
        switch kernel {
        case .bullseye:
            "level=info msg=\"BPF iterator loaded without the kfunc bpf_map_sum_elem_count or bpf_loop (Linux < 5.17): it lists every map, hash maps are counted with batch lookups\" collect.method=iterator count.method=batch"
        case .bookworm:
            "level=info msg=\"BPF iterator loaded without the kfunc bpf_map_sum_elem_count (Linux < 6.6): hash maps are counted by reading their hash tables in the kernel\" collect.method=iterator count.method=htab"
        case .trixie, .forky: nil
        }
    }

    @Test(arguments: Kernel.allCases)
    func autoChoosesItsPathQuietly(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let log = run["auto"].stderr.split(separator: "\n").filter { !$0.isEmpty }
        if let expected = Self.autoLine(kernel) {
            #expect(log.count == 1 && log.first?.contains(expected) == true, "\(log)")
        } else {
            #expect(log.isEmpty, "\(log)")
        }
        #expect(!run["auto"].stderr.contains("level=warning"))
        #expect(!run["auto"].stderr.contains("source=libbpf"))
    }

    /// The text format carries the same values as the JSON.
    @Test(arguments: Kernel.allCases)
    func theTextFormatCarriesTheSameValues(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let lines = Set(run["prometheus"].stdout.split(separator: "\n").map(String.init))
        let made = Self.made(run)
        try #require(made.count == 13, "\(run.console)")
        for (name, map) in made {
            let labels = "map_id=\"\(map.id)\",map_name=\"\(name)\",map_type=\"\(map.type)\""
            #expect(lines.contains("ebpf_map_max_entries{\(labels)} \(map.maxEntries)"), "\(name)")
            if let count = map.count {
                #expect(lines.contains("ebpf_map_entries{\(labels)} \(count)"), "\(name)")
            } else {
                #expect(!lines.contains { $0.hasPrefix("ebpf_map_entries{\(labels)}") }, "\(name)")
            }
        }
    }
    /// The map types whose loss hooks a kernel refuses: on 7.x trie_update_elem,
    /// queue_stack_map_push_elem and the bpf_ringbuf_* helpers are not in
    /// available_filter_functions, so their fexit programs cannot attach (EBUSY).
    static func untracked(on kernel: Kernel) -> Set<String> {
        kernel == .forky ? ["lpm_trie", "queue", "ringbuf", "stack"] : []
    }

    /// Loss tracking says, per type, what it counts on each kernel: a gauge per type, one info
    /// line naming each type it cannot count and why, and no loss counter at all (never 0) on
    /// maps of such a type.
    @Test(arguments: Kernel.allCases)
    func lossTrackingSaysPerTypeWhatItCounts(kernel: Kernel) async throws {
        let run = try await Self.guest(kernel)
        let losses = run["losses"]
        #expect(losses.status == 0, "\(losses.stderr)")
        let lines = Set(losses.stdout.split(separator: "\n").map(String.init))
        let untracked = Self.untracked(on: kernel)
        for type in ["hash", "hash_of_maps", "lpm_trie", "lru_hash", "lru_percpu_hash", "percpu_hash", "queue", "ringbuf", "stack"] {
            let value = untracked.contains(type) ? 0 : 1
            #expect(lines.contains("ebpf_map_shipper_loss_tracking_type_active{map_type=\"\(type)\"} \(value)"), "\(type): \(losses.stdout)")
        }
        let said = losses.stderr.split(separator: "\n").filter { $0.contains("loss tracking does not count these map types") }
        #expect(said.count == (untracked.isEmpty ? 0 : 1), "\(losses.stderr)")
        for type in untracked { #expect(said.first?.contains("\(type) (") == true, "\(type): \(said)") }
        let made = Self.made(run)
        let lpm = try #require(made["g_lpm"])
        let hash = try #require(made["g_hash"])
        let failures = { (name: String, map: Made) in
            "ebpf_map_insert_failures_total{map_id=\"\(map.id)\",map_name=\"\(name)\",map_type=\"\(map.type)\"} 0"
        }
        #expect(lines.contains(failures("g_hash", hash)))
        #expect(lines.contains(failures("g_lpm", lpm)) == !untracked.contains("lpm_trie"), "\(losses.stdout)")
    }
}
