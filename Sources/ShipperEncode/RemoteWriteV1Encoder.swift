import ShipperMetrics

/// Remote-write 1.0 requests (prometheus.WriteRequest) from frames, for one endpoint.
///
/// Keeps the label entries of the last frame table it read, encoded, so while the series stay
/// the same a request is written from those bytes and each frame's values: no label is built,
/// merged or sorted, and no string is looked up. Series are compressed as they are written, 64 KiB
/// at a time, so a request is never held uncompressed. Not Sendable: one per sending thread.
package final class RemoteWriteV1Encoder: RequestEncoder {
    package let message = RemoteWriteMessage.v1
    private let compressor = RemoteWriteEncoder()
    private var tableId: UInt64 = 0
    /// Every series' label entries (`__name__` among them), one after another.
    private var labels = ByteSink()
    private var labelEnds: [Int] = []
    /// The table's metric families, for the metadata sent with the first request and then at
    /// `metadataInterval`, as Prometheus does.
    private var families: [Metric] = []
    private var lastMetadata: ContinuousClock.Instant?
    private var sink = ByteSink()
    static let metadataInterval: Duration = .seconds(60)

    package init() {}
    /// A request is compressed in pieces of about this many bytes.
    static let spillBytes = 64 << 10

    package func requests(_ frames: [Frame], maxSamples: Int) -> [EncodedRequest]? {
        var requests: [EncodedRequest] = []
        var metadataDue = lastMetadata.map { ContinuousClock.now - $0 >= Self.metadataInterval } ?? true
        for run in requestRuns(frames, maxSamples: maxSamples) {
            sink.removeAll()
            var samples = 0
            for (index, series) in run {
                let frame = frames[index]
                guard load(frame) else { return nil }
                let timestamp = RemoteWriteWire.Timestamp(milliseconds: frame.timestampMs)
                labels.written.withUnsafeBytes { labels in
                    timestamp.bytes.withUnsafeBytes { stamp in
                        for series in series {
                            let range = (series == 0 ? 0 : labelEnds[series - 1])..<labelEnds[series]
                            sink.write(RemoteWriteWire.seriesSize(labelBytes: range.count, timestamp: stamp.count)) { writer in
                                RemoteWriteWire.writeSeriesStart(labelBytes: range.count, timestamp: stamp.count, to: &writer)
                                writer.write(UnsafeRawBufferPointer(rebasing: labels[range]))
                                RemoteWriteWire.writeSample(frame.value(series), stamp, to: &writer)
                            }
                            if sink.count >= Self.spillBytes {
                                compressor.compress(sink.written)
                                sink.removeAll()
                            }
                        }
                    }
                }
                samples += series.count
            }
            if metadataDue {
                for metric in families { RemoteWriteWire.appendMetadata(metric, to: &sink) }
                metadataDue = false
                lastMetadata = ContinuousClock.now
            }
            compressor.compress(sink.written)
            requests.append(EncodedRequest(body: compressor.endBody(), samples: samples))
        }
        return requests
    }

    /// Makes `frame`'s table the one the label entries come from; false if it cannot be read.
    /// The table is read series by series straight into label entries, never held decoded.
    private func load(_ frame: Frame) -> Bool {
        if frame.tableId == tableId && labelEnds.count == frame.seriesCount { return true }
        tableId = 0
        labels.removeAll()
        labelEnds.removeAll(keepingCapacity: true)
        families.removeAll()
        var seen: Set<String> = []
        guard let raw = frame.rawTable(), FrameTable.read(raw[...], seriesCount: frame.seriesCount, visit: { series, strings in
            var name: String?
            for pair in stride(from: series.refs.startIndex, to: series.refs.endIndex, by: 2) {
                let label = strings[Int(series.refs[pair])]
                let value = strings[Int(series.refs[pair + 1])]
                RemoteWriteWire.appendLabel(label, value, to: &labels)
                if label == "__name__" { name = value }
            }
            labelEnds.append(labels.count)
            if let name, series.kind != .unknown, seen.insert(name).inserted {
                families.append(Metric(name: name, help: strings[Int(series.help)], kind: series.kind == .counter ? .counter : .gauge))
            }
        }) != nil else {
            labelEnds.removeAll()
            return false
        }
        tableId = frame.tableId
        return true
    }
}
