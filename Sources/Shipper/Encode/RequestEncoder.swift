/// One endpoint's remote-write encoder: turns the batches its queue hands out into request bodies
/// of the message the endpoint is sent, at send time, with a steady-state cache of its own. A
/// sender that falls back from 2.0 to 1.0 swaps one for the other.
protocol RequestEncoder: AnyObject {
    var message: RemoteWriteMessage { get }
    /// Requests of at most `maxSamples` samples each carrying every series of `frames`, in order.
    /// nil if a frame's table cannot be read (damage its record's checksum did not catch).
    func requests(_ frames: [Frame], maxSamples: Int) -> [EncodedRequest]?
}

/// One request body, snappy-compressed, ready to send.
struct EncodedRequest: Sendable, Equatable {
    var body: [UInt8]
    var samples: Int
}

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
            if batch.format == .frame {
                if let frame = Frame(batch.body) {
                    frames.append(frame)
                    framesSamples += batch.sampleCount
                } else {
                    encoded.unreadable += batch.sampleCount
                }
                continue
            }
            flush()
            if let body = legacy.body(batch, as: message) {
                encoded.requests.append(EncodedRequest(body: body, samples: batch.sampleCount))
            } else {
                encoded.unreadable += batch.sampleCount
            }
        }
        flush()
        return encoded
    }
}

/// How `frames` are cut into requests of at most `maxSamples` series: each run is a list of
/// (frame index, series range) in order.
func requestRuns(_ frames: [Frame], maxSamples: Int) -> [[(frame: Int, series: Range<Int>)]] {
    var runs: [[(frame: Int, series: Range<Int>)]] = []
    var run: [(frame: Int, series: Range<Int>)] = []
    var room = maxSamples
    for (index, frame) in frames.enumerated() {
        var start = 0
        while start < frame.seriesCount {
            let end = min(frame.seriesCount, start + room)
            run.append((index, start..<end))
            room -= end - start
            start = end
            if room == 0 {
                runs.append(run)
                run = []
                room = maxSamples
            }
        }
    }
    if !run.isEmpty { runs.append(run) }
    return runs
}

/// The protobuf message a request body holds; the raw values are the names Prometheus's
/// `protobuf_message` setting takes.
public enum RemoteWriteMessage: String, Sendable, CaseIterable {
    /// Remote-write 1.0.
    case v1 = "prometheus.WriteRequest"
    /// Remote-write 2.0.
    case v2 = "io.prometheus.write.v2.Request"
}
