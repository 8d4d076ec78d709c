/// Which map types' loss hooks `auto` loss tracking keeps attached, decided after each collection.
///
/// A hash map, an LPM trie, a queue or a stack refuses a write only when it is full, and a ring
/// buffer only when it has no room: a refusal hook attached while every map of its type is far
/// from full costs each write of the type and counts nothing. So a type's hooks are attached
/// (armed) while some map of the type is within a margin of its capacity, and detached once every
/// one has stayed well clear of it for `holdCollections` collections in a row. The margin is the
/// largest of:
/// - a tenth of the capacity (half, for a ring buffer, which fills and drains in bursts);
/// - twice what the map grew since the last collection, so that a map filling fast is armed before
///   it can fill;
/// - for a `BPF_F_NO_PREALLOC` hash map, the kernel's per-CPU counter slack: up to 32 elements per
///   online CPU may not be summed yet when the kernel decides the map is full.
///
/// "Well clear" is twice the margin below capacity: a map hovering at the margin keeps its type
/// armed instead of attaching and detaching every collection.
///
/// A map whose count is unknown (a queue or a stack, whose fill the collector does not read; a
/// ring buffer on the system-call path; a count that failed) keeps its type armed. LRU maps evict
/// instead of refusing, and their eviction hook fires only when one evicts: those types are left to
/// the caller, which keeps them armed (`alwaysArmed`). Kernels before 5.13 cannot attach a tracing
/// program again once it is detached: there the collector keeps every hook attached instead.
///
/// Refusals between a map filling and the collection that sees it near full are missed: `on`
/// attaches everything from the start instead.
struct LossArming {
    static let holdCollections = 10
    /// Elements per CPU a no-prealloc hash map's counter may hold back (`PERCPU_COUNTER_BATCH`).
    static let perCPUSlack: UInt64 = 32

    let onlineCPUs: Int
    /// Each armed type, with how many collections in a row every map of it has been well clear.
    private(set) var armed: [MapType: Int] = [:]
    /// Each map's count at the last collection, for its growth, sorted by id as collections are:
    /// read alongside the maps, without hashing (a collection may hold 10,000 maps).
    private var lastEntries: [(id: UInt32, entries: UInt64)] = []
    /// Last collection's `lastEntries`, kept for its storage.
    private var spare: [(id: UInt32, entries: UInt64)] = []

    init(onlineCPUs: Int) { self.onlineCPUs = max(1, onlineCPUs) }

    /// Why a type was armed or disarmed, for the debug log.
    enum Change: Equatable {
        /// Armed for this map: its count (nil when unknown) and capacity.
        case armed(MapType, mapID: UInt32, name: String, entries: UInt64?, maxEntries: UInt32)
        case disarmed(MapType)
    }

    /// Takes one collection's maps, sorted by id, and returns the types to keep armed, with what
    /// changed.
    mutating func update(_ maps: [MapStats], tracked: (MapType) -> Bool) -> (types: Set<MapType>, changes: [Change]) {
        // Indices, not copies: a MapStats copy retains its name, pins and programs.
        var near: [MapType: Int] = [:]
        var inBand: Set<MapType> = []
        var next = spare
        next.removeAll(keepingCapacity: true)
        var cursor = 0
        for index in maps.indices {
            let type = maps[index].type
            guard tracked(type), !Self.alwaysArmed(type) else { continue }
            let id = maps[index].id
            while cursor < lastEntries.count, lastEntries[cursor].id < id { cursor += 1 }
            let last = cursor < lastEntries.count && lastEntries[cursor].id == id ? lastEntries[cursor].entries : nil
            let entries = maps[index].entries
            if let entries { next.append((id, entries)) }
            switch position(type, flags: maps[index].flags, entries: entries, capacity: maps[index].maxEntries, last: last) {
            case .near: if near[type] == nil { near[type] = index }
            case .inBand: inBand.insert(type)
            case .clear: break
            }
        }
        spare = lastEntries
        lastEntries = next
        var changes: [Change] = []
        for (type, index) in near.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            if armed[type] == nil {
                let map = maps[index]
                changes.append(.armed(type, mapID: map.id, name: map.name, entries: map.entries, maxEntries: map.maxEntries))
            }
            armed[type] = 0
        }
        for type in armed.keys.sorted(by: { $0.rawValue < $1.rawValue }) where near[type] == nil {
            let clear = inBand.contains(type) ? 0 : armed[type]! + 1
            if clear >= Self.holdCollections {
                armed[type] = nil
                changes.append(.disarmed(type))
            } else {
                armed[type] = clear
            }
        }
        return (Set(armed.keys), changes)
    }

    /// Types whose hooks cost nothing until there is something to count: LRU maps' eviction hook.
    static func alwaysArmed(_ type: MapType) -> Bool { type.isLRU }

    private enum Position { case near, inBand, clear }

    /// Where a map stands against its capacity; `last` is its count at the last collection.
    private func position(
        _ type: MapType, flags: UInt32, entries: UInt64?, capacity maxEntries: UInt32, last: UInt64?
    ) -> Position {
        guard let count = entries else { return .near }
        let capacity = UInt64(maxEntries)
        var margin = type == .ringbuf ? capacity / 2 : capacity / 10
        if let last, count > last { margin = max(margin, 2 * (count - last)) }
        if flags & MapType.noPreallocFlag != 0, type.counting == .kernelCounter {
            margin = max(margin, Self.perCPUSlack * UInt64(onlineCPUs))
        }
        if count + margin >= capacity { return .near }
        return count + 2 * margin >= capacity ? .inBand : .clear
    }
}
