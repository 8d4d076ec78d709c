import ShipperMetrics

/// Series in remote-write bytes, back to back, with where each one ends: the plain encoding of
/// samples (tests, and the shipper's own series each cycle). Its storage is reused.
struct SeriesBuffer {
    /// WriteRequest.timeseries entries.
    private var sink = ByteSink()
    /// `ends[i]` is the byte after series i.
    private var ends: [Int] = []

    var count: Int { ends.count }
    var bytes: ArraySlice<UInt8> { sink.written }

    mutating func removeAll() {
        sink.removeAll()
        ends.removeAll(keepingCapacity: true)
    }

    mutating func append(_ sample: Sample, externalLabels: LabelSet, timestamp: RemoteWriteWire.Timestamp) {
        RemoteWriteWire.appendSeries(Self.labels(of: sample, externalLabels: externalLabels), value: sample.value, timestamp: timestamp, to: &sink)
        ends.append(sink.count)
    }

    /// The bytes of the series in `series`.
    func byteRange(ofSeries series: Range<Int>) -> Range<Int> {
        guard !series.isEmpty else { return 0..<0 }
        return (series.lowerBound == 0 ? 0 : ends[series.lowerBound - 1])..<ends[series.upperBound - 1]
    }

    /// A sample's series labels: its own with `__name__` and the external labels merged in (the
    /// sample's label wins over an external one of the same name), sorted.
    static func labels(of sample: Sample, externalLabels: LabelSet) -> LabelSet {
        var labels = externalLabels
        for (name, value) in sample.labels { labels[name] = value }
        labels["__name__"] = sample.metric.name
        return labels
    }
}
