import ShipperCollect

/// A metric name with its HELP text and type. Every name the shipper emits is declared below.
public struct Metric: Sendable, Hashable {
    public enum Kind: String, Sendable { case gauge, counter }

    public let name: String
    public let help: String
    public let kind: Kind

    package init(name: String, help: String, kind: Kind) {
        self.name = name
        self.help = help
        self.kind = kind
    }

    /// The unit its name ends in, before a counter's `_total` (OpenMetrics: a unit is a suffix of
    /// the name), or "" for none. Remote-write 2.0 sends it with the type and HELP.
    public var unit: String {
        let base = kind == .counter && name.hasSuffix("_total") ? name.dropLast("_total".count) : Substring(name)
        return ["bytes", "seconds"].first { base.hasSuffix("_" + $0) } ?? ""
    }
}

extension Metric {
    public static let mapEntries = Metric(
        name: "ebpf_map_entries",
        help: "Elements in the eBPF map; only for map types that hold a meaningful count.", kind: .gauge)
    public static let mapMaxEntries = Metric(
        name: "ebpf_map_max_entries", help: "Configured capacity (max_entries) of the eBPF map.", kind: .gauge)
    public static let mapPressure = Metric(
        name: "ebpf_map_pressure",
        help: "ebpf_map_entries / ebpf_map_max_entries; at 1 further inserts into the map fail.", kind: .gauge)
    public static let mapMemoryBytes = Metric(
        name: "ebpf_map_memory_bytes", help: "Memory the kernel accounts to the eBPF map (fdinfo memlock).",
        kind: .gauge)
    public static let mapInsertFailures = Metric(
        name: "ebpf_map_insert_failures_total",
        help: "Writes the eBPF map refused because it was full (a new key into a full hash, lpm_trie, queue or stack; a ring buffer reserve or output with no room), since the shipper started counting; only where loss tracking runs.",
        kind: .counter)
    public static let mapEvictions = Metric(
        name: "ebpf_map_evictions_total",
        help: "Entries the LRU eBPF map evicted to make room for new ones, since the shipper started counting; only where loss tracking runs.",
        kind: .counter)
    public static let lossTrackingActive = Metric(
        name: "ebpf_map_shipper_loss_tracking_active",
        help: "1 when refused writes and evictions are counted on this host, 0 when loss tracking is off or the kernel refused its programs.",
        kind: .gauge)
    public static let lossTrackingTypeActive = Metric(
        name: "ebpf_map_shipper_loss_tracking_type_active",
        help: "Per map type, while loss tracking runs: 1 when this kernel lets its losses be counted, 0 when it does not (the log says why); such maps have no loss counters.",
        kind: .gauge)
    public static let lossTrackingArmed = Metric(
        name: "ebpf_map_shipper_loss_tracking_armed",
        help: "Per map type loss tracking counts: 1 while its hooks are attached, 0 while they are not (loss_tracking auto attaches a type's refusal hooks only while one of its maps is near capacity, as nothing can be refused before).",
        kind: .gauge)
    public static let configLastReloadSuccessful = Metric(
        name: "ebpf_map_shipper_config_last_reload_successful",
        help: "1 if the last load of the config (at start, or on SIGHUP) succeeded; 0 if it was refused and the previous one still runs.",
        kind: .gauge)
    public static let configLastReloadSuccessTimestamp = Metric(
        name: "ebpf_map_shipper_config_last_reload_success_timestamp_seconds",
        help: "Unix time of the last successful load of the config.", kind: .gauge)
    public static let mapInfo = Metric(
        name: "ebpf_map_info",
        help: "Constant 1; labels describe the map: sizes, flags, bpffs pins and the programs using it.",
        kind: .gauge)
    public static let mapHolderInfo = Metric(
        name: "ebpf_map_holder_info",
        help: "Constant 1 for each process holding a file descriptor of the map: its pid and comm.", kind: .gauge)

    public static let samplesSent = Metric(
        name: "ebpf_map_shipper_samples_sent_total",
        help: "Samples the endpoint accepted (2xx).", kind: .counter)
    public static let samplesWritten = Metric(
        name: "ebpf_map_shipper_samples_written_total",
        help: "Samples the endpoint said it wrote (remote-write 2.0's X-Prometheus-Remote-Write-Samples-Written header).",
        kind: .counter)
    public static let remoteWriteVersion = Metric(
        name: "ebpf_map_shipper_remote_write_version",
        help: "The remote-write version the endpoint is sent: 2 (io.prometheus.write.v2.Request) or 1 (prometheus.WriteRequest, configured, or fallen back to until restart when a 2.0 request was refused with 415 or accepted without any X-Prometheus-Remote-Write-*-Written header).",
        kind: .gauge)
    public static let samplesDropped = Metric(
        name: "ebpf_map_shipper_samples_dropped_total",
        help: "Samples given up on, by reason: http_4xx (refused by the receiver), queue_full, buffer_full, too_old, corrupt, superseded (a newer Pushgateway state replaced it).",
        kind: .counter)
    public static let sendFailures = Metric(
        name: "ebpf_map_shipper_send_failures_total",
        help: "Failed send attempts, by endpoint and reason (http_5xx, http_429, http_4xx, http_3xx, http_other, connect, timeout, tls, transfer, setup).",
        kind: .counter)
    public static let collectErrors = Metric(
        name: "ebpf_map_shipper_collect_errors_total",
        help: "Failures inside collections, by stage (enumerate, describe, count, memory, programs); each leaves out only what it concerns.",
        kind: .counter)
    public static let collectDuration = Metric(
        name: "ebpf_map_shipper_collect_duration_seconds",
        help: "Wall time of the last collection of every map.", kind: .gauge)
    public static let lastSendSuccess = Metric(
        name: "ebpf_map_shipper_last_send_success_timestamp_seconds",
        help: "Unix time of the endpoint's last accepted request.", kind: .gauge)
    public static let bufferBytes = Metric(
        name: "ebpf_map_shipper_buffer_bytes", help: "Bytes the endpoint's disk buffer occupies.", kind: .gauge)
    public static let bufferSamples = Metric(
        name: "ebpf_map_shipper_buffer_samples", help: "Samples waiting in the endpoint's buffer.", kind: .gauge)
    public static let bufferOldest = Metric(
        name: "ebpf_map_shipper_buffer_oldest_timestamp_seconds",
        help: "Collection time of the oldest sample waiting in the endpoint's buffer.", kind: .gauge)
    public static let bufferCorrupt = Metric(
        name: "ebpf_map_shipper_buffer_corrupt_records_total",
        help: "Damaged records found in the endpoint's disk buffer and skipped.", kind: .counter)
    public static let buildInfo = Metric(
        name: "ebpf_map_shipper_build_info", help: "Constant 1, labelled with the shipper's version.", kind: .gauge)

    /// The per-map metrics, in exposition order.
    public static let mapMetrics: [Metric] = MapMetric.allCases.map(\.metric)

    /// Every metric by name.
    package static let named = Dictionary(uniqueKeysWithValues: allMetrics.map { ($0.name, $0) })

    /// Every metric the shipper emits, for remote-write metadata.
    public static let allMetrics: [Metric] =
        mapMetrics + [.mapHolderInfo] + programMetrics + [
            .samplesSent, .samplesWritten, .remoteWriteVersion, .samplesDropped, .sendFailures, .collectErrors, .collectDuration, .lastSendSuccess, .bufferBytes, .bufferSamples,
            .bufferOldest, .bufferCorrupt, .lossTrackingActive, .lossTrackingTypeActive, .lossTrackingArmed, .configLastReloadSuccessful,
            .configLastReloadSuccessTimestamp, .buildInfo,
        ]
}

/// The per-map metrics by name, in exposition order. Each case gives its metric and its value in
/// an exhaustive switch, so a metric added here without a value does not compile.
public enum MapMetric: Int, CaseIterable, Sendable {
    case entries, maxEntries, pressure, memoryBytes, insertFailures, evictions, info

    public var metric: Metric {
        switch self {
        case .entries: .mapEntries
        case .maxEntries: .mapMaxEntries
        case .pressure: .mapPressure
        case .memoryBytes: .mapMemoryBytes
        case .insertFailures: .mapInsertFailures
        case .evictions: .mapEvictions
        case .info: .mapInfo
        }
    }

    /// The value for `map`; nil where the map has no such series. Inlinable: the frame writer
    /// takes every map's values with it each cycle.
    @inlinable public func value(of map: MapStats) -> Double? {
        switch self {
        case .entries: map.entries.map { Double($0) }
        case .maxEntries: Double(map.maxEntries)
        case .pressure: map.pressure
        case .memoryBytes: map.memoryBytes.map { Double($0) }
        case .insertFailures: map.insertFailures.map { Double($0) }
        case .evictions: map.evictions.map { Double($0) }
        case .info: 1
        }
    }

    /// This metric's bit in a set of one map's series.
    @inlinable package var bit: UInt8 { 1 << rawValue }
}

/// Sent with every request: the IEEE NaN Prometheus reads as "this series ended".
public let staleMarker = Double(bitPattern: 0x7ff0_0000_0000_0002)

/// Turns map statistics into the metric set: which series a map has, their labels and values.
/// The remote-write path (`MapSeriesCache`) and the text path (`samples(for:)`) both read it here.
public enum MetricSet {
    public static func samples(for maps: [MapStats]) -> [Sample] {
        var samples: [Sample] = []
        samples.reserveCapacity(maps.count * Metric.mapMetrics.count)
        for map in maps {
            let labels = labels(of: map)
            let info = infoLabels(of: map, common: labels)
            for metric in MapMetric.allCases {
                guard let value = metric.value(of: map) else { continue }
                samples.append(Sample(metric.metric, metric == .info ? info : labels, value))
            }
            for holder in map.holders ?? [] { samples.append(Sample(.mapHolderInfo, holderLabels(of: map, holder), 1)) }
        }
        return samples
    }

    /// The labels of the info series of one process holding a map: the map's id, the process's
    /// pid and comm.
    package static func holderLabels(of map: MapStats, _ holder: Holder) -> LabelSet {
        LabelSet(["map_id": "\(map.id)", "pid": "\(holder.pid)", "comm": holder.comm])
    }

    /// The labels of a map's series other than its info series. Fixed for a map id.
    package static func labels(of map: MapStats) -> LabelSet {
        LabelSet(["map_id": "\(map.id)", "map_name": map.name, "map_type": map.type.name])
    }

    /// The info series' labels: `common` (from `labels(of:)`) plus sizes, flags, pins and programs.
    package static func infoLabels(of map: MapStats, common: LabelSet) -> LabelSet {
        var info = common
        info["key_size"] = "\(map.keySize)"
        info["value_size"] = "\(map.valueSize)"
        info["flags"] = "0x" + String(map.flags, radix: 16)
        info["pinned_path"] = map.pinned.joined(separator: ",")
        info["programs"] = map.programs.joined(separator: ",")
        return info
    }

    /// Which of a map's label sets differ between two descriptions of it. It reads the fields
    /// `labels(of:)`, `infoLabels(of:common:)` and `holderLabels(of:_:)` read: a field added to one
    /// belongs in the other. Inlinable: the frame writer asks it of every map each cycle.
    @inlinable package static func labelChanges(
        from old: MapStats, to new: MapStats
    ) -> (common: Bool, info: Bool, holders: Bool) {
        let common = old.id != new.id || old.name != new.name || old.type != new.type
        let info = common || old.keySize != new.keySize || old.valueSize != new.valueSize || old.flags != new.flags
            || old.pinned != new.pinned || old.programs != new.programs
        return (common, info, common || old.holders != new.holders)
    }
}
