
/// Remembers which of the shipper's own series the last cycle sent, so that one that disappears
/// (the oldest-sample gauge of a buffer that emptied) gets a stale marker at once instead of
/// lingering on dashboards for Prometheus's five-minute lookback.
/// These series are few (the shipper's own, and one set per loaded program); the maps' series are
/// tracked per map id by `FrameWriter`.
package struct StaleTracker {
    private struct SeriesKey: Hashable {
        var metric: Metric
        var labels: LabelSet
    }

    private var previous: Set<SeriesKey> = []

    package init() {}

    /// Stale markers for the series sent last cycle and missing from `current`.
    package mutating func markers(after current: [Sample]) -> [Sample] {
        let keys = Set(current.map { SeriesKey(metric: $0.metric, labels: $0.labels) })
        defer { previous = keys }
        return previous.subtracting(keys).map { Sample($0.metric, $0.labels, staleMarker) }
    }
}
