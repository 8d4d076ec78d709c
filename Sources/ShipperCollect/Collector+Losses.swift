import Logging
import SystemPackage

/// Loss tracking: loading its programs as `maps.loss_tracking` asks, and adding their counters to
/// each collection.
extension Collector {
    /// The programs, or nil when off or, with `auto`, refused (said once, at info). `on` throws.
    static func loadLossCounters(_ mode: LossTracking, logger: Logger) throws(BPFError) -> LossCounters? {
        guard mode != .off else { return nil }
        do throws(BPFError) {
            let counters = try LibbpfLog.quietly { () throws(BPFError) in try LossCounters() }
            sayUntracked(counters, logger: logger)
            if mode == .auto && !counters.canDetach {
                logger.info(
                    "loss tracking keeps every hook attached, as with on: this kernel cannot attach a tracing program again once it is detached (Linux < 5.13)")
            }
            return counters
        } catch where mode == .on {
            throw BPFError(
                "load the loss-tracking programs", errno: error.errno,
                message: "cannot start loss tracking (it is on): \(unavailable(error.errno)); "
                    + "set loss tracking to auto to count where the kernel allows, or off")
        } catch {
            logger.info(
                "loss tracking unavailable: \(unavailable(error.errno)); refused writes and evictions are not counted",
                metadata: ["error": "\(error.errno)"])
            return nil
        }
    }

    /// Each map type loss tracking can count, with whether this kernel lets it.
    static func typeStatuses(_ counters: LossCounters) -> [(type: MapType, status: LossCounters.TypeStatus)] {
        MapType.known.map { ($0, counters.status(of: $0)) }.filter { $0.status != .absent(function: nil) }
    }

    /// One info line naming each type that is not counted on this kernel, and why: a partial
    /// loss tracking is never silent.
    private static func sayUntracked(_ counters: LossCounters, logger: Logger) {
        let reasons = typeStatuses(counters).compactMap { type, status -> String? in
            switch status {
            case .tracked, .absent(function: nil): nil
            case .absent(let function?): "\(type.name) (the kernel has no \(function))"
            case .failed(let function, .resourceBusy):
                "\(type.name) (\(function) cannot be traced on this kernel: EBUSY, it is built without ftrace since Linux 6.14)"
            case .failed(let function, let errno): "\(type.name) (attaching to \(function) failed: \(errno))"
            }
        }
        guard !reasons.isEmpty else { return }
        logger.info(
            "loss tracking does not count these map types on this kernel; their loss counters are absent",
            metadata: ["loss.untracked": "\(reasons.joined(separator: ", "))"])
    }

    /// Why the loss-tracking programs did not load, for an operator. The iterator or bpf(2) already
    /// worked by then, so a permission error is the kernel refusing tracing programs, not privileges.
    private static func unavailable(_ errno: Errno) -> String {
        switch errno {
        case .notPermitted, .permissionDenied:
            "the kernel refuses fexit (tracing) programs (lockdown, or a kernel built or configured without them)"
        case .noSuchFileOrDirectory:
            "the kernel has no BTF, or none of the functions the programs attach to"
        default:
            "loading its fexit programs failed: \(errno)"
        }
    }

    /// Attaches the hooks this collection calls for and detaches the rest: with `on` every tracked
    /// type's, with `auto` those `LossArming` picks and the eviction hook. A hook that fails to
    /// attach is tried again next cycle.
    func armLosses(for stats: [MapStats]) {
        guard let losses else { return }
        var wanted = losses.tracked
        if let arming = lossArming?.update(stats, tracked: losses.tracks) {
            wanted = arming.types.union(losses.tracked.filter(LossArming.alwaysArmed))
            for change in arming.changes { logArming(change) }
        }
        guard wanted != losses.armed else { return }
        do throws(BPFError) {
            try losses.arm(wanted)
        } catch {
            failed(
                .losses, error,
                message: "could not attach a loss-tracking hook; it is tried again each collection, and what it would count is not counted meanwhile")
        }
    }

    private func logArming(_ change: LossArming.Change) {
        switch change {
        case let .armed(type, mapID, name, entries, maxEntries):
            logger.debug(
                "loss tracking armed: a map of this type is near capacity, or its fill is unknown",
                metadata: ["map_type": "\(type.name)", "map.id": "\(mapID)", "map.name": "\(name)",
                           "map.entries": "\(entries.map(String.init) ?? "unknown")", "map.max_entries": "\(maxEntries)"])
        case let .disarmed(type):
            logger.debug(
                "loss tracking disarmed: every map of this type stayed well below capacity",
                metadata: ["map_type": "\(type.name)", "collections": "\(LossArming.holdCollections)"])
        }
    }

    /// Adds each tracked map's loss counters (0 until it loses something), and drops the counters
    /// of maps that are gone. A failed read leaves them out for the cycle.
    func attachLosses(to stats: inout [MapStats]) {
        guard let losses else { return }
        let counts: [UInt32: LossCounts]
        do throws(BPFError) {
            try injectFailure(.losses)
            counts = try losses.read()
        } catch {
            failed(.losses, error)
            return
        }
        for index in stats.indices where losses.tracks(stats[index].type) {
            let count = counts[stats[index].id]
            if stats[index].type.isLRU {
                stats[index].evictions = count?.evictions ?? 0
            } else {
                stats[index].insertFailures = count?.insertFailures ?? 0
            }
        }
        // Ids only grow: one above the newest listed may belong to a map made since the listing.
        guard let newest = known.last?.id else { return }
        for id in counts.keys where id < newest && !isKnown(id) {
            do throws(BPFError) { try losses.forget(id) } catch { failed(.losses, error) }
        }
    }

    /// Whether this cycle listed the map; `known` is sorted by id.
    private func isKnown(_ id: UInt32) -> Bool {
        var (low, high) = (0, known.count)
        while low < high {
            let middle = (low + high) / 2
            if known[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low < known.count && known[low].id == id
    }
}
