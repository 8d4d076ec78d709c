internal import CRemoteWrite
import Glibc
import ShipperMetrics

/// Snappy compression of request bodies (the C side keeps its buffers between requests, so
/// steady-state encoding allocates only the bodies it returns), the plain path from samples to a
/// request that the tests hold the frame encoders to, and the bodies releases before frames
/// buffered (RemoteWriteEncoder+V2.swift). With DecodedWriteRequest.swift, the only Swift files
/// that use the protobuf and snappy half of CRemoteWrite. Not Sendable: one encoder per thread.
package final class RemoteWriteEncoder {
    private let handle: OpaquePointer
    var symbolSink = ByteSink()

    package init() {
        guard let handle = crw_encoder_new() else { fatalError("out of memory allocating the remote-write encoder") }
        self.handle = handle
    }

    deinit { crw_encoder_free(handle) }

    /// One request holding every sample, its series' labels merged with `externalLabels`: the
    /// plain path, which the tests hold the frame encoders to and use to make requests of their own.
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

    /// Whether a body read back from disk is a whole snappy block, as every body this encoder
    /// writes is: checked without decompressing it.
    func isValidBody(_ body: [UInt8]) -> Bool {
        body.withUnsafeBufferPointer { crw_body_is_valid($0.baseAddress, $0.count) != 0 }
    }

    /// The bytes of one snappy block; nil if it is not one, or would be more than `maxLength` bytes.
    static func uncompress(_ block: ArraySlice<UInt8>, maxLength: Int) -> [UInt8]? {
        var raw: UnsafeMutablePointer<UInt8>?
        var length = 0
        let result = block.withUnsafeBufferPointer { crw_uncompress($0.baseAddress, $0.count, maxLength, &raw, &length) }
        guard result == 0, let raw else { return nil }
        defer { free(raw) }
        return Array(UnsafeBufferPointer(start: raw, count: length))
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
