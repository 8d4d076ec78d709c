internal import CLibBPF
import SystemPackage

/// The loaded loss-tracking programs (fexit on the kernel functions where maps refuse writes or
/// evict), attached per map type on demand (`LossArming`), and their per-map counters. See
/// `LossTracking`.
final class LossCounters {
    private let handle: OpaquePointer
    private var records = [clibbpf_loss_record](repeating: clibbpf_loss_record(), count: 256)
    /// The map types whose losses the attached programs count, as a mask of 1 << type.
    private let trackedTypes: UInt32
    /// The same types as a set, for arming.
    let tracked: Set<MapType>
    /// The loaded programs' ids, attached or not, registered in `OwnObjects`.
    let programIDs: [UInt32]

    init() throws(BPFError) {
        var handle: OpaquePointer?
        try check(clibbpf_loss_open(&handle), "load the loss-tracking programs")
        guard let handle else { throw BPFError("load the loss-tracking programs", errno: .invalidArgument) }
        self.handle = handle
        trackedTypes = clibbpf_loss_types(handle)
        tracked = Self.types(in: trackedTypes)
        var ids = [UInt32](repeating: 0, count: 64)
        var count: UInt32 = 0
        programIDs = clibbpf_loss_prog_ids(handle, &ids, UInt32(ids.count), &count) == 0 ? Array(ids.prefix(Int(count))) : []
        OwnObjects.add(programs: programIDs)
    }

    /// Whether this kernel lets this type's losses be counted (its hooks attached at load). A mask,
    /// not a set: it is asked once per map per cycle.
    func tracks(_ type: MapType) -> Bool {
        type.rawValue < 32 && trackedTypes & (1 << type.rawValue) != 0
    }

    /// Whether a map type's losses are counted here, and if not, why.
    enum TypeStatus: Equatable {
        case tracked
        /// No hook counts this type, or (with the function) the kernel has none of its functions.
        case absent(function: String?)
        /// A hook the type needs did not attach: the function and the kernel's answer.
        case failed(function: String, errno: Errno)
    }

    func status(of type: MapType) -> TypeStatus {
        var function: UnsafePointer<CChar>?
        let result = clibbpf_loss_type_status(handle, type.rawValue, &function)
        let name = function.map { String(cString: $0) }
        switch result {
        case 0: return .tracked
        case ..<0: return .failed(function: name ?? "?", errno: Errno(rawValue: -result))
        default: return .absent(function: name)
        }
    }

    deinit {
        OwnObjects.remove(programs: programIDs)
        clibbpf_loss_close(handle)
    }

    /// Attaches the hooks of `types` and detaches every other; types not tracked are ignored.
    /// A hook that fails to attach stays detached (see `armed`).
    func arm(_ types: Set<MapType>) throws(BPFError) {
        let mask = types.reduce(UInt32(0)) { $0 | ($1.rawValue < 32 ? 1 << $1.rawValue : 0) }
        try check(clibbpf_loss_arm(handle, mask), "attach the loss-tracking programs")
    }

    /// The types in a mask of 1 << type.
    private static func types(in mask: UInt32) -> Set<MapType> {
        Set(MapType.known.filter { $0.rawValue < 32 && mask & (1 << $0.rawValue) != 0 })
    }

    /// Whether hooks can be detached and attached again (Linux >= 5.13); where not, all stay attached.
    var canDetach: Bool { clibbpf_loss_can_detach(handle) == 1 }

    /// The tracked types whose every hook is attached now.
    var armed: Set<MapType> { Self.types(in: clibbpf_loss_armed(handle)) }

    /// Every map's counters so far, by map id.
    func read() throws(BPFError) -> [UInt32: LossCounts] {
        while true {
            var count = 0
            let result = records.withUnsafeMutableBufferPointer {
                clibbpf_loss_read(handle, $0.baseAddress, $0.count, &count)
            }
            if result == -Errno.noSpace.rawValue {
                records = [clibbpf_loss_record](repeating: clibbpf_loss_record(), count: records.count * 2)
                continue
            }
            try check(result, "read the loss counters")
            var counts: [UInt32: LossCounts] = [:]
            for record in records.prefix(count) {
                counts[record.id] = LossCounts(
                    insertFailures: record.counts.insert_failures, evictions: record.counts.evictions)
            }
            return counts
        }
    }

    /// Drops the counters of a map that is gone, so that they never fill the programs' map.
    func forget(_ id: UInt32) throws(BPFError) {
        try check(clibbpf_loss_forget(handle, id), "forget the loss counters of map \(id)")
    }
}
