/// One cycle's series: every map's, then stale markers, then whatever the cycle adds (the
/// shipper's own series), written into requests on demand.
///
/// A map's name, type and sizes never change for its id, and its pins, programs and which of its
/// series have a value rarely do. So each map's label entries are encoded once, with the external
/// labels merged in, and kept from cycle to cycle; a cycle only takes each series' value and
/// writes the series from those bytes: no label is built, merged or sorted. Only a cycle in which
/// a map came, went or changed lays the labels out again, copying the unchanged ones.
///
/// Keeping label entries rather than whole series holds a map in about a third of the bytes: its
/// four count series share one run, with `__name__` written into its place.
///
/// For remote-write 2.0 each label entry also has its name and value as string ids
/// (`StringIds`), kept beside the bytes the same way, so a 2.0 request is written from ids
/// without hashing a string (`writeV2`). Only if some endpoint is sent 2.0 (`tracksSymbols`):
/// 1.0 alone pays nothing for it.
///
/// It also knows which series each map sent, so it writes the stale markers (`staleMarker`) of
/// series that ended: the map was unloaded, its count became unknown, or its info labels changed.
/// Without them a series would linger on dashboards for Prometheus's five-minute lookback.
struct MapSeriesCache {
    /// One map's series and where their labels lie in `labels`.
    private struct Slot {
        /// The map the labels were built from: its id and the fields its labels come from.
        var map: MapStats
        /// The `MapMetric.bit` of each of the map's series.
        var present: UInt8
        /// Label entries of every series but the info series, without `__name__`.
        var common: Range<Int>
        /// Where in `common` the `__name__` entry goes, to keep the labels sorted.
        var nameAt: Int
        /// Label entries of the info series, `__name__` included.
        var info: Range<Int>
        /// The same labels as name and value string ids, in `labelIds`; `__name__` goes at `nameIdAt`.
        var commonIds: Range<Int>
        var nameIdAt: Int
        var infoIds: Range<Int>
    }

    /// What a 2.0 write of the maps' series found, for the next one while the maps stay the same:
    /// each series' labels_refs and metadata fields, and each run's symbols (string ids by ref)
    /// once its map series are written.
    private struct V2Layout {
        var generation: Int
        var labels = ByteSink()
        var ends: [Int] = []
        var runSymbols: [[UInt32]] = []
    }

    /// A series added for this cycle only, as 2.0 writes it.
    private struct Addition {
        var ids: Range<Int>
        var value: Double
        var metadata: RemoteWriteV2Wire.Metadata
        var startMs: Int64
    }

    private static let infoBit = MapMetric.info.bit
    private static let allBits: UInt8 = (1 << MapMetric.allCases.count) - 1

    let externalLabels: LabelSet
    /// The `__name__` entry of each map metric, then every slot's label entries, then the ended ones'.
    private var labels = ByteSink()
    /// Where each map metric's `__name__` entry lies in `labels`.
    private var names: [Range<Int>] = []
    /// In map id order, as the collector returns them.
    private var slots: [Slot] = []
    /// This cycle's value of each present series of `slots`, in order.
    private var values: [Double] = []
    /// This cycle's series that ended, as slots whose `present` holds only those series.
    private var ended: [Slot] = []
    /// `labels` up to here belongs to `names` and `slots`; the rest to `ended`.
    private var liveLabelsEnd = 0
    private var additions = SeriesBuffer()
    private var timestamp = RemoteWriteWire.Timestamp(milliseconds: 0)
    /// The start timestamp of the maps' counters (their loss counters), 0 for none.
    private var countersStartMs: Int64 = 0

    /// Every string of the series, numbered; started afresh when it holds many no series uses.
    private(set) var strings = StringIds()
    /// Label name and value ids of every slot, then the ended ones', then the additions'.
    private var labelIds: [UInt32] = []
    /// `labelIds` up to here belongs to `slots`.
    private var liveIdsEnd = 0
    /// Each map metric's `__name__` value id, and its metadata with ids for refs.
    private var nameValueIds: [UInt32] = []
    private var metricMetadata: [RemoteWriteV2Wire.Metadata] = []
    private var nameId: UInt32 = 0
    /// `strings.count` just after they were last numbered afresh: all of them in use then.
    private var numberedCount = 0
    private var additionList: [Addition] = []
    /// Bumped by every `rebuild`: a 2.0 layout of an older one no longer fits the maps.
    private var generation = 0
    /// The last 2.0 layout written, by run size.
    private var layouts: [Int: V2Layout] = [:]
    /// The `MapMetric.bit`s of the counters.
    private static let counterBits = MapMetric.allCases.reduce(UInt8(0)) { $0 | ($1.metric.kind == .counter ? $1.bit : 0) }

    /// Whether the string ids 2.0 is written from are kept.
    let tracksSymbols: Bool

    init(externalLabels: LabelSet, tracksSymbols: Bool = true) {
        self.externalLabels = externalLabels
        self.tracksSymbols = tracksSymbols
    }

    /// Series in this cycle.
    var count: Int { values.count + ended.reduce(0) { $0 + $1.present.nonzeroBitCount } + additions.count }

    /// Makes this cycle's series those of `maps` (sorted by id) at `timestamp`, followed by stale
    /// markers for the series that ended since the last cycle. `countersStartMs` is when the
    /// maps' counters started counting, which 2.0 sends; 0 for unknown.
    mutating func update(_ maps: [MapStats], timestamp: RemoteWriteWire.Timestamp, countersStartMs: Int64 = 0) {
        self.timestamp = timestamp
        self.countersStartMs = countersStartMs
        additions.removeAll()
        additionList.removeAll(keepingCapacity: true)
        labelIds.removeSubrange(liveIdsEnd...)
        if !ended.isEmpty {
            ended.removeAll()
            labels.keepFirst(liveLabelsEnd)
        }
        if !takeValues(maps) { rebuild(maps) }
    }

    /// Appends a series after the maps' (the shipper's own), for this cycle only. `startMs` is a
    /// counter's start timestamp, which 2.0 sends; 0 for none.
    mutating func append(_ sample: Sample, startMs: Int64 = 0) {
        additions.append(sample, externalLabels: externalLabels, timestamp: timestamp)
        guard tracksSymbols else { return }
        let start = labelIds.count
        _ = appendIds(SeriesBuffer.labels(of: sample, externalLabels: externalLabels).pairs)
        let metric = sample.metric
        additionList.append(Addition(
            ids: start..<labelIds.count, value: sample.value, metadata: metadata(of: metric),
            startMs: metric.kind == .counter ? startMs : 0))
    }

    /// A metric's type, HELP and unit, the strings as ids.
    private mutating func metadata(of metric: Metric) -> RemoteWriteV2Wire.Metadata {
        RemoteWriteV2Wire.Metadata(
            type: metric.kind.metadataType, helpRef: strings.id(metric.help), unitRef: strings.id(metric.unit))
    }

    /// `write` hands the sink on at the first series boundary at which it holds this many bytes,
    /// so a request is compressed while it is written and never held whole.
    static let spillBytes = 64 << 10

    /// Writes this cycle's series into `sink` in runs of at most `maxSamples`, in order. Every
    /// `spillBytes` or so it hands the sink to `spill`; at the end of each run it hands the rest
    /// to `end` with the run's series count. `end` may add to the run. The sink is emptied after
    /// each of them returns.
    func write(
        maxSamples: Int, into sink: inout ByteSink, spill: (ByteSink) -> Void, end: (inout ByteSink, Int) -> Void
    ) {
        var run = 0
        func startSeries() {
            if run == maxSamples {
                end(&sink, run)
                sink.removeAll()
                run = 0
            } else if sink.count >= Self.spillBytes {
                spill(sink)
                sink.removeAll()
            }
        }
        labels.written.withUnsafeBytes { labels in
            timestamp.bytes.withUnsafeBytes { stamp in
                func write(_ slot: Slot, _ metric: MapMetric, _ value: Double) {
                    startSeries()
                    let labelBytes = metric == .info ? slot.info.count : slot.common.count + names[metric.rawValue].count
                    sink.write(RemoteWriteWire.seriesSize(labelBytes: labelBytes, timestamp: stamp.count)) { writer in
                        RemoteWriteWire.writeSeriesStart(labelBytes: labelBytes, timestamp: stamp.count, to: &writer)
                        if metric == .info {
                            writer.write(UnsafeRawBufferPointer(rebasing: labels[slot.info]))
                        } else {
                            writer.write(UnsafeRawBufferPointer(rebasing: labels[slot.common.lowerBound..<slot.nameAt]))
                            writer.write(UnsafeRawBufferPointer(rebasing: labels[names[metric.rawValue]]))
                            writer.write(UnsafeRawBufferPointer(rebasing: labels[slot.nameAt..<slot.common.upperBound]))
                        }
                        RemoteWriteWire.writeSample(value, stamp, to: &writer)
                    }
                    run += 1
                }
                var value = 0
                for slot in slots {
                    for metric in MapMetric.allCases where slot.present & metric.bit != 0 {
                        write(slot, metric, values[value])
                        value += 1
                    }
                }
                for slot in ended {
                    for metric in MapMetric.allCases where slot.present & metric.bit != 0 {
                        write(slot, metric, staleMarker)
                    }
                }
            }
        }
        for series in 0..<additions.count {
            startSeries()
            sink.append(additions.bytes[additions.byteRange(ofSeries: series..<series + 1)])
            run += 1
        }
        if run > 0 {
            end(&sink, run)
            sink.removeAll()
        }
    }

    /// Writes this cycle's series as 2.0 into `sink`, in the order and runs of `write`, their refs
    /// given by `symbols`, which starts afresh for each run. At the end of each run it hands the
    /// series and the run's symbols to `end` with the run's series count; the sink is emptied
    /// after it returns. A run's series are held uncompressed until then, about a quarter of the
    /// bytes of 1.0's, since its symbols go first.
    ///
    /// A run's refs depend only on the series in it, so while the maps stay the same (no
    /// `rebuild`) each map series' refs and metadata are the bytes the last cycle wrote, kept in
    /// `layouts` for this run size with each run's symbols: the steady state copies bytes, as 1.0's
    /// does, and looks up only the refs of the series added after the maps'.
    mutating func writeV2(
        maxSamples: Int, symbols: inout RequestSymbols, into sink: inout ByteSink,
        end: (ByteSink, RequestSymbols, Int) -> Void
    ) {
        precondition(tracksSymbols, "2.0 requests from a series cache made without symbols")
        let replay = layouts[maxSamples].flatMap { $0.generation == generation ? $0 : nil }
        var layout = replay ?? V2Layout(generation: generation)
        var run = 0
        var runs = 0
        var refs: [UInt32] = []
        // Each run's symbols are kept as they stand after its map series.
        var recording = replay == nil && !slots.isEmpty
        func startRun() {
            symbols.start(idCount: strings.count)
            if let replay, runs < replay.runSymbols.count { symbols.restore(replay.runSymbols[runs]) }
        }
        func startSeries() {
            guard run == maxSamples else { return }
            if recording { layout.runSymbols.append(symbols.ids) }
            end(sink, symbols, run)
            sink.removeAll()
            runs += 1
            run = 0
            startRun()
        }
        /// A series from its label ids: `name` (a value id) goes before the pair at `nameAt`.
        func refsOf(_ ids: UnsafeBufferPointer<UInt32>, name: UInt32?, at nameAt: Int) {
            refs.removeAll(keepingCapacity: true)
            for index in stride(from: 0, to: ids.count, by: 2) {
                if index == nameAt, let name {
                    refs.append(symbols.ref(nameId))
                    refs.append(symbols.ref(name))
                }
                refs.append(symbols.ref(ids[index]))
                refs.append(symbols.ref(ids[index + 1]))
            }
            if nameAt == ids.count, let name {
                refs.append(symbols.ref(nameId))
                refs.append(symbols.ref(name))
            }
        }
        func refMetadata(_ metadata: RemoteWriteV2Wire.Metadata) -> RemoteWriteV2Wire.Metadata {
            RemoteWriteV2Wire.Metadata(type: metadata.type, helpRef: symbols.ref(metadata.helpRef), unitRef: symbols.ref(metadata.unitRef))
        }
        /// A map series' label ids, and the `__name__` value id to put among them (the info
        /// series has its own); and its start timestamp.
        func source(_ slot: Slot, _ metric: MapMetric) -> (ids: Range<Int>, name: UInt32?, startMs: Int64) {
            let startMs = Self.counterBits & metric.bit != 0 ? countersStartMs : 0
            return metric == .info ? (slot.infoIds, nil, startMs) : (slot.commonIds, nameValueIds[metric.rawValue], startMs)
        }
        startRun()
        labelIds.withUnsafeBufferPointer { ids in
            var series = 0
            var value = 0
            for slot in slots {
                for metric in MapMetric.allCases where slot.present & metric.bit != 0 {
                    startSeries()
                    let from = source(slot, metric)
                    if replay == nil {
                        refsOf(UnsafeBufferPointer(rebasing: ids[from.ids]), name: from.name, at: slot.nameIdAt - from.ids.lowerBound)
                        RemoteWriteV2Wire.appendLabelsAndMetadata(
                            refs: refs, metadata: refMetadata(metricMetadata[metric.rawValue]), to: &layout.labels)
                        layout.ends.append(layout.labels.count)
                    }
                    let labels = (series == 0 ? 0 : layout.ends[series - 1])..<layout.ends[series]
                    layout.labels.written.withUnsafeBytes { bytes in
                        RemoteWriteV2Wire.appendSeries(
                            labels: UnsafeRawBufferPointer(rebasing: bytes[labels]), value: values[value], timestamp: timestamp,
                            startMs: from.startMs, to: &sink)
                    }
                    series += 1
                    value += 1
                    run += 1
                }
            }
            if recording, run > 0 { layout.runSymbols.append(symbols.ids) }
            recording = false
            // The ended series and the additions change from cycle to cycle: their refs are looked up.
            func write(_ range: Range<Int>, name: UInt32?, at nameAt: Int, _ value: Double, _ metadata: RemoteWriteV2Wire.Metadata, startMs: Int64) {
                startSeries()
                refsOf(UnsafeBufferPointer(rebasing: ids[range]), name: name, at: nameAt - range.lowerBound)
                RemoteWriteV2Wire.appendSeries(
                    refs: refs, value: value, timestamp: timestamp, metadata: refMetadata(metadata), startMs: startMs, to: &sink)
                run += 1
            }
            for slot in ended {
                for metric in MapMetric.allCases where slot.present & metric.bit != 0 {
                    let from = source(slot, metric)
                    write(from.ids, name: from.name, at: slot.nameIdAt, staleMarker, metricMetadata[metric.rawValue], startMs: from.startMs)
                }
            }
            for addition in additionList {
                write(addition.ids, name: nil, at: -1, addition.value, addition.metadata, startMs: addition.startMs)
            }
        }
        if run > 0 {
            end(sink, symbols, run)
            sink.removeAll()
        }
        if replay == nil { layouts = [maxSamples: layout] }
    }

    /// The steady state: the same maps with the same labels and series as last cycle only have
    /// their values taken. False, leaving the rest to `rebuild`, at the first difference.
    private mutating func takeValues(_ maps: [MapStats]) -> Bool {
        guard maps.count == slots.count else { return false }
        values.removeAll(keepingCapacity: true)
        let slots = slots
        // Through buffer pointers: neither a map nor a slot is copied.
        return maps.withUnsafeBufferPointer { maps in
            slots.withUnsafeBufferPointer { slots in
                for index in slots.indices {
                    guard maps[index].id == slots[index].map.id, Self.changedSeries(from: slots[index].map, to: maps[index]) == 0
                    else { return false }
                    for metric in MapMetric.allCases {
                        let value = metric.value(of: maps[index])
                        guard (value != nil) == (slots[index].present & metric.bit != 0) else { return false }
                        if let value { values.append(value) }
                    }
                }
                return true
            }
        }
    }

    /// Lays the maps' labels out anew, copying the unchanged ones from last cycle, and the labels
    /// of every series that ended after them.
    private mutating func rebuild(_ maps: [MapStats]) {
        generation += 1
        let old = labels
        let oldIds = labelIds
        let oldSlots = slots
        // Strings of maps long gone are dropped by numbering afresh once they could outnumber
        // those in use, which makes every slot's ids be looked up again: as rare as the string
        // count doubling, plus 65,536.
        let renumber = strings.count > 2 * numberedCount + 65_536
        if tracksSymbols && (renumber || nameValueIds.isEmpty) {
            strings = StringIds()
            nameId = strings.id("__name__")
            nameValueIds = MapMetric.allCases.map { strings.id($0.metric.name) }
            metricMetadata = MapMetric.allCases.map { metadata(of: $0.metric) }
        }
        let idsValid = !renumber
        var previous = [UInt32: Int](minimumCapacity: oldSlots.count)
        for (index, slot) in oldSlots.enumerated() { previous[slot.map.id] = index }
        var endedBits: [(slot: Int, series: UInt8)] = []

        labels = ByteSink()
        labelIds = []
        names = MapMetric.allCases.map(\.metric).map { metric in
            let start = labels.count
            RemoteWriteWire.appendLabel("__name__", metric.name, to: &labels)
            return start..<labels.count
        }
        slots = []
        slots.reserveCapacity(maps.count)
        values.removeAll(keepingCapacity: true)
        for map in maps {
            let oldIndex = previous.removeValue(forKey: map.id)
            let oldSlot = oldIndex.map { oldSlots[$0] }
            let changed = oldSlot.map { Self.changedSeries(from: $0.map, to: map) } ?? Self.allBits
            var slot = place(map, copying: oldSlot, from: old, oldIds: oldIds, idsValid: idsValid, changed: changed)
            for metric in MapMetric.allCases {
                guard let value = metric.value(of: map) else { continue }
                slot.present |= metric.bit
                values.append(value)
            }
            if let oldIndex, let oldSlot {
                endedBits.append((oldIndex, oldSlot.present & (changed | ~slot.present)))
            }
            slots.append(slot)
        }
        liveLabelsEnd = labels.count
        liveIdsEnd = labelIds.count
        if !idsValid || numberedCount == 0 { numberedCount = strings.count }
        endedBits += previous.values.map { ($0, Self.allBits) }
        for (index, bits) in endedBits.sorted(by: { $0.slot < $1.slot }) where oldSlots[index].present & bits != 0 {
            var slot = place(
                oldSlots[index].map, copying: oldSlots[index], from: old, oldIds: oldIds, idsValid: idsValid, changed: 0)
            slot.present = oldSlots[index].present & bits
            ended.append(slot)
        }
    }

    /// A slot for `map` (no series present yet) with its label entries appended to `labels` and
    /// their ids to `labelIds`: copied from `oldSlot`'s in `old` and `oldIds` where `changed`
    /// leaves them (the ids only if `idsValid`), encoded otherwise.
    private mutating func place(
        _ map: MapStats, copying oldSlot: Slot?, from old: ByteSink, oldIds: [UInt32], idsValid: Bool, changed: UInt8
    ) -> Slot {
        let keepCommon = oldSlot != nil && changed & ~Self.infoBit == 0
        let keepInfo = oldSlot != nil && changed & Self.infoBit == 0
        // Built only if a run is encoded: most maps of a rebuild copy both.
        lazy var common = MetricSet.labels(of: map)
        // The count series differ only in their name: their labels are those of the first.
        lazy var commonLabels = SeriesBuffer.labels(of: Sample(.mapEntries, common, 1), externalLabels: externalLabels)
            .pairs.filter { $0.name != "__name__" }
        lazy var infoLabels = SeriesBuffer.labels(
            of: Sample(.mapInfo, MetricSet.infoLabels(of: map, common: common), 1), externalLabels: externalLabels).pairs

        let commonStart = labels.count
        var nameAt = commonStart
        if let oldSlot, keepCommon {
            labels.append(old.written[oldSlot.common])
            nameAt = commonStart + (oldSlot.nameAt - oldSlot.common.lowerBound)
        } else {
            for (name, value) in commonLabels {
                RemoteWriteWire.appendLabel(name, value, to: &labels)
                if name < "__name__" { nameAt = labels.count }
            }
        }
        let infoStart = labels.count
        if let oldSlot, keepInfo {
            labels.append(old.written[oldSlot.info])
        } else {
            for (name, value) in infoLabels { RemoteWriteWire.appendLabel(name, value, to: &labels) }
        }

        let commonIdsStart = labelIds.count
        var nameIdAt = commonIdsStart
        var infoIdsStart = commonIdsStart
        if tracksSymbols {
            if let oldSlot, keepCommon, idsValid {
                labelIds += oldIds[oldSlot.commonIds]
                nameIdAt = commonIdsStart + (oldSlot.nameIdAt - oldSlot.commonIds.lowerBound)
            } else {
                nameIdAt = appendIds(commonLabels)
            }
            infoIdsStart = labelIds.count
            if let oldSlot, keepInfo, idsValid {
                labelIds += oldIds[oldSlot.infoIds]
            } else {
                _ = appendIds(infoLabels)
            }
        }
        return Slot(
            map: map, present: 0, common: commonStart..<infoStart, nameAt: nameAt, info: infoStart..<labels.count,
            commonIds: commonIdsStart..<infoIdsStart, nameIdAt: nameIdAt, infoIds: infoIdsStart..<labelIds.count)
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
        return changes.common ? allBits : changes.info ? infoBit : 0
    }
}
