import ShipperMetrics

/// Remote-write 1.0 requests (prometheus.WriteRequest) from frames, for one endpoint.
///
/// Keeps the label entries of the last frame table it read, encoded, so while the series stay
/// the same a request is written from those bytes and each frame's values: no label is built,
/// merged or sorted, and no string is looked up. Series that differ only in their name (a map's
/// count series) share one run of entries, with the `__name__` entry written into its place, so
/// a map's labels are kept once. Series are compressed as they are written, 64 KiB at a time, so a
/// request is never held uncompressed. Not Sendable: one per sending thread.
package final class RemoteWriteV1Encoder: RequestEncoder {
    package let message = RemoteWriteMessage.v1
    private let compressor = RemoteWriteEncoder()
    private var tableId: UInt64 = 0
    /// Label entries: each distinct run of a series' labels but its name, and each name's entry.
    private var labels = ByteSink()
    /// Where each series' labels lie in `labels`: its run, where its name goes in it, and its name.
    private struct Layout {
        var run: Range<Int>
        var nameAt: Int
        var name: Range<Int>
    }

    private var layouts: [Layout] = []
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
        // The sink is worked on as a local: a class's stored property is checked for exclusive
        // access at every use, which the per-series loop would pay for each series.
        var sink = ByteSink()
        swap(&sink, &self.sink)
        defer { swap(&sink, &self.sink) }
        for run in requestRuns(frames, maxSamples: maxSamples) {
            sink.removeAll()
            var samples = 0
            for (index, series) in run {
                let frame = frames[index]
                guard load(frame) else { return nil }
                let timestamp = RemoteWriteWire.Timestamp(milliseconds: frame.timestampMs)
                labels.written.withUnsafeBytes { labels in
                    layouts.withUnsafeBufferPointer { layouts in
                        frame.withValues { values in
                            timestamp.bytes.withUnsafeBytes { stamp in
                                for series in series {
                                    let layout = layouts[series]
                                    let size = layout.run.count + layout.name.count
                                    sink.write(RemoteWriteWire.seriesSize(labelBytes: size, timestamp: stamp.count)) { writer in
                                        RemoteWriteWire.writeSeriesStart(labelBytes: size, timestamp: stamp.count, to: &writer)
                                        // Most series' names sort first: nothing before them.
                                        if layout.nameAt > layout.run.lowerBound {
                                            writer.write(UnsafeRawBufferPointer(rebasing: labels[layout.run.lowerBound..<layout.nameAt]))
                                        }
                                        writer.write(UnsafeRawBufferPointer(rebasing: labels[layout.name]))
                                        writer.write(UnsafeRawBufferPointer(rebasing: labels[layout.nameAt..<layout.run.upperBound]))
                                        RemoteWriteWire.writeSample(values[series], stamp, to: &writer)
                                    }
                                    if sink.count >= Self.spillBytes {
                                        compressor.compress(sink.written)
                                        sink.removeAll()
                                    }
                                }
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
        if frame.tableId == tableId && layouts.count == frame.seriesCount { return true }
        tableId = 0
        labels.removeAll()
        layouts.removeAll(keepingCapacity: true)
        families.removeAll()
        var seen: Set<String> = []
        var nameEntries: [UInt32: Range<Int>] = [:]
        // The last run's refs (its series' labels but the name), to find the next series sharing it.
        var lastRun: [UInt32] = []
        var runRefs: [UInt32] = []
        var last: (run: Range<Int>, nameAt: Int)?
        guard let raw = frame.rawTable(), FrameTable.read(raw[...], seriesCount: frame.seriesCount, visit: { series, strings in
            var nameRef: UInt32?
            var namePair = series.refs.endIndex
            runRefs.removeAll(keepingCapacity: true)
            for pair in stride(from: series.refs.startIndex, to: series.refs.endIndex, by: 2) {
                if strings[Int(series.refs[pair])] == "__name__" {
                    nameRef = series.refs[pair + 1]
                    namePair = pair
                } else {
                    runRefs += series.refs[pair...pair + 1]
                }
            }
            if last == nil || runRefs != lastRun {
                let start = labels.count
                var nameAt = start
                for pair in stride(from: series.refs.startIndex, to: series.refs.endIndex, by: 2) where pair != namePair {
                    RemoteWriteWire.appendLabel(strings[Int(series.refs[pair])], strings[Int(series.refs[pair + 1])], to: &labels)
                    if pair < namePair { nameAt = labels.count }
                }
                last = (start..<labels.count, nameAt)
                swap(&lastRun, &runRefs)
            }
            var name = 0..<0
            if let nameRef {
                if let entry = nameEntries[nameRef] {
                    name = entry
                } else {
                    let start = labels.count
                    RemoteWriteWire.appendLabel("__name__", strings[Int(nameRef)], to: &labels)
                    name = start..<labels.count
                    nameEntries[nameRef] = name
                }
                let family = strings[Int(nameRef)]
                if series.kind != .unknown, seen.insert(family).inserted {
                    families.append(Metric(name: family, help: strings[Int(series.help)], kind: series.kind == .counter ? .counter : .gauge))
                }
            }
            layouts.append(Layout(run: last!.run, nameAt: last!.nameAt, name: name))
        }) != nil else {
            layouts.removeAll()
            return false
        }
        tableId = frame.tableId
        return true
    }
}
