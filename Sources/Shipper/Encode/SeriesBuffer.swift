/// Series in remote-write bytes, back to back, with where each one ends: one cycle's series before
/// they are cut into requests. Kept between cycles so that its storage, and in steady state its
/// bytes, are reused.
struct SeriesBuffer {
    /// WriteRequest.timeseries entries.
    private(set) var bytes: [UInt8] = []
    /// `ends[i]` is the byte after series i.
    private(set) var ends: [Int] = []

    var count: Int { ends.count }

    /// Keeps the first `count` series.
    mutating func removeSeries(from count: Int) {
        bytes.removeSubrange(byteRange(ofSeries: 0..<count).upperBound...)
        ends.removeSubrange(count...)
    }

    /// A series for the sample: its labels with `__name__` and the external labels merged in (the
    /// series' own label wins over an external one of the same name), sorted.
    mutating func append(_ sample: Sample, externalLabels: LabelSet, timestamp: RemoteWriteWire.Timestamp) {
        var labels = externalLabels
        for (name, value) in sample.labels { labels[name] = value }
        labels["__name__"] = sample.metric.name
        RemoteWriteWire.appendSeries(labels, value: sample.value, timestamp: timestamp, to: &bytes)
        ends.append(bytes.count)
    }

    /// A copy of series `index` of `other`, with `value` and `timestamp` stored into it. `other`
    /// must have been written with a timestamp of the same varint length.
    mutating func append(series index: Int, of other: SeriesBuffer, value: Double, timestamp: RemoteWriteWire.Timestamp) {
        bytes.append(contentsOf: other.bytes[other.byteRange(ofSeries: index..<index + 1)])
        let end = bytes.count
        timestamp.bytes.withUnsafeBytes { stamp in
            bytes.withUnsafeMutableBytes { RemoteWriteWire.store(value, stamp, atEndOfSeries: end, in: $0) }
        }
        ends.append(end)
    }

    /// Lets `body` store values and timestamps into the series in place (`RemoteWriteWire.store`).
    mutating func withStorage<Result>(
        _ body: (UnsafeMutableRawBufferPointer, UnsafeBufferPointer<Int>) -> Result
    ) -> Result {
        let ends = ends
        return ends.withUnsafeBufferPointer { ends in bytes.withUnsafeMutableBytes { body($0, ends) } }
    }

    /// The bytes of the series in `series`.
    func byteRange(ofSeries series: Range<Int>) -> Range<Int> {
        guard !series.isEmpty else { return 0..<0 }
        return (series.lowerBound == 0 ? 0 : ends[series.lowerBound - 1])..<ends[series.upperBound - 1]
    }
}
