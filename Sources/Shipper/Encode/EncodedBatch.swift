/// One remote-write request body, ready to send, with what the queue needs to know about it.
struct EncodedBatch: Sendable, Equatable {
    /// Snappy-compressed request: a `message`.
    var body: [UInt8]
    var sampleCount: Int
    /// Collection time of its samples, in milliseconds since the epoch.
    var timestampMs: Int64
    var message: RemoteWriteMessage = .v1
}

/// The protobuf message a request body holds; the raw values are the names Prometheus's
/// `protobuf_message` setting takes.
public enum RemoteWriteMessage: String, Sendable, CaseIterable {
    /// Remote-write 1.0.
    case v1 = "prometheus.WriteRequest"
    /// Remote-write 2.0.
    case v2 = "io.prometheus.write.v2.Request"
}
