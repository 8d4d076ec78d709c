/// Batches in memory, bounded in bytes: past the bound the oldest batch after the head (which
/// may be in flight) is dropped.
struct BoundedBatches {
    private var items: [EncodedBatch] = []
    private var head = 0
    private(set) var bytes = 0
    let capacityBytes: Int

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    var first: EncodedBatch? { head < items.count ? items[head] : nil }
    var isEmpty: Bool { head == items.count }
    var samples: Int { items[head...].reduce(0) { $0 + $1.sampleCount } }
    var oldestTimestampMs: Int64? { first?.timestampMs }
    var all: [EncodedBatch] { Array(items[head...]) }

    /// Returns the number of samples dropped to stay within the bound.
    mutating func append(_ batch: EncodedBatch) -> Int {
        items.append(batch)
        bytes += batch.body.count
        var dropped = 0
        while bytes > capacityBytes, items.count - head > 2 {
            let victim = items.remove(at: head + 1)
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

    mutating func removeFirst() {
        guard head < items.count else { return }
        bytes -= items[head].body.count
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }
}
