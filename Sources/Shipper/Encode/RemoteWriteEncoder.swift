internal import CRemoteWrite

/// Turns a cycle's series into snappy-compressed remote-write request bodies: 1.0 here, 2.0 in
/// RemoteWriteEncoder+V2.swift. With DecodedWriteRequest.swift, the only Swift files that use the
/// protobuf and snappy half of CRemoteWrite.
///
/// Series are compressed as they are written, 64 KiB at a time, so a request is never held
/// uncompressed. The C side keeps its buffers between requests, and so does `sink` here, so
/// steady-state encoding allocates only the bodies it returns.
/// Not Sendable: one encoder per thread.
final class RemoteWriteEncoder {
    private let handle: OpaquePointer
    /// The series of the request being written.
    var sink = ByteSink()
    /// 2.0: the refs of the request being written, and its symbols' bytes.
    var requestSymbols = RequestSymbols()
    var symbolSink = ByteSink()

    init() {
        guard let handle = crw_encoder_new() else { fatalError("out of memory allocating the remote-write encoder") }
        self.handle = handle
    }

    deinit { crw_encoder_free(handle) }

    /// One request per run of up to `maxSamples` series, in order; the first also carries the
    /// type and HELP of `metadata`.
    func requests(_ series: MapSeriesCache, maxSamples: Int, metadata: [Metric], timestampMs: Int64) -> [EncodedBatch] {
        var batches: [EncodedBatch] = []
        series.write(maxSamples: maxSamples, into: &sink, spill: { compress($0.written) }) { run, count in
            if batches.isEmpty { for metric in metadata { RemoteWriteWire.appendMetadata(metric, to: &run) } }
            compress(run.written)
            batches.append(EncodedBatch(body: endBody(), sampleCount: count, timestampMs: timestampMs))
        }
        return batches
    }

    /// One request holding every sample, labels merged as `SeriesBuffer.append` does: the plain
    /// path, which the tests hold `MapSeriesCache` to and use to make requests of their own.
    func encode(
        _ samples: some Collection<Sample>, timestampMs: Int64, externalLabels: LabelSet, metadata: [Metric] = []
    ) -> [UInt8] {
        var series = SeriesBuffer()
        let timestamp = RemoteWriteWire.Timestamp(milliseconds: timestampMs)
        for sample in samples { series.append(sample, externalLabels: externalLabels, timestamp: timestamp) }
        var body = ByteSink()
        body.append(series.bytes)
        for metric in metadata { RemoteWriteWire.appendMetadata(metric, to: &body) }
        compress(body.written)
        return endBody()
    }

    /// One request holding every series of `bodies`, in order: protobuf concatenates repeated
    /// fields, so requests merge by joining their uncompressed bytes. Used to replay a backlog in
    /// requests of up to max_samples_per_send samples instead of one per collection.
    /// nil if a body is not snappy (check with `isValidBody` first) or memory ran out.
    func merge(_ bodies: [[UInt8]]) -> [UInt8]? {
        let joined = Array(bodies.joined())
        let lengths = bodies.map(\.count)
        return joined.withUnsafeBufferPointer { joined in
            var out: UnsafePointer<UInt8>?
            var length = 0
            guard crw_merge(handle, joined.baseAddress, lengths, lengths.count, &out, &length) == 0, let out else { return nil }
            return Array(UnsafeBufferPointer(start: out, count: length))
        }
    }

    /// Whether a body read back from disk is a whole snappy block, as every body this encoder
    /// writes is: checked without decompressing it.
    func isValidBody(_ body: [UInt8]) -> Bool {
        body.withUnsafeBufferPointer { crw_body_is_valid($0.baseAddress, $0.count) != 0 }
    }

    /// Adds bytes to the body being compressed.
    func compress(_ raw: ArraySlice<UInt8>) {
        let result = raw.withUnsafeBufferPointer { crw_compress_write(handle, $0.baseAddress, $0.count) }
        // Only an exhausted heap, or a request of 4 GiB, gets here.
        precondition(result == 0, "compressing a remote-write request failed: \(result)")
    }

    /// The compressed body of everything added since the last one.
    func endBody() -> [UInt8] {
        var out: UnsafePointer<UInt8>?
        var length = 0
        let result = crw_compress_end(handle, &out, &length)
        precondition(result == 0 && out != nil, "compressing a remote-write request failed: \(result)")
        return Array(UnsafeBufferPointer(start: out, count: length))
    }
}
