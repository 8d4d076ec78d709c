import Foundation
import Testing

@testable import Shipper

/// The collector on a real Linux 6.1 (Debian 12's kernel, in a qemu guest), where the kfunc the
/// iterator needs does not exist: the maps of another program, unpinned but for one, counted
/// exactly as on 6.6+. One boot for the suite; each test reads its commands' output.
@Suite(.requiresGuestKernel, .timeLimit(.minutes(20)))
struct OlderKernelTests {
    static let commands: [(name: String, command: String)] = [
        ("auto", "ebpf-map-shipper list --format json --name '^g_'"),
        ("fallback", "ebpf-map-shipper list --format json --name '^g_' --method fallback"),
        ("iterator", "ebpf-map-shipper list --format json --name '^g_' --method iterator"),
        ("prometheus", "ebpf-map-shipper list --format prometheus --name '^g_'"),
        ("kernel", "uname -r"),
    ]

    /// The one boot, shared by the suite's tests.
    static let guest = Task { try await GuestKernel.run(commands) }

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

    /// The counting path each type takes on 6.1 through the iterator (the README's type table, 6.1
    /// column); the fallback counts the hash family with batch lookups instead.
    static let method61: [String: String] = [
        "hash": "htab", "lru_hash": "htab", "percpu_hash": "htab", "lru_percpu_hash": "htab",
        "hash_of_maps": "htab", "lpm_trie": "walk", "sockhash": "walk", "devmap_hash": "walk", "stack_trace": "walk",
    ]

    static func method(_ type: String, _ command: String) -> String? {
        command == "fallback" && method61[type] == "htab" ? "batch" : method61[type]
    }

    @Test func theGuestRunsLinux61() async throws {
        let run = try await Self.guest.value
        #expect(run.status == 0, "\(run.console)")
        #expect(run["kernel"].stdout.hasPrefix("6.1."), "\(run.console)")
        #expect(Self.made(run).count == 13, "\(run.console)")
    }

    @Test(arguments: ["auto", "iterator", "fallback"])
    func everyCountableTypeIsCountedExactly(command: String) async throws {
        let run = try await Self.guest.value
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
                #expect(entry["count_method"] as? String == Self.method(map.type, command), "\(name)")
            } else {
                #expect(entry["entries"] is NSNull, "\(name)")
                #expect(entry["count_method"] is NSNull, "\(name)")
            }
            let pinned = (entry["pinned"] as? [String]) ?? []
            #expect(pinned == (name == "g_hash" ? ["/sys/fs/bpf/g_pinned"] : []), "\(name)")
        }
    }

    /// `auto` loads the hash table read by itself, says so once at info, and libbpf's complaint about
    /// the missing kfunc stays out of the log.
    @Test func autoChoosesThePlainIteratorQuietly() async throws {
        let run = try await Self.guest.value
        let log = run["auto"].stderr.split(separator: "\n").filter { !$0.isEmpty }
        #expect(log.count == 1, "\(log)")
        #expect(log.first?.contains("level=info msg=\"BPF iterator loaded without the kfunc bpf_map_sum_elem_count (Linux < 6.6): hash maps are counted by reading their hash tables in the kernel\" collect.method=iterator count.method=htab") == true, "\(log)")
        #expect(!run["auto"].stderr.contains("level=warning"))
        #expect(!run["auto"].stderr.contains("source=libbpf"))
    }

    /// The text format carries the same values as the JSON.
    @Test func theTextFormatCarriesTheSameValues() async throws {
        let run = try await Self.guest.value
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
}
