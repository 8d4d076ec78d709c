
/// Remote-write 2.0 requests (io.prometheus.write.v2.Request) from frames, for one endpoint.
///
/// A frame's strings are already numbered, each once: a request maps those numbers to its own refs
/// through a flat array (`RequestSymbols`), so a series is written with two array reads per
/// string and no string is hashed. While the series stay the same, each run's labels_refs and
/// metadata fields are the bytes the last run of the same frames wrote, kept with the run's
/// symbols (`layouts`): the steady state copies bytes, as 1.0's does. Every series carries its
/// type, HELP and unit, and a counter its start timestamp in its sample (rc.4).
/// Not Sendable: one per sending thread.
package final class RemoteWriteV2Encoder: RequestEncoder {
    package let message = RemoteWriteMessage.v2
    private let compressor = RemoteWriteEncoder()
    private var table: FrameTable?
    private var tableId: UInt64 = 0
    private var symbols = RequestSymbols()
    private var sink = ByteSink()
    private var symbolSink = ByteSink()
    private var refs: [UInt32] = []

    /// A run's series as written: labels_refs and metadata of each, and the run's symbols.
    private struct Layout {
        var labels = ByteSink()
        var ends: [Int] = []
        var symbols: [UInt32] = []
    }

    /// The layouts of the runs of the last table, by the series they cover.
    private var layouts: [Range<Int>: Layout] = [:]

    package init() {}

    package func requests(_ frames: [Frame], maxSamples: Int) -> [EncodedRequest]? {
        // A request's refs are those of one table: frames of another table start another request.
        var requests: [EncodedRequest] = []
        var start = 0
        while start < frames.count {
            var end = start + 1
            while end < frames.count && frames[end].tableId == frames[start].tableId { end += 1 }
            guard load(frames[start]), let table else { return nil }
            requests += self.requests(Array(frames[start..<end]), table: table, maxSamples: maxSamples)
            start = end
        }
        return requests
    }

    /// Requests of frames that share `table`.
    private func requests(_ frames: [Frame], table: FrameTable, maxSamples: Int) -> [EncodedRequest] {
        var requests: [EncodedRequest] = []
        // Worked on as a local: a class's stored property is checked for exclusive access at every use.
        var sink = ByteSink()
        swap(&sink, &self.sink)
        defer { swap(&sink, &self.sink) }
        for run in requestRuns(frames, maxSamples: maxSamples) {
            // Only a run within one frame is laid out the same every time.
            let cacheKey = run.count == 1 ? run[0].series : nil
            sink.removeAll()
            var samples = 0
            if let cacheKey, let layout = layouts[cacheKey] {
                let frame = frames[run[0].frame]
                let timestamp = RemoteWriteWire.Timestamp(milliseconds: frame.timestampMs)
                layout.labels.written.withUnsafeBytes { labels in
                    frame.withValues { values in
                        for (position, series) in cacheKey.enumerated() {
                            let range = (position == 0 ? 0 : layout.ends[position - 1])..<layout.ends[position]
                            RemoteWriteV2Wire.appendSeries(
                                labels: UnsafeRawBufferPointer(rebasing: labels[range]), value: values[series],
                                timestamp: timestamp, startMs: frame.startMs(table.starts[series]), to: &sink)
                        }
                    }
                }
                symbols.start(idCount: table.strings.count)
                symbols.restore(layout.symbols)
                samples = cacheKey.count
            } else {
                symbols.start(idCount: table.strings.count)
                var layout = Layout()
                for (index, range) in run {
                    let frame = frames[index]
                    let timestamp = RemoteWriteWire.Timestamp(milliseconds: frame.timestampMs)
                    frame.withValues { values in
                        for series in range {
                            refs.removeAll(keepingCapacity: true)
                            for ref in table.refs(of: series) { refs.append(symbols.ref(ref)) }
                            let metadata = RemoteWriteV2Wire.Metadata(
                                type: Int32(table.kinds[series].rawValue), helpRef: symbols.ref(table.helps[series]),
                                unitRef: symbols.ref(table.units[series]))
                            if cacheKey != nil {
                                RemoteWriteV2Wire.appendLabelsAndMetadata(refs: refs, metadata: metadata, to: &layout.labels)
                                layout.ends.append(layout.labels.count)
                            }
                            RemoteWriteV2Wire.appendSeries(
                                refs: refs, value: values[series], timestamp: timestamp, metadata: metadata,
                                startMs: frame.startMs(table.starts[series]), to: &sink)
                        }
                    }
                    samples += range.count
                }
                if let cacheKey {
                    layout.symbols = symbols.ids
                    layouts[cacheKey] = layout
                }
            }
            symbolSink.removeAll()
            symbols.write(table.strings, to: &symbolSink)
            compressor.compress(symbolSink.written)
            compressor.compress(sink.written)
            requests.append(EncodedRequest(body: compressor.endBody(), samples: samples))
        }
        return requests
    }

    /// Makes `frame`'s table the current one; false if it cannot be read.
    private func load(_ frame: Frame) -> Bool {
        if frame.tableId == tableId, let table, table.count == frame.seriesCount { return true }
        guard let decoded = frame.decodeTable() else { return false }
        table = decoded
        tableId = frame.tableId
        layouts.removeAll()
        return true
    }
}
