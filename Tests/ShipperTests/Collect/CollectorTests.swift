import Foundation
@testable import ShipperCollect
import Testing

/// Real maps, created by a separate process through libbpf, counted through both paths.
@Suite(.requiresBPF)
struct CollectorTests {
    /// (type, flags, fill, max_entries) for every countable type, plus types that have no count.
    static let specs: [(type: String, suffix: String, flags: Int, fill: Int, max: Int, keySize: Int, valueSize: Int)] = [
        ("hash", "hash", 0, 10, 64, 4, 8),
        ("hash", "noprea", 1, 7, 64, 4, 8),  // BPF_F_NO_PREALLOC
        // Large enough for the kernel to keep its count in a per-CPU counter (6.1 and later).
        ("hash", "nopbig", 1, 300, 4096, 4, 8),
        ("lru_hash", "lru", 0, 5, 32, 4, 8),
        ("percpu_hash", "pcpu", 0, 3, 16, 4, 8),
        ("lru_percpu_hash", "lrupcpu", 0, 4, 16, 4, 8),
        ("hash_of_maps", "hom", 0, 3, 8, 4, 4),
        ("lpm_trie", "lpm", 1, 6, 16, 8, 4),
        ("sockhash", "sock", 0, 2, 8, 4, 4),
        ("devmap_hash", "dev", 0, 2, 8, 4, 4),
        ("stack_trace", "stack", 0, 0, 8, 4, 64),
        ("array", "array", 0, 0, 4, 4, 8),
        ("queue", "queue", 0, 0, 4, 0, 8),
    ]

    /// The paths: each iterator program (those of kernels before 6.6 forced here), and the bpf(2)
    /// fallback.
    enum Path: String, CaseIterable, CustomTestStringConvertible {
        case kfunc, htab, list, fallback
        var testDescription: String { rawValue }
    }

    @Test("exact counts for every countable type, through every path", arguments: Path.allCases)
    func countsEveryType(path: Path) async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        var ids: [String: UInt32] = [:]
        for spec in Self.specs {
            ids[prefix + spec.suffix] = try await holder.create(
                spec.type, name: prefix + spec.suffix, keySize: spec.keySize, valueSize: spec.valueSize,
                maxEntries: spec.max, flags: spec.flags, fill: spec.fill)
        }

        var options = CollectorOptions(method: path == .fallback ? .fallback : .iterator, filter: MapFilter(include: ["^" + prefix]))
        options.firstProgram = IteratorProgram(rawValue: path.rawValue) ?? .kfunc
        let log = CapturedLog()
        let collector = try await Collector.loaded(options, logger: log.logger)
        #expect(collector.iteratorProgram == IteratorProgram(rawValue: path.rawValue))
        let maps = Dictionary(uniqueKeysWithValues: try await collector.collected().map { ($0.name, $0) })
        #expect(log.count("BPF iterator loaded without the kfunc bpf_map_sum_elem_count (Linux < 6.6): hash maps are counted by reading their hash tables in the kernel")
            == (path == .htab ? 1 : 0))
        #expect(log.count("BPF iterator loaded without the kfunc bpf_map_sum_elem_count or bpf_loop (Linux < 5.17): it lists every map, hash maps are counted with batch lookups")
            == (path == .list ? 1 : 0))

        let kernelCounted = IteratorProgram(rawValue: path.rawValue)?.countMethod ?? .batch
        let expected: [String: (UInt64?, CountMethod?)] = [
            "hash": (10, kernelCounted), "noprea": (7, kernelCounted), "nopbig": (300, kernelCounted),
            "lru": (5, kernelCounted),
            "pcpu": (3, kernelCounted), "lrupcpu": (4, kernelCounted), "hom": (3, kernelCounted),
            "lpm": (6, .walk), "sock": (2, .walk), "dev": (2, .walk), "stack": (0, .walk),
            "array": (nil, nil), "queue": (nil, nil),
        ]
        #expect(Set(maps.keys) == Set(expected.keys.map { prefix + $0 }))
        for spec in Self.specs {
            let name = prefix + spec.suffix
            let map = try #require(maps[name])
            #expect(map.id == ids[name])
            #expect(map.type.name == spec.type)
            #expect(map.entries == expected[spec.suffix]!.0, "\(name)")
            #expect(map.countMethod == expected[spec.suffix]!.1, "\(name)")
            #expect(map.maxEntries == UInt32(spec.max))
            #expect(map.keySize == UInt32(spec.keySize))
            #expect(map.valueSize == UInt32(spec.valueSize))
            // The kernel adds BPF_F_RDONLY_PROG to device maps: programs read them but never write.
            #expect(map.flags == UInt32(spec.flags) | (spec.type == "devmap_hash" ? 0x80 : 0), "\(name)")
            #expect(map.memoryBytes == (try await holder.memlock(id: map.id)), "\(name)")
            // Held by the holder process only, never pinned: the case nothing but this tool reports.
            #expect(map.pinned == [])
        }
        #expect(maps[prefix + "hash"]?.pressure == 10.0 / 64.0)
        #expect(maps[prefix + "array"]?.pressure == nil)
    }

    @Test("deleting elements lowers the count on the next collection", arguments: Path.allCases)
    func deletionLowersCount(path: Path) async throws {
        func collect(_ prefix: String) async throws -> [String: MapStats] {
            try await ShipperTests.collect(prefix, method: path == .fallback ? .fallback : .iterator,
                                     firstProgram: IteratorProgram(rawValue: path.rawValue) ?? .kfunc)
        }
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let hash = try await holder.create("hash", name: prefix + "hash", maxEntries: 64, fill: 20)
        let lru = try await holder.create("lru_hash", name: prefix + "lru", maxEntries: 64, fill: 12)
        let trie = try await holder.create("lpm_trie", name: prefix + "lpm", keySize: 8, valueSize: 4, maxEntries: 16,
                                     flags: 1, fill: 6)
        let before = try await collect(prefix)
        #expect(before[prefix + "hash"]?.entries == 20)
        #expect(before[prefix + "lru"]?.entries == 12)
        #expect(before[prefix + "lpm"]?.entries == 6)

        try await holder.delete(id: hash, count: 5)
        try await holder.delete(id: lru, count: 12)
        try await holder.delete(id: trie, count: 2)

        let after = try await collect(prefix)
        #expect(after[prefix + "hash"]?.entries == 15)
        #expect(after[prefix + "lru"]?.entries == 0)
        #expect(after[prefix + "lpm"]?.entries == 4)
    }

    /// Without the kfunc, a preallocated map is counted from its element array: rewriting a key
    /// swaps in one of the map's spare elements and retires the old one, and neither is counted.
    @Test("rewritten keys are counted once", arguments: [Path.kfunc, .htab, .list])
    func rewrittenKeysCountOnce(path: Path) async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let hash = try await holder.create("hash", name: prefix + "hash", maxEntries: 64, fill: 40)
        let pcpu = try await holder.create("percpu_hash", name: prefix + "pcpu", maxEntries: 64, fill: 30)
        try await holder.update(id: hash, count: 40)
        try await holder.update(id: pcpu, count: 30)
        try await holder.delete(id: hash, count: 3)
        let maps = try await collect(prefix, method: .iterator, firstProgram: IteratorProgram(rawValue: path.rawValue)!)
        #expect(maps[prefix + "hash"]?.entries == 37)
        #expect(maps[prefix + "pcpu"]?.entries == 30)
        #expect(maps[prefix + "hash"]?.countMethod == IteratorProgram(rawValue: path.rawValue)?.countMethod ?? .batch)
    }

    /// While another process inserts and deletes keys, every count through the hash table read is
    /// one the map really passed through, and none is left to user space. The holder also stops
    /// mid-round at set points until told to go on: the count there is exact, and the collections
    /// between them run while the holder churns.
    @Test("counts under concurrent inserts and deletes stay within what the map held", arguments: ["hash", "lru_hash"])
    func countsUnderChurn(type: String) async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create(type, name: prefix + "churn", maxEntries: 4096, fill: 1000)
        var options = CollectorOptions(method: .iterator, filter: MapFilter(include: ["^\(prefix)"]))
        options.firstProgram = .htab
        let collector = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        let stops = [MapHolder.ChurnPoint(round: 3, inserted: 100), .init(round: 40, inserted: 250), .init(round: 150, inserted: 499)]
        try await holder.churn(id: id, first: 1000, count: 500, rounds: 200, stoppingAt: stops)
        for stop in stops {
            for _ in 0..<5 {
                let map = try #require(try await collector.collected().first)
                let entries = try #require(map.entries)
                #expect((1000...1500).contains(entries), "\(entries)")
                #expect(map.countMethod == .htab)
            }
            #expect(try await holder.churnStopped(id: id) == stop)
            #expect(try await collector.collected().first?.entries == UInt64(1000 + stop.inserted), "at \(stop)")
            try await holder.churnGoOn(id: id)
        }
        #expect(try await holder.churned(id: id) == 200)
        #expect(try await collector.collected().first?.entries == 1000)
    }

    /// A ring buffer nobody reads: its bytes waiting, against its size, through every iterator
    /// program; the system-call fallback cannot read them.
    @Test("ring buffer pressure is the bytes not yet consumed", arguments: Path.allCases)
    func ringBufferPressure(path: Path) async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let ring = try await holder.create("ringbuf", name: prefix + "ring", keySize: 0, valueSize: 0, maxEntries: 4096)
        // 64 bytes and an 8-byte header per record: 56 records fit in 4,096 bytes, the 57th does not.
        #expect(try await holder.ringOutput(id: ring, size: 64) == 56)
        let maps = try await collect(
            prefix, method: path == .fallback ? .fallback : .iterator, firstProgram: IteratorProgram(rawValue: path.rawValue) ?? .kfunc)
        let map = try #require(maps[prefix + "ring"])
        let iterated = path != .fallback
        let pending: UInt64? = iterated ? 56 * 72 : nil
        let method: CountMethod? = iterated ? .ringbuf : nil
        let pressure: Double? = iterated ? 4032.0 / 4096.0 : nil
        #expect(map.maxEntries == 4096)
        #expect(map.entries == pending)
        #expect(map.countMethod == method)
        #expect(map.pressure == pressure)
    }

    /// A map the filter leaves out costs the hash table read nothing: its id goes into the walk's skip
    /// map, and leaves it once the map is gone.
    @Test func bucketWalkSkipsFilteredMaps() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let kept = try await holder.create("hash", name: prefix + "kept", maxEntries: 64, fill: 9)
        let left = try await holder.create("lru_hash", name: prefix + "left", maxEntries: 64, fill: 5)
        // Left out too, but never in the skip map: its going must not read as a failure.
        let array = try await holder.create("array", name: prefix + "leftarr", maxEntries: 4)
        var options = CollectorOptions(method: .iterator, filter: MapFilter(exclude: ["^\(prefix)left"]))
        options.firstProgram = .htab
        options.includeSelf = true  // the skip map is the shipper's own
        let log = CapturedLog()
        let collector = try await Collector.loaded(options, logger: log.logger)
        let skipMap = try #require(collector.iterator?.skipMapID)

        // The first collection finds the map the filter leaves out; from the second on, the walk
        // skips it (the skip map was read before the first one added it).
        let first = try await collector.collected()
        #expect(first.first { $0.id == kept }?.entries == 9)
        #expect(!first.contains { $0.id == left })
        #expect(first.first { $0.id == skipMap }?.entries == 0)
        let second = try await collector.collected()
        #expect(second.first { $0.id == kept }?.entries == 9)
        #expect(second.first { $0.id == skipMap }?.entries == 1)
        let counted = try await blocking {
            var counted: [UInt32: UInt64?] = [:]
            try collector.iterator?.read { counted[$0.id] = $0.kernelCount }
            return counted
        }
        #expect(counted[kept] == .some(9))
        #expect(counted[left] == .some(nil))

        try await holder.close(id: left)
        try await holder.close(id: array)
        let forgotten = try await eventually(within: 30) {
            try await collector.collected().first { $0.id == skipMap }?.entries == 0
        }
        #expect(forgotten, "the skip map still holds the map after it was freed")
        let gone = try await eventually(within: 30) {
            try await !ShipperTests.collect(prefix).values.contains { $0.id == array }
        }
        #expect(gone)
        _ = try await collector.collected()
        #expect(!log.entries.contains { $0.level >= .warning }, "\(log.entries)")
    }

    @Test func pinnedMapReportsEveryPath() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "pinned", maxEntries: 8, fill: 1)
        let directory = try Scratch.pinDirectory("pinned")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await holder.pin(id: id, at: directory + "/first")
        try await holder.pin(id: id, at: directory + "/second")

        let maps = try await collect(prefix)
        #expect(maps[prefix + "pinned"]?.pinned == [directory + "/first", directory + "/second"])
    }

    @Test func programsUsingAMapAreNamed() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let shared = try await holder.create("hash", name: prefix + "shared", maxEntries: 8)
        let own = try await holder.create("array", name: prefix + "own", maxEntries: 8)
        try await holder.loadProgram(name: prefix + "a", using: [shared])
        try await holder.loadProgram(name: prefix + "b", using: [shared, own])

        let maps = try await collect(prefix)
        #expect(maps[prefix + "shared"]?.programs == [prefix + "a", prefix + "b"])
        #expect(maps[prefix + "own"]?.programs == [prefix + "b"])
    }

    /// The kernel keeps 15 characters of a program's name; bpftool shows the full one from the
    /// program's BTF, and so does the shipper. Without BTF the kernel's 15 characters are all there is.
    @Test func longProgramNamesComeFromBTF() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let map = try await holder.create("hash", name: prefix + "m", maxEntries: 8)
        let full = prefix + "count_connections_by_port"
        try await holder.loadProgram(name: full, using: [map], btfName: full)
        try await holder.loadProgram(name: prefix + "no_btf_but_long_name", using: [map])
        let collector = try await Collector.loaded(CollectorOptions(filter: MapFilter(include: ["^" + prefix])), logger: BPFGate.quietLogger)
        for _ in 0..<2 {  // the second time from the cache
            let programs = try await collector.collected().first?.programs
            #expect(programs == [String((prefix + "no_btf_but_long_name").prefix(15)), full].sorted())
        }
    }

    @Test("a closed map is gone from the next collection", arguments: [CollectionMethod.iterator, .fallback])
    func vanishedMapIsSkipped(method: CollectionMethod) async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let options = CollectorOptions(method: method, filter: MapFilter(include: ["^" + prefix]))
        let collector = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        let doomed = try await holder.create("hash", name: prefix + "doomed", maxEntries: 8, fill: 3)
        try await holder.create("hash", name: prefix + "stays", maxEntries: 8, fill: 2)
        #expect(try await collector.collected().map(\.name).sorted() == [prefix + "doomed", prefix + "stays"])

        try await holder.close(id: doomed)

        let after = try await collector.collected()
        #expect(after.map(\.name) == [prefix + "stays"])
        #expect(after.first?.entries == 2)
    }

    @Test func walkStopsAtItsBound() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        try await holder.create("lpm_trie", name: prefix + "big", keySize: 8, valueSize: 4, maxEntries: 64, flags: 1, fill: 20)
        try await holder.create("lpm_trie", name: prefix + "small", keySize: 8, valueSize: 4, maxEntries: 64, flags: 1, fill: 10)

        let maps = try await collect(prefix, maxWalkKeys: 10)
        #expect(maps[prefix + "big"]?.entries == nil)
        #expect(maps[prefix + "big"]?.countMethod == nil)
        #expect(maps[prefix + "small"]?.entries == 10)
    }

    @Test func filtersByTypeAndName() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        try await holder.create("hash", name: prefix + "keep", maxEntries: 8)
        try await holder.create("hash", name: prefix + "drop", maxEntries: 8)
        try await holder.create("array", name: prefix + "keeparr", maxEntries: 8)
        let options = CollectorOptions(
            filter: MapFilter(include: ["^" + prefix + "keep"], exclude: ["arr$"], types: [MapType(name: "hash")!]))
        let maps = try await Collector.loaded(options, logger: BPFGate.quietLogger).collected()
        #expect(maps.map(\.name) == [prefix + "keep"])
    }

    @Test func aChildProcessLoadsTheIteratorAndItsLinkReadsHere() async throws {
        let holder = try MapHolder()
        let name = uniquePrefix() + "child"
        let id = try await holder.create("hash", name: name, maxEntries: 64, fill: 7)
        let (loadedByChild, records) = try await blocking {
            let iterator = try MapIterator()
            var records: [MapRecord] = []
            try iterator.read { records.append($0) }
            return (iterator.loadedByChild, records)
        }
        #expect(loadedByChild)
        #expect(records.filter { $0.id == id } == [
            MapRecord(id: id, type: MapType(name: "hash")!, flags: 0, maxEntries: 64, keySize: 4, valueSize: 8, kernelCount: 7, name: name)
        ])
    }

    @Test func autoPrefersTheIterator() async throws {
        let collector = try await Collector.loaded(CollectorOptions(method: .auto), logger: BPFGate.quietLogger)
        #expect(collector.activeMethod == .iterator)
    }

    /// The maps of the shipper's own iterator are left out of what it reports, and reported, with
    /// the program that uses them, when asked: an empty host shows no map.
    @Test func leavesOutItsOwnMapsUnlessAsked() async throws {
        let collector = try await Collector.loaded(CollectorOptions(), logger: BPFGate.quietLogger)
        let program = try #require(collector.iterator?.programIDs.first)
        let own = try #require(try KernelObjects.program(id: program))
        try #require(!own.mapIDs.isEmpty)
        #expect(OwnObjects.snapshot().programs.contains(program))
        #expect(Set(OwnObjects.snapshot().maps).isSuperset(of: own.mapIDs))
        #expect(try await collector.collected().filter { own.mapIDs.contains($0.id) } == [])

        var options = CollectorOptions()
        options.includeSelf = true
        let including = try await Collector.loaded(options, logger: BPFGate.quietLogger)
        let reported = try await including.collected().filter { own.mapIDs.contains($0.id) }
        #expect(reported.map(\.id).sorted() == own.mapIDs.sorted())
        #expect(reported.allSatisfy { $0.programs == ["dump_map_records"] }, "\(reported)")
    }

    /// A collector gone, its programs are no longer the shipper's own.
    @Test func aClosedIteratorIsNoLongerOwn() async throws {
        let program = try await blocking { () throws -> UInt32? in
            let iterator = try MapIterator()
            return iterator.programIDs.first
        }
        let id = try #require(program)
        #expect(!OwnObjects.snapshot().programs.contains(id))
    }
}
