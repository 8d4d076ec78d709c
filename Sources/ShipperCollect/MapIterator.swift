internal import CLibBPF
import Logging
import Synchronization
import SystemPackage

/// One map as the kernel describes it, before counting and metadata are added.
struct MapRecord: Sendable, Equatable {
    var id: UInt32
    var type: MapType
    var flags: UInt32
    var maxEntries: UInt32
    var keySize: UInt32
    var valueSize: UInt32
    /// The count the iterator program took in the kernel (see `IteratorProgram`); nil where it did
    /// not count the map.
    var kernelCount: UInt64?
    var name: String
}

/// The loaded BPF iterator program (`iter/bpf_map`). One `read()` runs it over every map in
/// the kernel and returns one fixed-size binary record per map.
///
/// Pointers into C stay in the few files that import CLibBPF: this one (maps, programs and the
/// bpf(2) calls), and one per other C handle.
final class MapIterator {
    private let handle: OpaquePointer
    private var buffer = IteratorBuffer()
    /// Whether a short-lived child process did the load, keeping libbpf's parse of the kernel's
    /// BTF (about 11 MB) out of this process's peak memory. False only where fork failed.
    let loadedByChild: Bool
    /// Which program the kernel took, and so how the hash family is counted.
    let program: IteratorProgram
    /// The loaded program's id (none if the kernel would not say), registered in `OwnObjects`.
    let programIDs: [UInt32]

    /// Loads the first program from `first` on that the kernel accepts.
    init(first: IteratorProgram = .kfunc) throws(BPFError) {
        var handle: OpaquePointer?
        try check(clibbpf_iterator_open(&handle, first.cValue), "load the map iterator")
        guard let handle else { throw BPFError("load the map iterator", errno: .invalidArgument) }
        self.handle = handle
        loadedByChild = clibbpf_iterator_loaded_by_child(handle) != 0
        program = IteratorProgram(clibbpf_iterator_program(handle))
        var id: UInt32 = 0
        programIDs = clibbpf_link_prog_id(clibbpf_iterator_link_fd(handle), &id) == 0 ? [id] : []
        OwnObjects.add(programs: programIDs)
    }

    deinit {
        OwnObjects.remove(programs: programIDs)
        clibbpf_iterator_close(handle)
    }

    /// The id of the hash table read's own map of skipped ids (tests); nil for the other programs.
    var skipMapID: UInt32? {
        var id: UInt32 = 0
        return clibbpf_iterator_skip_map_id(handle, &id) == 0 ? id : nil
    }

    /// Whether the hash table read leaves the map alone (`skip`) or walks it; see `IteratorProgram`.
    /// Does nothing for the other programs.
    func skip(_ id: UInt32, _ skip: Bool) throws(BPFError) {
        try check(clibbpf_iterator_skip(handle, id, skip ? 1 : 0), "\(skip ? "skip" : "walk") map \(id) in the hash table read")
    }

    /// Runs the iterator and hands each map's record to `visit`, straight from the read buffer.
    func read(_ visit: (MapRecord) throws(BPFError) -> Void) throws(BPFError) {
        try buffer.read(link: clibbpf_iterator_link_fd(handle), "read the map iterator") {
            (record: clibbpf_map_record) throws(BPFError) in try visit(MapRecord(record))
        }
    }
}

extension MapRecord {
    fileprivate init(_ record: clibbpf_map_record) {
        id = record.id
        type = MapType(rawValue: record.type)
        flags = record.flags
        maxEntries = record.max_entries
        keySize = record.key_size
        valueSize = record.value_size
        kernelCount = record.entries >= 0 ? UInt64(record.entries) : nil
        name = String(fixedCString: record.name)
    }

    fileprivate var cRecord: clibbpf_map_record {
        var record = clibbpf_map_record()
        record.id = id
        record.type = type.rawValue
        record.flags = flags
        record.max_entries = maxEntries
        record.key_size = keySize
        record.value_size = valueSize
        return record
    }
}

/// An open file descriptor for one map, held for one cycle only: holding it longer would keep
/// a map alive after its owner is gone.
final class MapHandle {
    let fd: Int32

    /// Opens the map with this id; nil when the map vanished, which is normal.
    init?(id: UInt32) throws(BPFError) {
        let fd = clibbpf_map_open(id)
        if fd == -Errno.noSuchFileOrDirectory.rawValue { return nil }
        try check(fd, "open map \(id)")
        self.fd = fd
    }

    deinit { clibbpf_close(fd) }

    func describe() throws(BPFError) -> MapRecord {
        var record = clibbpf_map_record()
        try check(clibbpf_map_describe(fd, &record), "describe map")
        return MapRecord(record)
    }

    /// The element count via BPF_MAP_LOOKUP_BATCH; nil when the type has no batch operations.
    func countBatch(_ map: MapRecord) throws(BPFError) -> UInt64? {
        var count: UInt64 = 0
        var record = map.cRecord
        let result = clibbpf_map_count_batch(fd, &record, &count)
        if result == -Errno.invalidArgument.rawValue || result == -Errno.notSupported.rawValue
            || result == -524  // ENOTSUPP, the kernel-internal "operation not supported"
        {
            return nil
        }
        try check(result, "batch-count map \(map.id)")
        return count
    }

    /// The outcome of a bounded key walk.
    enum WalkResult: Equatable {
        case counted(UInt64)
        /// More keys than the bound allows in one cycle.
        case tooManyKeys
        /// Concurrent deletes sent the walk back to the start; the count would be wrong.
        case restarted
    }

    func countWalk(_ map: MapRecord, maxKeys: UInt64) throws(BPFError) -> WalkResult {
        var count: UInt64 = 0
        var record = map.cRecord
        let result = clibbpf_map_count_walk(fd, &record, maxKeys, &count)
        switch result {
        case -Errno.argListTooLong.rawValue: return .tooManyKeys
        case -Errno.resourceTemporarilyUnavailable.rawValue: return .restarted
        default:
            try check(result, "walk the keys of map \(map.id)")
            return .counted(count)
        }
    }

    func memoryBytes() throws(BPFError) -> UInt64 {
        var bytes: UInt64 = 0
        try check(clibbpf_fd_memory(fd, &bytes), "read fdinfo of map")
        return bytes
    }
}

/// The system calls that enumerate maps and programs and resolve pins.
enum KernelObjects {
    /// Every map id, in order, through BPF_MAP_GET_NEXT_ID.
    static func mapIDs() throws(BPFError) -> [UInt32] {
        try ids(clibbpf_map_next_id, "list maps")
    }

    /// Fails with a permission error when bpf(2) enumeration is not allowed to this process.
    static func probeAccess() throws(BPFError) {
        var next: UInt32 = 0
        let result = clibbpf_map_next_id(0, &next)
        if result != -Errno.noSuchFileOrDirectory.rawValue { try check(result, "list maps") }
    }

    /// Every loaded program, in id order, as the kernel describes it: name as the kernel keeps it
    /// (at most 15 characters), run-time counters whether or not statistics are on.
    static func programs() throws(BPFError) -> [ProgramStats] {
        var programs: [ProgramStats] = []
        for id in try ids(clibbpf_prog_next_id, "list programs") {
            if let program = try program(id: id) { programs.append(program) }  // nil: unloaded meanwhile
        }
        return programs
    }

    /// One program; nil if it was unloaded meanwhile.
    static func program(id: UInt32) throws(BPFError) -> ProgramStats? {
        var capacity: UInt32 = 64  // MAX_USED_MAPS; BPF_PROG_BIND_MAP may add more
        while true {
            var record = clibbpf_prog_record()
            var mapIDs = [UInt32](repeating: 0, count: Int(capacity))
            var count: UInt32 = 0
            let result = clibbpf_prog_describe(id, &record, &mapIDs, capacity, &count)
            if result == -Errno.noSpace.rawValue {
                capacity = count
                continue
            }
            if result == -Errno.noSuchFileOrDirectory.rawValue { return nil }
            try check(result, "describe program \(id)")
            let known = record.known
            return ProgramStats(
                id: record.id, name: String(fixedCString: record.name),
                type: clibbpf_prog_type_name(record.type).map { String(cString: $0) } ?? "type_\(record.type)",
                tag: withUnsafeBytes(of: record.tag) { String(hex: $0) },
                runTimeNs: record.run_time_ns, runCount: record.run_count,
                recursionMisses: known & CLIBBPF_PROG_HAS_RECURSION_MISSES != 0 ? record.recursion_misses : nil,
                memoryBytes: known & CLIBBPF_PROG_HAS_MEMLOCK != 0 ? record.memlock : nil,
                verifiedInstructions: known & CLIBBPF_PROG_HAS_VERIFIED_INSNS != 0 ? record.verified_insns : nil,
                mapIDs: Array(mapIDs.prefix(Int(count))))
        }
    }

    /// Turns the kernel's per-program run-time statistics on until the returned descriptor is
    /// closed (`close(statistics:)`).
    static func enableStatistics() throws(BPFError) -> Int32 {
        try check(clibbpf_enable_stats(), "enable BPF run-time statistics (BPF_ENABLE_STATS)")
    }

    static func close(statistics fd: Int32) { clibbpf_close(fd) }

    /// A program's full name from its BTF, as bpftool shows it; nil if it has none (or is gone).
    static func fullProgramName(id: UInt32) -> String? {
        var name = [CChar](repeating: 0, count: 256)
        guard clibbpf_prog_full_name(id, &name, name.count) == 0 else { return nil }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The id of the map pinned at `path`; nil if the file pins a program or a link.
    static func pinnedMapID(path: String) throws(BPFError) -> UInt32? {
        var id: UInt32 = 0
        let result = clibbpf_pinned_map_id(path, &id)
        try check(result, "open pinned object \(path)")
        return result == 1 ? id : nil
    }

    /// Every BPF link, in id order: which program each attaches, and where (Linux 5.8 and later).
    static func links() throws(BPFError) -> [(program: UInt32, link: ProgramLink)] {
        var links: [(program: UInt32, link: ProgramLink)] = []
        for id in try ids(clibbpf_link_next_id, "list links") {
            var record = clibbpf_link_record()
            let result = clibbpf_link_describe(id, &record)
            if result == -Errno.noSuchFileOrDirectory.rawValue { continue }  // gone meanwhile
            try check(result, "describe link \(id)")
            let attach = record.attach_type == CLIBBPF_ATTACH_UNKNOWN
                ? nil : clibbpf_attach_type_name(record.attach_type).map { String(cString: $0) } ?? "attach_type_\(record.attach_type)"
            let target = String(fixedCString: record.target)
            links.append((record.prog_id, ProgramLink(
                id: record.id, type: clibbpf_link_type_name(record.type).map { String(cString: $0) } ?? "type_\(record.type)",
                attachType: attach, target: target.isEmpty ? nil : target)))
        }
        return links
    }

    private static func ids(
        _ next: (UInt32, UnsafeMutablePointer<UInt32>?) -> Int32, _ operation: String
    ) throws(BPFError) -> [UInt32] {
        var ids: [UInt32] = []
        var id: UInt32 = 0
        while true {
            let result = next(id, &id)
            if result == -Errno.noSuchFileOrDirectory.rawValue { return ids }
            try check(result, operation)
            ids.append(id)
        }
    }
}

/// Routes libbpf's messages into swift-log. libbpf keeps one global callback, so this is global too.
enum LibbpfLog {
    private struct Sink {
        var logger: Logger?
        /// How many `quietly` calls are running. While any is, messages are logged at debug: they
        /// are expected failures (probing the iterator in `auto` mode). A count, not a flag: one
        /// caller's end must not make another's expected failures warnings again.
        var quietCalls: Int
    }

    private static let sink = Mutex(Sink(logger: nil, quietCalls: 0))

    static func route(to logger: Logger) {
        sink.withLock { $0.logger = logger }
        clibbpf_set_log_sink { level, message in
            guard let message else { return }
            let text = String(cString: message)
            LibbpfLog.sink.withLock { sink in
                guard let logger = sink.logger else { return }
                let mapped: Logger.Level =
                    if sink.quietCalls > 0 || level >= 2 { .debug } else if level == 1 { .info } else { .warning }
                logger.log(level: mapped, "\(text)", metadata: ["source": "libbpf"])
            }
        }
    }

    /// Runs `body` with libbpf's warnings demoted to debug.
    static func quietly<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        sink.withLock { $0.quietCalls += 1 }
        defer { sink.withLock { $0.quietCalls -= 1 } }
        return try body()
    }
}

/// Maps libbpf's `0 or -errno` convention to a thrown `BPFError`; returns non-negative results.
@discardableResult
func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(BPFError) -> Int32 {
    if result < 0 { throw BPFError(operation(), errno: Errno(rawValue: -result)) }
    return result
}

extension IteratorProgram {
    fileprivate var cValue: Int32 {
        switch self {
        case .kfunc: Int32(CLIBBPF_PROGRAM_KFUNC.rawValue)
        case .htab: Int32(CLIBBPF_PROGRAM_HTAB.rawValue)
        case .list: Int32(CLIBBPF_PROGRAM_LIST.rawValue)
        }
    }

    fileprivate init(_ value: Int32) {
        self = [.kfunc, .htab, .list].first { $0.cValue == value } ?? .list
    }
}
