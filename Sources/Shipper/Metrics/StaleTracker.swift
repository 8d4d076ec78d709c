/// Remembers which series the last cycle sent, so that a series that disappears (its map was
/// unloaded, or its labels changed) gets a stale marker at once instead of lingering on
/// dashboards for Prometheus's five-minute lookback.
struct StaleTracker {
    private struct SeriesKey: Hashable {
        var metric: Metric
        var labels: LabelSet
    }

    private var previous: Set<SeriesKey> = []

    /// Stale markers for the series sent last cycle and missing from `current`.
    mutating func markers(after current: [Sample]) -> [Sample] {
        var now = Set<SeriesKey>(minimumCapacity: current.count)
        for sample in current { now.insert(SeriesKey(metric: sample.metric, labels: sample.labels)) }
        let gone = previous.subtracting(now)
        previous = now
        return gone.map { Sample($0.metric, $0.labels, staleMarker) }
    }
}
