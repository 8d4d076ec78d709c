import ShipperEncode
import ShipperBuffer

/// How a sender turns the batches its queue hands out into requests: the queue never reads a
/// body, so the sender tells frames from the request bodies of older releases here, by the format
/// each record was written with.

/// What a sender sends for the batches `first` handed out.
struct EncodedBatches {
    var requests: [EncodedRequest] = []
    /// Samples of batches that could not be read: dropped as corrupt.
    var unreadable = 0
}

extension RequestEncoder {
    /// Every batch as requests: consecutive frames together in runs of up to `maxSamples`, and a
    /// body a release before frames buffered on its own, as it was (turned into the other message
    /// if it is not this encoder's).
    func requests(_ batches: [Batch], maxSamples: Int, legacy: RemoteWriteEncoder) -> EncodedBatches {
        var encoded = EncodedBatches()
        var frames: [Frame] = []
        var framesSamples = 0
        func flush() {
            guard !frames.isEmpty else { return }
            if let requests = requests(frames, maxSamples: maxSamples) {
                encoded.requests += requests
            } else {
                encoded.unreadable += framesSamples
            }
            frames.removeAll()
            framesSamples = 0
        }
        for batch in batches {
            guard let format = RecordFormat(rawValue: batch.format.rawValue) else {
                encoded.unreadable += batch.sampleCount
                continue
            }
            if format == .frame {
                if let frame = Frame(batch.body) {
                    frames.append(frame)
                    framesSamples += batch.sampleCount
                } else {
                    encoded.unreadable += batch.sampleCount
                }
                continue
            }
            flush()
            if let body = legacy.body(batch.body, holding: format == .remoteWriteV2 ? .v2 : .v1, as: message) {
                encoded.requests.append(EncodedRequest(body: body, samples: batch.sampleCount))
            } else {
                encoded.unreadable += batch.sampleCount
            }
        }
        flush()
        return encoded
    }
}

/// The record formats under the names the buffer's callers write them with.
extension BodyFormat {
    static let frame = BodyFormat(rawValue: RecordFormat.frame.rawValue)
    static let remoteWriteV1 = BodyFormat(rawValue: RecordFormat.remoteWriteV1.rawValue)
    static let remoteWriteV2 = BodyFormat(rawValue: RecordFormat.remoteWriteV2.rawValue)
}

extension FrameWriter {
    /// This cycle's frame as a queue's record, its samples taken at `timestampMs`.
    package mutating func batch(timestampMs: Int64) -> Batch {
        let frame = self.frame(timestampMs: timestampMs)
        return Batch(body: frame.body, sampleCount: frame.series, timestampMs: timestampMs, format: .frame)
    }
}
