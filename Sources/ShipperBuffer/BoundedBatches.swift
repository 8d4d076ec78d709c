
/// Batches in memory, bounded in bytes: past the bound the oldest batch after those that may be in
/// flight (the head, or the run `first(maxSamples:)` handed out) is dropped.
struct BoundedBatches {
    private var items: [Batch] = []
    private var head = 0
    private(set) var bytes = 0
    let capacityBytes: Int

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    var first: Batch? { head < items.count ? items[head] : nil }

    /// The oldest batches holding at most `maxSamples` samples together; at least one unless empty.
    func first(maxSamples: Int) -> [Batch] {
        var run: [Batch] = []
        var samples = 0
        for batch in items[head...] {
            if !run.isEmpty && samples + batch.sampleCount > maxSamples { break }
            run.append(batch)
            samples += batch.sampleCount
        }
        return run
    }
    var isEmpty: Bool { head == items.count }
    var samples: Int { items[head...].reduce(0) { $0 + $1.sampleCount } }
    var oldestTimestampMs: Int64? { first?.timestampMs }
    var all: [Batch] { Array(items[head...]) }

    /// Returns the number of samples dropped to stay within the bound; the first `inFlight`
    /// batches (at least the head) are kept.
    mutating func append(_ batch: Batch, inFlight: Int = 1) -> Int {
        items.append(batch)
        bytes += batch.body.count
        var dropped = 0
        let kept = max(inFlight, 1)
        while bytes > capacityBytes, items.count - head > kept + 1 {
            let victim = items.remove(at: head + kept)
            bytes -= victim.body.count
            dropped += victim.sampleCount
        }
        return dropped
    }

    /// Drops batches from the head while they are older than `cutoffMs`; returns their samples.
    mutating func removeOlder(than cutoffMs: Int64) -> Int {
        var dropped = 0
        while let oldest = first, oldest.timestampMs < cutoffMs {
            dropped += oldest.sampleCount
            removeFirst()
        }
        return dropped
    }

    mutating func removeFirst(_ count: Int = 1) {
        for _ in 0..<count where head < items.count {
            bytes -= items[head].body.count
            head += 1
        }
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
