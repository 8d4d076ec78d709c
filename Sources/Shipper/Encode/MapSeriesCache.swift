/// One cycle's series in remote-write bytes: every map's, then stale markers, then whatever the
/// cycle adds (the shipper's own series). The maps' series are kept from cycle to cycle.
///
/// A map's name, type and sizes never change for its id, and its pins, programs and which of its
/// series have a value rarely do. So when the maps are the same as last cycle, their series are
/// reused where they lie and only each value and timestamp is stored into place: no label is
/// built, merged, sorted or packed, and no byte is copied. Only a cycle in which a map came, went
/// or changed rebuilds them, copying the unchanged series from the previous cycle.
///
/// It also knows which series each map sent, so it writes the stale markers (`staleMarker`) of
/// series that ended: the map was unloaded, its count became unknown, or its info labels changed.
/// Without them a series would linger on dashboards for Prometheus's five-minute lookback.
struct MapSeriesCache {
    /// One map's place in `series`.
    private struct Slot {
        /// The map the series were built from: its id and the fields its labels come from.
        var map: MapStats
        /// Bit i: the series of `Metric.mapMetrics[i]` is among the map's series.
        var present: UInt8
        /// Index of the map's first series in `series`.
        var first: Int

        /// Index in `series` of the map's series of `Metric.mapMetrics[metric]`, which is present.
        func index(of metric: Int) -> Int { first + (present & ((1 << metric) - 1)).nonzeroBitCount }
    }

    private static let infoBit: UInt8 = 1 << Metric.mapMetrics.firstIndex(of: .mapInfo)!
    private static let allBits: UInt8 = (1 << Metric.mapMetrics.count) - 1

    let externalLabels: LabelSet
    private(set) var series = SeriesBuffer()
    /// In map id order, as the collector returns them, and as their series lie in `series`.
    private var slots: [Slot] = []
    /// The map series come first in `series`; stale markers and additions follow.
    private var mapSeriesCount = 0
    /// The varint length of the timestamp the series were written with (6 bytes until 2109).
    private var timestampLength = 0

    init(externalLabels: LabelSet) {
        self.externalLabels = externalLabels
    }

    /// Makes `series` hold this cycle's series of `maps` (sorted by id) at `timestamp`, followed by
    /// stale markers for the series that ended since the last cycle.
    mutating func update(_ maps: [MapStats], timestamp: RemoteWriteWire.Timestamp) {
        series.removeSeries(from: mapSeriesCount)
        if timestamp.bytes.count != timestampLength || !storeInPlace(maps, timestamp) {
            rebuild(maps, timestamp, reencode: timestamp.bytes.count != timestampLength)
            timestampLength = timestamp.bytes.count
        }
    }

    /// Appends a series after the maps' (the shipper's own), for this cycle only.
    mutating func append(_ sample: Sample, timestamp: RemoteWriteWire.Timestamp) {
        series.append(sample, externalLabels: externalLabels, timestamp: timestamp)
    }

    /// The steady state: the same maps with the same labels and series as last cycle get their
    /// new values stored in place. False, leaving the rest to `rebuild`, at the first difference.
    private mutating func storeInPlace(_ maps: [MapStats], _ timestamp: RemoteWriteWire.Timestamp) -> Bool {
        guard maps.count == slots.count else { return false }
        let slots = slots
        // Through buffer pointers: neither a map nor a slot is copied.
        return maps.withUnsafeBufferPointer { maps in
            slots.withUnsafeBufferPointer { slots in
                timestamp.bytes.withUnsafeBytes { stamp in
                    series.withStorage { bytes, ends in
                        var index = 0
                        for slot in slots.indices {
                            guard maps[slot].id == slots[slot].map.id, Self.changedSeries(from: slots[slot].map, to: maps[slot]) == 0
                            else { return false }
                            for metric in Metric.mapMetrics.indices {
                                let value = MetricSet.value(metric, of: maps[slot])
                                guard (value != nil) == (slots[slot].present & (1 << metric) != 0) else { return false }
                                if let value {
                                    RemoteWriteWire.store(value, stamp, atEndOfSeries: ends[index], in: bytes)
                                    index += 1
                                }
                            }
                        }
                        return true
                    }
                }
            }
        }
    }

    /// Lays the maps' series out anew: unchanged ones copied from last cycle, new or relabelled
    /// ones encoded, and stale markers after them for every series that ended.
    private mutating func rebuild(_ maps: [MapStats], _ timestamp: RemoteWriteWire.Timestamp, reencode: Bool) {
        let old = series
        let oldSlots = slots
        var previous = [UInt32: Int](minimumCapacity: oldSlots.count)
        for (index, slot) in oldSlots.enumerated() { previous[slot.map.id] = index }
        var ended: [(slot: Int, series: UInt8)] = []

        series = SeriesBuffer()
        slots = []
        slots.reserveCapacity(maps.count)
        for map in maps {
            let oldIndex = previous.removeValue(forKey: map.id)
            let oldSlot = oldIndex.map { oldSlots[$0] }
            let changed = oldSlot.map { Self.changedSeries(from: $0.map, to: map) } ?? Self.allBits
            var slot = Slot(map: map, present: 0, first: series.count)
            for metric in Metric.mapMetrics.indices {
                guard let value = MetricSet.value(metric, of: map) else { continue }
                slot.present |= 1 << metric
                if !reencode, let oldSlot, changed & (1 << metric) == 0, oldSlot.present & (1 << metric) != 0 {
                    series.append(series: oldSlot.index(of: metric), of: old, value: value, timestamp: timestamp)
                } else {
                    append(Self.sample(metric, of: map, value: value), timestamp: timestamp)
                }
            }
            if let oldIndex, let oldSlot {
                ended.append((oldIndex, oldSlot.present & (changed | ~slot.present)))
            }
            slots.append(slot)
        }
        ended += previous.values.map { ($0, Self.allBits) }
        mapSeriesCount = series.count

        // Stale markers reuse last cycle's bytes, unless those hold a timestamp of another length.
        for (index, bits) in ended.sorted(by: { $0.slot < $1.slot }) {
            let oldSlot = oldSlots[index]
            for metric in Metric.mapMetrics.indices where oldSlot.present & bits & (1 << metric) != 0 {
                if reencode {
                    append(Self.sample(metric, of: oldSlot.map, value: staleMarker), timestamp: timestamp)
                } else {
                    series.append(series: oldSlot.index(of: metric), of: old, value: staleMarker, timestamp: timestamp)
                }
            }
        }
    }

    /// The sample of `Metric.mapMetrics[metric]` for a map, labels built from scratch.
    private static func sample(_ metric: Int, of map: MapStats, value: Double) -> Sample {
        let labels = MetricSet.labels(of: map)
        let kind = Metric.mapMetrics[metric]
        return Sample(kind, kind == .mapInfo ? MetricSet.infoLabels(of: map, common: labels) : labels, value)
    }

    /// The series whose labels differ between two descriptions of a map id: all of them if the
    /// name or type changed (the id was reused), the info series if its sizes, pins or programs did.
    private static func changedSeries(from old: MapStats, to new: MapStats) -> UInt8 {
        let changes = MetricSet.labelChanges(from: old, to: new)
        return changes.common ? allBits : changes.info ? infoBit : 0
    }
}
