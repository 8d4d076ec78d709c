import ShipperMetrics

@testable import ShipperEncode

/// The plain path from samples to a request, label by label with no cache: what the tests hold
/// the frame encoders to, and how they make requests of their own.
extension RemoteWriteEncoder {
    /// One 1.0 request holding every sample, its series' labels merged with `externalLabels`.
    func encode(
        _ samples: some Collection<Sample>, timestampMs: Int64, externalLabels: LabelSet, metadata: [Metric] = []
    ) -> [UInt8] {
        let timestamp = RemoteWriteWire.Timestamp(milliseconds: timestampMs)
        var body = ByteSink()
        for sample in samples {
            RemoteWriteWire.appendSeries(sample.seriesLabels(merging: externalLabels), value: sample.value, timestamp: timestamp, to: &body)
        }
        for metric in metadata { RemoteWriteWire.appendMetadata(metric, to: &body) }
        compress(body.written)
        return endBody()
    }

    /// One 2.0 request holding every sample, its series' labels merged with `externalLabels`. Each
    /// series carries its metric's type, HELP and unit, and a counter whose metric is in
    /// `startTimestamps` its start timestamp, in milliseconds.
    func encodeV2(
        _ samples: some Collection<Sample>, timestampMs: Int64, externalLabels: LabelSet,
        startTimestamps: [Metric: Int64] = [:]
    ) -> [UInt8] {
        var symbols = StringIds()  // a fresh one: each id is the string's ref
        var series = ByteSink()
        var refs: [UInt32] = []
        let timestamp = RemoteWriteWire.Timestamp(milliseconds: timestampMs)
        for sample in samples {
            refs.removeAll(keepingCapacity: true)
            for (name, value) in sample.seriesLabels(merging: externalLabels).pairs {
                refs.append(symbols.id(name))
                refs.append(symbols.id(value))
            }
            let metric = sample.metric
            let metadata = RemoteWriteV2Wire.Metadata(
                type: metric.kind.metadataType, helpRef: symbols.id(metric.help), unitRef: symbols.id(metric.unit))
            let start = metric.kind == .counter ? startTimestamps[metric] ?? 0 : 0
            RemoteWriteV2Wire.appendSeries(
                refs: refs, value: sample.value, timestamp: timestamp, metadata: metadata, startMs: start, to: &series)
        }
        return endV2Body(symbols: symbols, series: series)
    }
}
