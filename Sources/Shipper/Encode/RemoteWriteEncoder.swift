internal import CRemoteWrite

/// Builds snappy-compressed remote-write 1.0 requests. The only Swift file that uses the
/// protobuf and snappy half of CRemoteWrite.
///
/// Every buffer (string arena, label and sample arrays, and the C side's protobuf structures and
/// output) is kept between requests, so steady-state encoding does not allocate per sample.
/// Not Sendable: one encoder per sending thread.
final class RemoteWriteEncoder {
    private let handle: OpaquePointer
    private var arena: [UInt8] = []
    private var labels: [crw_label] = []
    private var series: [crw_series] = []
    private var samples: [crw_sample] = []
    private var metadata: [crw_metadata] = []

    init() {
        guard let handle = crw_encoder_new() else { fatalError("out of memory allocating the remote-write encoder") }
        self.handle = handle
    }

    deinit { crw_encoder_free(handle) }

    /// One request: each sample becomes a series with one sample at `timestampMs`, its labels
    /// merged with `__name__` and the external labels (a series' own label wins), sorted.
    func encode(
        _ batch: some Collection<Sample>, timestampMs: Int64, externalLabels: LabelSet, metadata families: [Metric] = []
    ) -> [UInt8] {
        arena.removeAll(keepingCapacity: true)
        labels.removeAll(keepingCapacity: true)
        series.removeAll(keepingCapacity: true)
        samples.removeAll(keepingCapacity: true)
        metadata.removeAll(keepingCapacity: true)

        for sample in batch {
            let labelStart = UInt32(labels.count)
            appendMergedLabels(name: sample.metric.name, own: sample.labels, external: externalLabels)
            series.append(
                crw_series(
                    label_start: labelStart, label_count: UInt32(labels.count) - labelStart,
                    sample_start: UInt32(samples.count), sample_count: 1))
            samples.append(crw_sample(value: sample.value, timestamp_ms: timestampMs))
        }
        for family in families {
            metadata.append(crw_metadata(type: family.kind.metadataType, family: intern(family.name), help: intern(family.help)))
        }
        return pack()
    }

    /// One request holding every series of `bodies`, in order: protobuf concatenates repeated
    /// fields, so requests merge by joining their uncompressed bytes. Used to replay a backlog in
    /// requests of up to max_samples_per_send samples instead of one per collection.
    func merge(_ bodies: [[UInt8]]) -> [UInt8] {
        let joined = Array(bodies.joined())
        let lengths = bodies.map(\.count)
        return joined.withUnsafeBufferPointer { joined in
            var out: UnsafePointer<UInt8>?
            var length = 0
            let result = crw_merge(handle, joined.baseAddress, lengths, lengths.count, &out, &length)
            // Our own encoder wrote every body, and the disk buffer checked their CRCs.
            precondition(result == 0 && out != nil, "merging remote-write requests failed: \(result)")
            return Array(UnsafeBufferPointer(start: out, count: length))
        }
    }

    private func pack() -> [UInt8] {
        arena.withUnsafeBufferPointer { arena in
            series.withUnsafeBufferPointer { series in
                labels.withUnsafeBufferPointer { labels in
                    samples.withUnsafeBufferPointer { samples in
                        metadata.withUnsafeBufferPointer { metadata in
                            var request = crw_request(
                                arena: arena.baseAddress, arena_length: arena.count, series: series.baseAddress,
                                series_count: series.count, labels: labels.baseAddress, label_count: labels.count,
                                samples: samples.baseAddress, sample_count: samples.count,
                                metadata: metadata.baseAddress, metadata_count: metadata.count)
                            var body: UnsafePointer<UInt8>?
                            var length = 0
                            let result = crw_encode(handle, &request, &body, &length)
                            // Only a bug in the arrays above or an exhausted heap gets here.
                            precondition(result == 0 && body != nil, "remote-write encoding failed: \(result)")
                            return Array(UnsafeBufferPointer(start: body, count: length))
                        }
                    }
                }
            }
        }
    }

    /// Three sorted label lists merged into one: `__name__`, the sample's own, the external ones.
    /// On equal names the series' own label wins over the external one.
    private func appendMergedLabels(name: String, own: LabelSet, external: LabelSet) {
        var owned = own.pairs[...]
        var externals = external.pairs[...]
        var namePending = true
        while true {
            var next = owned.first
            let isName = namePending && (next.map { "__name__" < $0.name } ?? true)
            if isName { next = ("__name__", name) }
            let theirs = externals.first
            if let mine = next, theirs.map({ mine.name <= $0.name }) ?? true {
                if theirs?.name == mine.name { externals = externals.dropFirst() }
                append(mine.name, mine.value)
                if isName { namePending = false } else { owned = owned.dropFirst() }
            } else if let theirs {
                append(theirs.name, theirs.value)
                externals = externals.dropFirst()
            } else {
                return
            }
        }
    }

    private func append(_ name: String, _ value: String) {
        labels.append(crw_label(name: intern(name), value: intern(value)))
    }

    /// Appends a NUL-terminated string to the arena and returns its offset.
    private func intern(_ text: String) -> UInt32 {
        let offset = UInt32(arena.count)
        arena.append(contentsOf: text.utf8)
        arena.append(0)
        return offset
    }
}

extension Metric.Kind {
    /// The MetricMetadata.MetricType number.
    var metadataType: Int32 {
        switch self {
        case .counter: 1
        case .gauge: 2
        }
    }
}

/// A decoded request: what a receiver sees. Used by the tests' receivers and for diagnostics.
struct DecodedWriteRequest: Sendable, Equatable {
    struct Series: Sendable, Equatable {
        var labels: [(name: String, value: String)]
        var samples: [(value: Double, timestampMs: Int64)]

        static func == (a: Series, b: Series) -> Bool {
            a.labels.elementsEqual(b.labels) { $0 == $1 }
                && a.samples.elementsEqual(b.samples) { $0.value.bitPattern == $1.value.bitPattern && $0.timestampMs == $1.timestampMs }
        }

        /// The value of one label, nil if absent.
        subscript(label: String) -> String? { labels.first { $0.name == label }?.value }
    }

    struct Metadata: Sendable, Equatable {
        var type: Int32
        var family: String
        var help: String
    }

    var series: [Series]
    var metadata: [Metadata]

    /// Decompresses (snappy block format) and unpacks a request body; nil if it is neither.
    init?(body: [UInt8]) {
        var decoded: OpaquePointer?
        let result = body.withUnsafeBufferPointer { crw_decode($0.baseAddress, $0.count, &decoded) }
        guard result == 0, let decoded else { return nil }
        defer { crw_decoded_free(decoded) }
        series = (0..<crw_decoded_series_count(decoded)).map { index in
            Series(
                labels: (0..<crw_decoded_label_count(decoded, index)).map { label in
                    var name: UnsafePointer<CChar>?
                    var value: UnsafePointer<CChar>?
                    crw_decoded_label(decoded, index, label, &name, &value)
                    return (String(cString: name!), String(cString: value!))
                },
                samples: (0..<crw_decoded_sample_count(decoded, index)).map { sample in
                    var value = 0.0
                    var timestamp: Int64 = 0
                    crw_decoded_sample(decoded, index, sample, &value, &timestamp)
                    return (value, timestamp)
                })
        }
        metadata = (0..<crw_decoded_metadata_count(decoded)).map { index in
            var type: Int32 = 0
            var family: UnsafePointer<CChar>?
            var help: UnsafePointer<CChar>?
            crw_decoded_metadata(decoded, index, &type, &family, &help)
            return Metadata(type: type, family: String(cString: family!), help: String(cString: help!))
        }
    }
}
