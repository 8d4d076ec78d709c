
/// One record of an endpoint's queue: a body the buffer stores and hands back unread, with what
/// the queue needs to know about it (how many samples, how old, what kind of body).
package struct Batch: Sendable, Equatable {
    package var body: [UInt8]
    package var sampleCount: Int
    /// Collection time of its samples, in milliseconds since the epoch: what `max_age` is held to.
    package var timestampMs: Int64
    package var format: BodyFormat

    package init(body: [UInt8], sampleCount: Int, timestampMs: Int64, format: BodyFormat) {
        self.body = body
        self.sampleCount = sampleCount
        self.timestampMs = timestampMs
        self.format = format
    }
}

/// What a body holds, as its writer said: two bits of the record header, stored and returned,
/// never interpreted here (the formats are named where bodies are read and written).
package struct BodyFormat: RawRepresentable, Hashable, Sendable {
    package var rawValue: UInt8

    package init(rawValue: UInt8) { self.rawValue = rawValue & 3 }
}
