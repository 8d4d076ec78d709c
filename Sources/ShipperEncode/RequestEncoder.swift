
/// One endpoint's remote-write encoder: turns the batches its queue hands out into request bodies
/// of the message the endpoint is sent, at send time, with a steady-state cache of its own. A
/// sender that falls back from 2.0 to 1.0 swaps one for the other.
package protocol RequestEncoder: AnyObject {
    var message: RemoteWriteMessage { get }
    /// Requests of at most `maxSamples` samples each carrying every series of `frames`, in order.
    /// nil if a frame's table cannot be read (damage its record's checksum did not catch).
    func requests(_ frames: [Frame], maxSamples: Int) -> [EncodedRequest]?
}

/// One request body, snappy-compressed, ready to send.
package struct EncodedRequest: Sendable, Equatable {
    package var body: [UInt8]
    package var samples: Int

    package init(body: [UInt8], samples: Int) {
        self.body = body
        self.samples = samples
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
