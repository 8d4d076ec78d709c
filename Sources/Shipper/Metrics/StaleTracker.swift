/// Remembers which series the last cycle sent, so that a series that disappears (its map was
/// unloaded, its count became unknown, its info labels changed) gets a stale marker at once
/// instead of lingering on dashboards for Prometheus's five-minute lookback.
///
/// Map series are tracked per map id, by which of the map metrics were present and by the info
/// labels: a map's name and type never change for its id, so the other labels need no
/// comparison, and a cycle costs one dictionary entry per map instead of a hash of every label
/// set. Series without a map id (the shipper's own) are few and tracked one by one.
struct StaleTracker {
    private struct SeriesKey: Hashable {
        var metric: Metric
        var labels: LabelSet
    }

    private struct MapSeries {
        /// Bit i set: `Metric.mapMetrics[i]` was sent.
        var metrics: UInt8 = 0
        /// The labels of the map's series other than its info series.
        var labels = LabelSet()
        var info: LabelSet?
    }

    private var previousMaps: [String: MapSeries] = [:]
    private var previousOthers: Set<SeriesKey> = []

    /// Stale markers for the series sent last cycle and missing from `current`.
    mutating func markers(after current: [Sample]) -> [Sample] {
        var maps: [String: MapSeries] = [:]
        maps.reserveCapacity(previousMaps.count)
        var others: Set<SeriesKey> = []
        for sample in current {
            guard let id = sample.labels["map_id"],
                let index = Metric.mapMetrics.firstIndex(where: { $0.name == sample.metric.name })
            else {
                others.insert(SeriesKey(metric: sample.metric, labels: sample.labels))
                continue
            }
            maps[id, default: MapSeries()].metrics |= 1 << index
            if sample.metric.name == Metric.mapInfo.name {
                maps[id]?.info = sample.labels
            } else {
                maps[id]?.labels = sample.labels
            }
        }

        var markers: [Sample] = []
        for (id, before) in previousMaps {
            let now = maps[id]
            let gone = before.metrics & ~(now?.metrics ?? 0)
            for (index, metric) in Metric.mapMetrics.enumerated() where gone & (1 << index) != 0 {
                markers.append(Sample(metric, metric == .mapInfo ? before.info ?? before.labels : before.labels, staleMarker))
            }
            if let info = before.info, let current = now?.info, info != current {
                markers.append(Sample(.mapInfo, info, staleMarker))
            }
        }
        for key in previousOthers.subtracting(others) { markers.append(Sample(key.metric, key.labels, staleMarker)) }
        previousMaps = maps
        previousOthers = others
        return markers
    }
}
