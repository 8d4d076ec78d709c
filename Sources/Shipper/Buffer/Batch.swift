/// One record of an endpoint's queue: a body the buffer stores and hands back unread, with what
/// the queue needs to know about it (how many samples, how old, what kind of body).
struct Batch: Sendable, Equatable {
    var body: [UInt8]
    var sampleCount: Int
    /// Collection time of its samples, in milliseconds since the epoch: what `max_age` is held to.
    var timestampMs: Int64
    var format: BodyFormat
}

/// What a body holds, as its writer said: two bits of the record header, stored and returned,
/// never interpreted here (the formats are named where bodies are read and written).
struct BodyFormat: RawRepresentable, Hashable, Sendable {
    var rawValue: UInt8

    init(rawValue: UInt8) { self.rawValue = rawValue & 3 }
}
