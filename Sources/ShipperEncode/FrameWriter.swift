import ShipperCollect
import ShipperMetrics

/// Writes each cycle's `Frame`: every map's series (its holders' among them), then stale markers
/// for the map series that ended, then whatever the cycle adds (the programs', the shipper's own).
///
/// A map's name, type and sizes never change for its id, and its pins, programs and which of its
/// series have a value rarely do. So each map's labels are numbered once (`StringIds`), with the
/// external labels merged in, and kept from cycle to cycle; a cycle only takes each series' value
/// (`takeValues`). Only a cycle in which a map came, went or changed lays the labels out again,
/// copying the unchanged ones, and only a cycle whose series differ from the last one's writes a
/// new table: in the steady state a frame is the last table's bytes and this cycle's values.
///
/// It also knows which series each map sent, so it writes the stale markers of series that ended:
/// the map was unloaded, its count became unknown, its info labels changed, or a process let go
/// of it. Without them a series would linger on dashboards for Prometheus's five-minute lookback.
package struct FrameWriter {
    /// One map's series and where their label ids lie in `labelIds`.
    private struct Slot {
        /// The map the labels were built from: its id and the fields its labels come from.
        var map: MapStats
        /// The `MapMetric.bit` of each of the map's series.
        var present: UInt8
        /// Label name and value ids of every series but the info series, without `__name__`,
        /// which goes at `nameAt`.
        var common: Range<Int>
        var nameAt: Int
        /// The info series' label ids, `__name__` included.
        var info: Range<Int>
        /// Each holder series' label ids, `__name__` included, in the order of `map.holders`.
        var holders: [Range<Int>]
    }

    /// A series added for this cycle only.
    private struct Addition {
        var ids: Range<Int>
        var value: Double
        var kind: FrameTable.Kind
        var help: UInt32
        var unit: UInt32
        /// 0, or the 1-based index of its start timestamp in the frame's starts.
        var start: UInt8
    }

    /// Every map metric, once: `MapMetric.allCases` builds a new array each time it is read.
    private static let metrics = MapMetric.allCases
    private static let infoBit = MapMetric.info.bit
    private static let allBits: UInt8 = (1 << metrics.count) - 1
    /// In a set of changed series: the holder series, past the map metrics' bits.
    private static let holdersBit: UInt8 = 1 << metrics.count
    /// The `MapMetric.bit`s of the counters.
    private static let counterBits = metrics.reduce(UInt8(0)) { $0 | ($1.metric.kind == .counter ? $1.bit : 0) }

    let externalLabels: LabelSet
    /// Every string of the series, numbered; started afresh when it holds many no series uses.
    private(set) var strings = StringIds()
    /// `strings.count` just after they were last numbered afresh: all of them in use then.
    private var numberedCount = 0
    /// Label ids of every slot, then the ended ones', then the additions'.
    private var labelIds: [UInt32] = []
    /// `labelIds` up to here belongs to `slots`.
    private var liveIdsEnd = 0
    /// In map id order, as the collector returns them.
    private var slots: [Slot] = []
    /// This cycle's value of each present series of `slots`, in order.
    private var values: [Double] = []
    /// This cycle's series that ended, as slots whose `present` holds only those series.
    private var ended: [Slot] = []
    private var additions: [Addition] = []
    private var nameId: UInt32 = 0
    /// Each map metric's `__name__` value id, kind, HELP and unit ids.
    private var metricIds: [(name: UInt32, kind: FrameTable.Kind, help: UInt32, unit: UInt32)] = []
    /// The holder series' HELP and unit ids.
    private var holderIds: (help: UInt32, unit: UInt32) = (0, 0)
    /// Bumped whenever the slots are laid out again.
    private var generation = 0
    /// The start timestamp of the maps' counters (their loss counters), 0 for none.
    private var countersStartMs: Int64 = 0

    /// The table last written, compressed, and what it was written from: the slots' generation,
    /// and the additions' labels, metadata and start index.
    private var table: [UInt8] = []
    private let compressor = RemoteWriteEncoder()
    private var tableId: UInt64 = 0
    private var tableKey: (generation: Int, additions: [UInt32])?
    private var additionsKey: [UInt32] = []
    /// The distinct start timestamps of the additions, after the maps' counters' (index 1).
    private var additionStarts: [Int64] = []

    package init(externalLabels: LabelSet) {
        self.externalLabels = externalLabels
    }

    /// Series in this cycle.
    var count: Int { values.count + ended.reduce(0) { $0 + $1.present.nonzeroBitCount + $1.holders.count } + additions.count }

    /// Makes this cycle's series those of `maps` (sorted by id), followed by stale markers for the
    /// series that ended since the last cycle. `countersStartMs` is when the maps' counters started
    /// counting; 0 for unknown.
    package mutating func update(_ maps: [MapStats], countersStartMs: Int64 = 0) {
        self.countersStartMs = countersStartMs
        additions.removeAll(keepingCapacity: true)
        additionsKey.removeAll(keepingCapacity: true)
        additionStarts.removeAll(keepingCapacity: true)
        labelIds.removeSubrange(liveIdsEnd...)
        ended.removeAll()
        if !takeValues(maps) { rebuild(maps) }
    }

    /// Appends a series after the maps' (the shipper's own), for this cycle only. `startMs` is a
    /// counter's start timestamp; 0 for none.
    package mutating func append(_ sample: Sample, startMs: Int64 = 0) {
        let start = labelIds.count
        _ = appendIds(sample.seriesLabels(merging: externalLabels).pairs)
        let metric = sample.metric
        let addition = Addition(
            ids: start..<labelIds.count, value: sample.value, kind: Self.kind(metric), help: strings.id(metric.help),
            unit: strings.id(metric.unit), start: startIndex(of: metric.kind == .counter ? startMs : 0))
        additions.append(addition)
        additionsKey += labelIds[addition.ids]
        additionsKey += [UInt32(addition.kind.rawValue), addition.help, addition.unit, UInt32(addition.start)]
        additionsKey.append(UInt32.max)  // ends the series: ids alone could run into the next
    }

    /// This cycle's frame, its samples taken at `timestampMs`: its bytes, and its series count.
    package mutating func frame(timestampMs: Int64) -> (body: [UInt8], series: Int) {
        let count = count
        if ended.isEmpty, let key = tableKey, key.generation == generation, key.additions == additionsKey {
            // The same series as the last frame: its table as it was.
        } else {
            writeTable()
            tableKey = ended.isEmpty ? (generation, additionsKey) : nil
            tableId = UInt64.random(in: 1...UInt64.max)
        }
        let starts = [countersStartMs] + additionStarts
        let body = [UInt8](writing: Frame.headerSize + 1 + 8 * starts.count + 4 + table.count + 8 * count) { writer in
            writer.write(Frame.version)
            writer.write(UInt64(bitPattern: timestampMs).littleEndian)
            writer.write(tableId.littleEndian)
            writer.write(UInt32(count).littleEndian)
            writer.write(UInt8(starts.count))
            for start in starts { writer.write(UInt64(bitPattern: start).littleEndian) }
            writer.write(UInt32(table.count).littleEndian)
            table.withUnsafeBytes { writer.write($0) }
            #if _endian(little)
            // A Double in memory is already its little-endian bit pattern: one copy for them all.
            values.withUnsafeBytes { writer.write($0) }
            #else
            for value in values { writer.write(value.bitPattern.littleEndian) }
            #endif
            for slot in ended {
                for _ in 0..<(slot.present.nonzeroBitCount + slot.holders.count) {
                    writer.write(staleMarker.bitPattern.littleEndian)
                }
            }
            for addition in additions { writer.write(addition.value.bitPattern.littleEndian) }
        }
        return (body, count)
    }

    /// The 1-based index of an addition's start timestamp in the frame's starts (after the maps'
    /// counters', at 1), added if new; 0 for none. Beyond 255 distinct ones, none.
    private mutating func startIndex(of startMs: Int64) -> UInt8 {
        guard startMs != 0 else { return 0 }
        if let index = additionStarts.firstIndex(of: startMs) { return UInt8(index + 2) }
        guard additionStarts.count < 254 else { return 0 }
        additionStarts.append(startMs)
        return UInt8(additionStarts.count + 1)
    }

    /// The table of this cycle's series, in the order of their values, compressed. Written only
    /// when the series change: its uncompressed bytes are not kept.
    private mutating func writeTable() {
        var raw = ByteSink()
        writeRawTable(into: &raw)
        compressor.compress(raw.written)
        table = compressor.endBody()
    }

    private func writeRawTable(into table: inout ByteSink) {
        table.write(4) { $0.write(UInt32(strings.count).littleEndian) }
        for string in strings.strings {
            let count = string.utf8.count
            table.write(RemoteWriteWire.varintSize(UInt64(count)) + count) { writer in
                writer.writeVarint(UInt64(count))
                writer.write(utf8: string)
            }
        }
        labelIds.withUnsafeBufferPointer { ids in
            func series(_ range: Range<Int>, name: UInt32?, at nameAt: Int, kind: FrameTable.Kind, help: UInt32, unit: UInt32, start: UInt8) {
                let refs = range.count + (name == nil ? 0 : 2)
                var size = RemoteWriteWire.varintSize(UInt64(refs)) + 1 + varintSize(help) + varintSize(unit) + 1
                for id in ids[range] { size += varintSize(id) }
                if let name { size += varintSize(nameId) + varintSize(name) }
                table.write(size) { writer in
                    writer.writeVarint(UInt64(refs))
                    for index in range {
                        if index == nameAt, let name {
                            writer.writeVarint(UInt64(nameId))
                            writer.writeVarint(UInt64(name))
                        }
                        writer.writeVarint(UInt64(ids[index]))
                    }
                    if nameAt == range.upperBound, let name {
                        writer.writeVarint(UInt64(nameId))
                        writer.writeVarint(UInt64(name))
                    }
                    writer.write(kind.rawValue)
                    writer.writeVarint(UInt64(help))
                    writer.writeVarint(UInt64(unit))
                    writer.write(start)
                }
            }
            for slot in slots + ended {
                for metric in Self.metrics where slot.present & metric.bit != 0 {
                    let ids = metricIds[metric.rawValue]
                    let start: UInt8 = Self.counterBits & metric.bit != 0 ? 1 : 0
                    if metric == .info {
                        series(slot.info, name: nil, at: -1, kind: ids.kind, help: ids.help, unit: ids.unit, start: start)
                    } else {
                        series(slot.common, name: ids.name, at: slot.nameAt, kind: ids.kind, help: ids.help, unit: ids.unit, start: start)
                    }
                }
                for range in slot.holders {
                    series(range, name: nil, at: -1, kind: .gauge, help: holderIds.help, unit: holderIds.unit, start: 0)
                }
            }
            for addition in additions {
                series(
                    addition.ids, name: nil, at: -1, kind: addition.kind, help: addition.help, unit: addition.unit,
                    start: addition.start)
            }
        }
    }

    private func varintSize(_ id: UInt32) -> Int { RemoteWriteWire.varintSize(UInt64(id)) }

    private static func kind(_ metric: Metric) -> FrameTable.Kind { metric.kind == .counter ? .counter : .gauge }

    /// The steady state: the same maps with the same labels and series as last cycle only have
    /// their values taken. False, leaving the rest to `rebuild`, at the first difference.
    private mutating func takeValues(_ maps: [MapStats]) -> Bool {
        guard maps.count == slots.count, !metricIds.isEmpty else { return false }
        values.removeAll(keepingCapacity: true)
        let slots = slots
        // Through buffer pointers: neither a map nor a slot is copied.
        return maps.withUnsafeBufferPointer { maps in
            slots.withUnsafeBufferPointer { slots in
                for index in slots.indices {
                    guard maps[index].id == slots[index].map.id, Self.changedSeries(from: slots[index].map, to: maps[index]) == 0
                    else { return false }
                    for metric in Self.metrics {
                        let value = metric.value(of: maps[index])
                        guard (value != nil) == (slots[index].present & metric.bit != 0) else { return false }
                        if let value { values.append(value) }
                    }
                    for _ in slots[index].holders { values.append(1) }
                }
                return true
            }
        }
    }

    /// Lays the maps' label ids out anew, copying the unchanged ones from last cycle, and those of
    /// every series that ended after them.
    private mutating func rebuild(_ maps: [MapStats]) {
        generation += 1
        let oldIds = labelIds
        let oldSlots = slots
        // Strings of maps long gone are dropped by numbering afresh once they could outnumber
        // those in use, which makes every slot's ids be looked up again: as rare as the string
        // count doubling, plus 65,536.
        let renumber = strings.count > 2 * numberedCount + 65_536
        if renumber || metricIds.isEmpty {
            strings = StringIds()
            nameId = strings.id("__name__")
            metricIds = Self.metrics.map { metric in
                let metric = metric.metric
                return (strings.id(metric.name), Self.kind(metric), strings.id(metric.help), strings.id(metric.unit))
            }
            holderIds = (strings.id(Metric.mapHolderInfo.help), strings.id(Metric.mapHolderInfo.unit))
        }
        let idsValid = !renumber
        var previous = [UInt32: Int](minimumCapacity: oldSlots.count)
        for (index, slot) in oldSlots.enumerated() { previous[slot.map.id] = index }
        var endedBits: [(slot: Int, series: UInt8)] = []
        /// Holders that let go of a map still listed, by its old slot.
        var endedHolders: [Int: [Holder]] = [:]

        labelIds = []
        slots = []
        slots.reserveCapacity(maps.count)
        values.removeAll(keepingCapacity: true)
        for map in maps {
            let oldIndex = previous.removeValue(forKey: map.id)
            let oldSlot = oldIndex.map { oldSlots[$0] }
            let changed = oldSlot.map { Self.changedSeries(from: $0.map, to: map) } ?? (Self.allBits | Self.holdersBit)
            var slot = place(map, copying: oldSlot, oldIds: oldIds, idsValid: idsValid, changed: changed)
            for metric in Self.metrics {
                guard let value = metric.value(of: map) else { continue }
                slot.present |= metric.bit
                values.append(value)
            }
            for _ in slot.holders { values.append(1) }
            if let oldIndex, let oldSlot {
                endedBits.append((oldIndex, oldSlot.present & (changed | ~slot.present)))
                let gone = (oldSlot.map.holders ?? []).filter { !(map.holders ?? []).contains($0) }
                if !gone.isEmpty { endedHolders[oldIndex] = gone }
            }
            slots.append(slot)
        }
        liveIdsEnd = labelIds.count
        if !idsValid || numberedCount == 0 { numberedCount = strings.count }
        endedBits += previous.values.map { ($0, Self.allBits) }
        for index in previous.values { endedHolders[index] = oldSlots[index].map.holders }
        for (index, bits) in endedBits.sorted(by: { $0.slot < $1.slot }) {
            let holders = endedHolders[index] ?? []
            guard oldSlots[index].present & bits != 0 || !holders.isEmpty else { continue }
            // Only the holders that ended: one still holding the map keeps its series.
            var map = oldSlots[index].map
            let changed = map.holders == holders ? 0 : Self.holdersBit
            map.holders = holders
            var slot = place(map, copying: oldSlots[index], oldIds: oldIds, idsValid: idsValid, changed: changed)
            slot.present = oldSlots[index].present & bits
            ended.append(slot)
        }
    }

    /// A slot for `map` (no series present yet) with its label ids appended to `labelIds`: copied
    /// from `oldSlot`'s in `oldIds` where `changed` leaves them and `idsValid`, looked up otherwise.
    private mutating func place(
        _ map: MapStats, copying oldSlot: Slot?, oldIds: [UInt32], idsValid: Bool, changed: UInt8
    ) -> Slot {
        let keepCommon = oldSlot != nil && idsValid && changed & ~(Self.infoBit | Self.holdersBit) == 0
        let keepInfo = oldSlot != nil && idsValid && changed & Self.infoBit == 0
        let keepHolders = oldSlot != nil && idsValid && changed & Self.holdersBit == 0
        // Built only if looked up: most maps of a rebuild copy both.
        lazy var common = MetricSet.labels(of: map)
        let commonStart = labelIds.count
        var nameAt: Int
        if let oldSlot, keepCommon {
            labelIds += oldIds[oldSlot.common]
            nameAt = commonStart + (oldSlot.nameAt - oldSlot.common.lowerBound)
        } else {
            // The count series differ only in their name: their labels are those of the first.
            let pairs = Sample(.mapEntries, common, 1).seriesLabels(merging: externalLabels).pairs
            nameAt = appendIds(pairs.filter { $0.name != "__name__" })
        }
        let infoStart = labelIds.count
        if let oldSlot, keepInfo {
            labelIds += oldIds[oldSlot.info]
        } else {
            let info = Sample(.mapInfo, MetricSet.infoLabels(of: map, common: common), 1)
            _ = appendIds(info.seriesLabels(merging: externalLabels).pairs)
        }
        let info = infoStart..<labelIds.count
        var holders: [Range<Int>] = []
        if let oldSlot, keepHolders {
            for range in oldSlot.holders {
                let start = labelIds.count
                labelIds += oldIds[range]
                holders.append(start..<labelIds.count)
            }
        } else {
            for holder in map.holders ?? [] {
                let start = labelIds.count
                _ = appendIds(Sample(.mapHolderInfo, MetricSet.holderLabels(of: map, holder), 1).seriesLabels(merging: externalLabels).pairs)
                holders.append(start..<labelIds.count)
            }
        }
        return Slot(map: map, present: 0, common: commonStart..<infoStart, nameAt: nameAt, info: info, holders: holders)
    }

    /// Appends the ids of sorted label pairs; returns where a `__name__` pair would go among them.
    private mutating func appendIds(_ pairs: [(name: String, value: String)]) -> Int {
        var nameAt = labelIds.count
        for (name, value) in pairs {
            labelIds.append(strings.id(name))
            labelIds.append(strings.id(value))
            if name < "__name__" { nameAt = labelIds.count }
        }
        return nameAt
    }

    /// The series whose labels differ between two descriptions of a map id: all of them if the
    /// name or type changed (the id was reused), the info series if its sizes, pins or programs did.
    private static func changedSeries(from old: MapStats, to new: MapStats) -> UInt8 {
        let changes = MetricSet.labelChanges(from: old, to: new)
        return (changes.common ? allBits : changes.info ? infoBit : 0) | (changes.holders ? holdersBit : 0)
    }
}
