import Foundation
import Logging

/// Settings of the collector; `list` options now, the config's `maps` section later.
public struct CollectorOptions: Sendable {
    public var method: CollectionMethod
    /// Upper bound on keys read per map per cycle when a map must be walked.
    public var maxWalkKeys: UInt64
    /// bpffs mount points to search for pins; nil for every bpffs in /proc/self/mounts.
    public var bpffsMounts: [String]?
    public var filter: MapFilter
    /// The iterator program to try first. Left at `.kfunc`, each kernel gets the best program it
    /// accepts; tests and `bench/collect` start further down to run older kernels' paths here.
    public var firstProgram = IteratorProgram.kfunc
    /// Whether to load the programs that count refused writes and LRU evictions.
    public var lossTracking: LossTracking = .off
    /// Whether the shipper's own maps (its iterator's, its loss counters') and programs are
    /// reported as the host's are. Off: an empty host shows no map.
    public var includeSelf = false
    /// Whether to turn the kernel's per-program run-time statistics on.
    public var programStatistics: ProgramStatistics = .off
    /// Whether to find the processes holding each map and program (a walk over every open file
    /// on the host); off only to measure what it costs (bench/holders).
    public var holders = true
    /// With `programStatistics` `.sampled`: how long statistics are on before each collection.
    public var sampleWindow: Duration = .seconds(1)
    /// How long one walk's holders are reported while no new map or program appears
    /// (`Collector.readHolders`).
    public var holdersMaxAge: Duration = .seconds(60)

    public static let defaultMaxWalkKeys: UInt64 = 1_000_000

    public init(
        method: CollectionMethod = .auto, maxWalkKeys: UInt64 = defaultMaxWalkKeys,
        bpffsMounts: [String]? = nil, filter: MapFilter = MapFilter()
    ) {
        self.method = method
        self.maxWalkKeys = maxWalkKeys
        self.bpffsMounts = bpffsMounts
        self.filter = filter
    }
}

/// Counts the elements of every eBPF map on the host and gathers their metadata.
///
/// Primary path: the BPF iterator, one read for all maps, with kernel-maintained counts for the
/// hash types (the kfunc, Linux >= 6.6), so the cost does not grow with the number of elements.
/// Without the kfunc the iterator counts them by reading their hash tables in the kernel (5.17 to 6.5),
/// or only lists every map and they are counted with batch lookups (5.8 to 5.16); see
/// `IteratorProgram`. Fallback (no iterator or no BTF, or forced): enumerate with system
/// calls and count with batch lookups or a bounded walk.
/// A map that vanishes mid-cycle is skipped; a failure on one map never fails the cycle.
///
/// Not Sendable: it owns the loaded iterator and is driven by one thread.
public final class Collector {
    let options: CollectorOptions
    private let filter: MapFilter.Compiled
    /// Internal, not private, for the tests that read its records.
    let iterator: MapIterator?
    /// The loss-tracking programs; nil when off or refused by the kernel (Collector+Losses.swift).
    let losses: LossCounters?
    /// Each map type loss tracking can count, by name, with whether it does on this kernel;
    /// empty when loss tracking is not running.
    public let lossTrackingTypes: [String: Bool]
    /// With `auto`, which types' hooks are attached as maps near capacity; nil otherwise.
    var lossArming: LossArming?
    /// When the loss counters started counting (their programs attached), in milliseconds since
    /// the epoch: the start timestamp of every map's loss counters, which were 0 then.
    public let lossCountersStartMs: Int64?
    let logger: Logger
    /// What is remembered per map id between cycles. Map ids are never reused, and a map's name,
    /// type and flags never change, so these stay true for the map's lifetime.
    struct Known {
        var id: UInt32
        /// The filter's verdict: regex matching every map every cycle would cost more than the
        /// iterator read itself.
        var selected: Bool
        /// The memory figure of a map whose memory is fixed at creation.
        var fixedMemory: UInt64? = nil
        /// Whether a walk that hit its bound was already logged.
        var warnedTruncated = false
    }
    /// Sorted by id, as both paths enumerate maps; rebuilt each cycle from the maps that still
    /// exist, so it never outgrows the host's maps. A sorted array, walked alongside the maps,
    /// costs no hashing.
    private(set) var known: [Known] = []
    /// Last cycle's `known`, kept for its storage: every cycle builds into it instead of allocating.
    private var spare: [Known] = []
    /// Map types whose walk was already announced.
    private var announcedWalkTypes: Set<MapType> = []
    /// Failures so far, by stage, for the self-metrics; each leaves out only what it concerns.
    public private(set) var errors: [CollectStage: UInt64] = [:]
    private var errorLogs: [CollectStage: LogLimit] = [:]
    private var skipLog = LogLimit()
    /// The holders iterator; nil where the kernel refused it (Collector+Holders.swift).
    let holderIterator: HolderIterator?
    /// The last holders read that worked, and when (`HolderRead`).
    var lastHolders: HolderRead?
    /// Full names of the programs whose kernel name was cut at 15 characters, by program id (ids
    /// are never reused): each is read from the program's BTF once.
    var fullNames: [UInt32: String] = [:]
    /// Every loaded program but the shipper's own, as of the last collection (the last listing
    /// that worked), in id order with full names; run time and runs only where statistics are on.
    public internal(set) var programs: [ProgramStats] = []
    /// The `BPF_ENABLE_STATS` descriptor that keeps run-time statistics on (`.on`); nil otherwise.
    let statistics: Int32?
    /// The sample windows of `.sampled`; nil otherwise.
    let sampler: ProgramSampler?
    /// Stages that fail on purpose, for the tests of what a failure leaves out.
    var injectedFailures: Set<CollectStage> = []

    /// Loads the iterator (unless the fallback is forced). Throws on missing privileges, on a
    /// bad filter, and in `iterator` mode when the iterator cannot load.
    public init(options: CollectorOptions = CollectorOptions(), logger: Logger) throws {
        self.options = options
        self.logger = logger
        self.filter = try options.filter.compiled()
        LibbpfLog.route(to: logger)
        switch options.method {
        case .fallback:
            try KernelObjects.probeAccess()
            iterator = nil
        case .iterator:
            iterator = try MapIterator(first: options.firstProgram)
        case .auto:
            do throws(BPFError) {
                iterator = try LibbpfLog.quietly { () throws(BPFError) in try MapIterator(first: options.firstProgram) }
            } catch where error.isPermission {
                throw error
            } catch {
                logger.info(
                    "BPF iterator unavailable; counting maps through bpf(2) system calls instead",
                    metadata: ["collect.method": "fallback", "error": "\(error.errno)",
                               "hint": "the iterator needs Linux >= 5.8 with BTF (/sys/kernel/btf/vmlinux)"])
                try KernelObjects.probeAccess()
                iterator = nil
            }
        }
        losses = try Self.loadLossCounters(options.lossTracking, logger: logger)
        let statuses = losses.map(Self.typeStatuses) ?? []
        lossTrackingTypes = Dictionary(uniqueKeysWithValues: statuses.map { ($0.type.name, $0.status == .tracked) })
        lossArming = options.lossTracking == .auto && losses?.canDetach == true
            ? LossArming(onlineCPUs: sysconf(Int32(_SC_NPROCESSORS_ONLN))) : nil
        lossCountersStartMs = losses == nil ? nil : Date().milliseconds
        (statistics, sampler) = Self.enableStatistics(options.programStatistics, window: options.sampleWindow, logger: logger)
        holderIterator = options.holders ? Self.loadHolders(logger: logger) : nil
        armLosses(for: [])
        switch iterator?.program {
        case .htab:
            logger.info(
                "BPF iterator loaded without the kfunc bpf_map_sum_elem_count (Linux < 6.6): hash maps are counted by reading their hash tables in the kernel",
                metadata: ["collect.method": "iterator", "count.method": "htab"])
        case .list:
            logger.info(
                "BPF iterator loaded without the kfunc bpf_map_sum_elem_count or bpf_loop (Linux < 5.17): it lists every map, hash maps are counted with batch lookups",
                metadata: ["collect.method": "iterator", "count.method": "batch"])
        case .kfunc, nil:
            break
        }
    }

    deinit {
        if let statistics { KernelObjects.close(statistics: statistics) }
    }

    /// The path in use after `auto` resolved.
    public var activeMethod: CollectionMethod { iterator == nil ? .fallback : .iterator }

    /// The iterator program the kernel took; nil on the fallback path.
    public var iteratorProgram: IteratorProgram? { iterator?.program }

    /// Whether refused writes and evictions are being counted.
    public var lossTrackingActive: Bool { losses != nil }

    /// Each type loss tracking counts here, by name, with whether its hooks are attached now.
    public var lossTrackingArmed: [String: Bool] {
        guard let losses else { return [:] }
        let armed = losses.armed
        return Dictionary(uniqueKeysWithValues: losses.tracked.map { ($0.name, armed.contains($0)) })
    }

    /// One full collection, sorted by map id.
    public func collect() throws(BPFError) -> [MapStats] {
        var stats: [MapStats] = []
        try collect(into: &stats)
        return stats
    }

    /// One full collection into `stats` (emptied first), so that a daemon reuses its storage.
    /// Throws only when the maps cannot be listed at all (or privileges are missing): one map, or
    /// the program listing, failing leaves that part out and the rest is collected.
    public func collect(into stats: inout [MapStats]) throws(BPFError) {
        stats.removeAll(keepingCapacity: true)
        spare.removeAll(keepingCapacity: true)
        var walk = KnownWalk(previous: known, next: spare)
        // walk.next alone must hold the storage, or its first append copies it.
        spare = []
        // Asked once a cycle, not remembered: a collector of a reload registers its objects after they exist.
        let own = options.includeSelf ? (programs: [], maps: []) : OwnObjects.snapshot()
        do throws(BPFError) {
            try injectFailure(.enumerate)
            if let iterator {
                try iterator.read { record throws(BPFError) in try visit(record, nil, &walk, own: own.maps, into: &stats) }
            } else {
                for id in try KernelObjects.mapIDs() {
                    let handle: MapHandle
                    let record: MapRecord
                    do throws(BPFError) {
                        guard let opened = try MapHandle(id: id) else { continue }  // vanished meanwhile
                        try injectFailure(.describe)
                        (handle, record) = (opened, try opened.describe())
                    } catch where !error.isPermission {
                        failed(.describe, error, mapID: id)
                        continue
                    }
                    try visit(record, handle, &walk, own: own.maps, into: &stats)
                }
            }
        } catch where !error.isPermission {
            stats.removeAll(keepingCapacity: true)
            failed(.enumerate, error)
            throw error
        }
        spare = known
        known = walk.next
        walk.passRest()
        for id in walk.vanishedUnselected { walkInKernel(id, skip: false) }
        try attachMetadata(to: &stats, ownPrograms: own.programs)
        armLosses(for: stats)
        attachLosses(to: &stats)
    }

    /// Counts a failure of `stage` and logs it (`message`, or the stage's own), at most once a minute
    /// per stage.
    func failed(
        _ stage: CollectStage, _ error: BPFError, mapID: UInt32? = nil, name: String? = nil, message: String? = nil
    ) {
        errors[stage, default: 0] += 1
        guard errorLogs[stage, default: LogLimit()].allows() else { return }
        var metadata: Logger.Metadata = ["collect.stage": "\(stage.rawValue)", "error": "\(error)"]
        if let mapID { metadata["map.id"] = "\(mapID)" }
        if let name { metadata["map.name"] = "\(name)" }
        logger.warning("\(message ?? stage.failureMessage)", metadata: metadata)
    }

    func injectFailure(_ stage: CollectStage) throws(BPFError) {
        // Checked per map: the empty set is not hashed into.
        if !injectedFailures.isEmpty && injectedFailures.contains(stage) { throw BPFError("\(stage.rawValue) (injected)", errno: .ioError) }
    }

    /// Last cycle's `known`, read in id order while this cycle's is built.
    private struct KnownWalk {
        let previous: [Known]
        var next: [Known]
        var position = 0
        /// Maps the filter left out that are gone since last cycle.
        var vanishedUnselected: [UInt32] = []

        /// What was known of the map last cycle; nil for a new map (or ids out of order).
        mutating func take(_ id: UInt32) -> Known? {
            pass(below: id)
            guard position < previous.count, previous[position].id == id else { return nil }
            position += 1
            return previous[position - 1]
        }

        /// Passes the rest of last cycle's maps: those not seen by now are gone.
        mutating func passRest() { pass(below: .max) }

        private mutating func pass(below id: UInt32) {
            while position < previous.count, previous[position].id < id {
                if !previous[position].selected { vanishedUnselected.append(previous[position].id) }
                position += 1
            }
        }
    }

    /// Tells the hash table read to leave a map the filter left out alone (or, once it is gone, to
    /// forget it). Failing costs only time: the map is walked.
    private func walkInKernel(_ id: UInt32, skip: Bool) {
        guard let iterator, iterator.program == .htab else { return }
        do throws(BPFError) {
            try iterator.skip(id, skip)
        } catch {
            guard skipLog.allows() else { return }
            logger.warning(
                "could not tell the hash table read about a map the filter leaves out; it is walked, which costs time but loses nothing",
                metadata: ["map.id": "\(id)", "error": "\(error)"])
        }
    }

    /// Measures a map the filter selects unless it is among `own` (the shipper's own maps).
    private func visit(
        _ record: MapRecord, _ handle: MapHandle?, _ walk: inout KnownWalk, own: [UInt32], into stats: inout [MapStats]
    ) throws(BPFError) {
        let seen = walk.take(record.id)
        var entry = seen ?? Known(id: record.id, selected: filter.matches(record))
        if seen == nil, !entry.selected, record.type.counting == .kernelCounter { walkInKernel(record.id, skip: true) }
        if entry.selected, !own.contains(record.id), let map = try measure(record, handle: handle, remembering: &entry) {
            stats.append(map)
        }
        walk.next.append(entry)
    }

    /// One run of the iterator with no counting or metadata: the floor a collection is measured
    /// against (bench/collect). Returns the number of maps.
    public func rawIteratorRead() throws(BPFError) -> Int {
        guard let iterator else { throw BPFError("read the map iterator", errno: .notSupported) }
        var count = 0
        try iterator.read { _ in count += 1 }
        return count
    }

    /// Counts one map and reads its memory. nil when the map vanished meanwhile.
    private func measure(
        _ record: MapRecord, handle existing: MapHandle?, remembering entry: inout Known
    ) throws(BPFError) -> MapStats? {
        var handle = existing
        func open() throws(BPFError) -> MapHandle? {
            if handle == nil { handle = try MapHandle(id: record.id) }
            return handle
        }
        var stats = MapStats(
            id: record.id, name: record.name, type: record.type, flags: record.flags, keySize: record.keySize,
            valueSize: record.valueSize, maxEntries: record.maxEntries, entries: nil, countMethod: nil,
            memoryBytes: nil, pinned: [], programs: [])
        do throws(BPFError) {
            try injectFailure(.count)
            switch record.type.counting {
            case .none:
                break
            case .kernelCounter where record.kernelCount != nil:
                stats.entries = record.kernelCount
                stats.countMethod = iterator?.program.countMethod
            case .kernelCounter:
                guard let map = try open() else { return nil }
                if let count = try map.countBatch(record) {
                    stats.entries = count
                    stats.countMethod = .batch
                } else {
                    try walk(record, map, into: &stats, remembering: &entry)
                }
            case .keyWalk:
                guard let map = try open() else { return nil }
                try walk(record, map, into: &stats, remembering: &entry)
            case .ringPositions:
                stats.entries = record.kernelCount
                stats.countMethod = record.kernelCount == nil ? nil : .ringbuf
            }
        } catch where !error.isPermission {
            failed(.count, error, mapID: record.id, name: record.name)
        }
        if let memory = entry.fixedMemory {
            stats.memoryBytes = memory
        } else {
            do throws(BPFError) {
                try injectFailure(.memory)
                guard let map = try open() else { return nil }
                let memory = try map.memoryBytes()
                stats.memoryBytes = memory
                if !record.type.memoryTracksEntries(flags: record.flags) { entry.fixedMemory = memory }
            } catch where !error.isPermission {
                failed(.memory, error, mapID: record.id, name: record.name)
            }
        }
        return stats
    }

    private func walk(
        _ record: MapRecord, _ map: MapHandle, into stats: inout MapStats, remembering entry: inout Known
    ) throws(BPFError) {
        if announcedWalkTypes.insert(record.type).inserted {
            logger.debug(
                "counting maps of this type by walking their keys",
                metadata: ["map.type": "\(record.type)", "walk.max_keys": "\(options.maxWalkKeys)"])
        }
        // One retry: a restart means keys were deleted under the walk, which rarely happens twice.
        for _ in 0..<2 {
            switch try map.countWalk(record, maxKeys: options.maxWalkKeys) {
            case .counted(let count):
                stats.entries = count
                stats.countMethod = .walk
                return
            case .restarted:
                continue
            case .tooManyKeys:
                if !entry.warnedTruncated {
                    entry.warnedTruncated = true
                    logger.warning(
                        "map has more keys than one walk may read; its count is not reported",
                        metadata: ["map.id": "\(record.id)", "map.name": "\(record.name)",
                                   "walk.max_keys": "\(options.maxWalkKeys)",
                                   "hint": "raise the walk bound (list --max-walk-keys)"])
                }
                return
            }
        }
        logger.debug("key walk restarted twice under concurrent deletes", metadata: ["map.id": "\(record.id)"])
    }

    /// Lists the programs (`programs`) with their holders, and adds to each map its pins, the names
    /// of the programs using it and its holders. Leaves out another shipper process's programs and
    /// maps: those only it holds, and the maps only its programs use, unpinned and used by no other.
    private func attachMetadata(to stats: inout [MapStats], ownPrograms: [UInt32]) throws(BPFError) {
        try listPrograms(leavingOut: ownPrograms)
        let holders = readHolders(newestMap: stats.last?.id ?? 0)
        let users = programUsers(leavingOut: holders?.shipperOnly.programs ?? [])
        if let holders = holders?.holders {
            for index in programs.indices { programs[index].holders = holders.programs[programs[index].id] ?? [] }
        }
        guard !stats.isEmpty else { return }
        let pins = PinScanner(mountPoints: options.bpffsMounts, logger: logger).scan()
        // Most maps have neither: the lookups are skipped rather than done 10,000 times.
        if !pins.isEmpty {
            for index in stats.indices { stats[index].pinned = pins[stats[index].id] ?? [] }
        }
        if !users.names.isEmpty {
            for index in stats.indices { stats[index].programs = users.names[stats[index].id] ?? [] }
        }
        guard let holders else { return }
        for index in stats.indices { stats[index].holders = holders.holders.maps[stats[index].id] ?? [] }
        let shipperMaps = holders.shipperOnly.maps.union(users.leftOutMaps)
        if !shipperMaps.isEmpty {
            stats.removeAll { map in
                shipperMaps.contains(map.id) && map.holders?.isEmpty != false && map.programs.isEmpty && map.pinned.isEmpty
            }
        }
    }
}

extension CollectStage {
    var failureMessage: String {
        switch self {
        case .enumerate: "could not list the maps; nothing is collected this cycle"
        case .describe: "could not describe a map; leaving it out this cycle"
        case .count: "could not count a map; reporting it without a count this cycle"
        case .memory: "could not read a map's memory; reporting it without this cycle"
        case .programs: "could not list the programs; keeping last cycle's programs and the names of those using each map"
        case .holders: "could not read which processes hold the maps and programs; keeping last cycle's holders"
        case .losses: "could not read the loss counters; reporting the maps without them this cycle"
        }
    }
}
