import Synchronization

/// The BPF programs this process loaded (the map iterator, the loss-tracking programs) and the
/// maps they use: the shipper's own, which it leaves out of what it reports unless asked
/// (`CollectorOptions.includeSelf`). Process-wide, not per collector: during a reload two
/// collectors are alive, and each must leave out the other's objects too.
enum OwnObjects {
    private static let registered = Mutex<[UInt32: [UInt32]]>([:])

    /// Registers programs just loaded, with the maps each uses. A program that cannot be described
    /// (it would be gone) is registered with none.
    static func add(programs: [UInt32]) {
        let described = programs.map { id in (id, (try? KernelObjects.program(id: id))?.mapIDs ?? []) }
        registered.withLock { registered in
            for (id, maps) in described { registered[id] = maps }
        }
    }

    /// Forgets programs about to be unloaded.
    static func remove(programs: [UInt32]) {
        registered.withLock { registered in
            for id in programs { registered[id] = nil }
        }
    }

    /// The programs and maps registered now, each sorted: a handful, searched per map per cycle
    /// more cheaply than a set is hashed.
    static func snapshot() -> (programs: [UInt32], maps: [UInt32]) {
        registered.withLock { registered in
            (registered.keys.sorted(), Set(registered.values.joined()).sorted())
        }
    }
}
