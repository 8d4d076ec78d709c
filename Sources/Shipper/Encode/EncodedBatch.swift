/// One remote-write request body, ready to send, with what the queue needs to know about it.
struct EncodedBatch: Sendable, Equatable {
    /// Snappy-compressed WriteRequest.
    var body: [UInt8]
    var sampleCount: Int
    /// Collection time of its samples, in milliseconds since the epoch.
    var timestampMs: Int64
}
