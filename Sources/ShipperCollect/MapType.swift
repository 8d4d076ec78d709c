/// An eBPF map type, named as bpftool names it, and what its element count means.
///
/// Kept as a raw number rather than a closed enum: a kernel newer than this table still works,
/// and its unknown types are listed without a count.
public struct MapType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// How the element count of a map type can be known.
    enum Counting: Sendable {
        /// The kernel keeps a per-CPU counter (Linux >= 6.6) that `bpf_map_sum_elem_count` sums.
        case kernelCounter
        /// No counter: the keys must be walked. The walk is bounded per map and per cycle.
        case keyWalk
        /// A ring buffer: the bytes produced and not yet consumed, which the iterator reads from its
        /// positions (max_entries is its size in bytes). None on the system-call fallback.
        case ringPositions
        /// Slots, rings or per-object storage: no count is meaningful, so none is reported.
        case none
    }

    /// The bpftool spelling, indexed by the UAPI `enum bpf_map_type` value.
    private static let table: [(name: String, counting: Counting)] = [
        ("unspec", .none),
        ("hash", .kernelCounter),
        ("array", .none),
        ("prog_array", .none),
        ("perf_event_array", .none),
        ("percpu_hash", .kernelCounter),
        ("percpu_array", .none),
        ("stack_trace", .keyWalk),
        ("cgroup_array", .none),
        ("lru_hash", .kernelCounter),
        ("lru_percpu_hash", .kernelCounter),
        ("lpm_trie", .keyWalk),
        ("array_of_maps", .none),
        ("hash_of_maps", .kernelCounter),
        ("devmap", .none),
        ("sockmap", .none),
        ("cpumap", .none),
        ("xskmap", .none),
        ("sockhash", .keyWalk),
        ("cgroup_storage", .none),
        ("reuseport_sockarray", .none),
        ("percpu_cgroup_storage", .none),
        ("queue", .none),
        ("stack", .none),
        ("sk_storage", .none),
        ("devmap_hash", .keyWalk),
        ("struct_ops", .none),
        ("ringbuf", .ringPositions),
        ("inode_storage", .none),
        ("task_storage", .none),
        ("bloom_filter", .none),
        ("user_ringbuf", .none),
        ("cgrp_storage", .none),
        ("arena", .none),
        ("insn_array", .none),
    ]

    /// Every type this build knows, in UAPI order (for `--help` and the table in docs/counting.md).
    public static let known: [MapType] = (1..<UInt32(table.count)).map(MapType.init(rawValue:))

    public init?(name: String) {
        guard let index = Self.table.firstIndex(where: { $0.name == name }), index > 0 else { return nil }
        self.init(rawValue: UInt32(index))
    }

    /// bpftool's name, or `type_<n>` for a type newer than this build.
    public var name: String {
        rawValue < Self.table.count ? Self.table[Int(rawValue)].name : "type_\(rawValue)"
    }

    public var description: String { name }

    var counting: Counting {
        rawValue < Self.table.count ? Self.table[Int(rawValue)].counting : .none
    }

    /// Whether the kernel's memory figure moves with the element count, so it is read every cycle
    /// instead of once per map. Preallocated maps reserve all their memory at creation.
    func memoryTracksEntries(flags: UInt32) -> Bool {
        switch counting {
        case .none, .ringPositions: false
        case .keyWalk: self != .stackTrace
        case .kernelCounter: flags & Self.noPreallocFlag != 0
        }
    }

    static let noPreallocFlag: UInt32 = 1  // BPF_F_NO_PREALLOC

    /// Whether an LRU map: full, it evicts instead of refusing a write.
    var isLRU: Bool { self == Self.lruHash || self == Self.lruPercpuHash }

    static let hash = MapType(rawValue: 1)
    static let lruHash = MapType(rawValue: 9)
    static let lruPercpuHash = MapType(rawValue: 10)
    static let array = MapType(rawValue: 2)
    static let stackTrace = MapType(rawValue: 7)
    static let ringbuf = MapType(rawValue: 27)
}
