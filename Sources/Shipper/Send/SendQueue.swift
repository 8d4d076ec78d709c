import Foundation

/// One endpoint's FIFO of encoded batches, shared by the collect thread (which appends) and the
/// endpoint's sending thread (which sends the head, and removes it once it is delivered or
/// dropped). Head-of-line retries keep every series' samples in timestamp order.
///
/// Bounded in bytes: past the bound the oldest batch goes first, and the caller counts it.
final class SendQueue: @unchecked Sendable {
    // All state is guarded by `condition`.
    private let condition = NSCondition()
    private var items: [EncodedBatch] = []
    private var head = 0
    private var bytes = 0
    private var closed = false
    let capacityBytes: Int

    init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    /// Appends a batch; returns the batches dropped to stay within the bound, oldest first.
    /// The head is never dropped while it may be in flight.
    func append(_ batch: EncodedBatch) -> [EncodedBatch] {
        condition.lock()
        defer { condition.unlock() }
        items.append(batch)
        bytes += batch.body.count
        var dropped: [EncodedBatch] = []
        while bytes > capacityBytes, items.count - head > 2 {
            let victim = items.remove(at: head + 1)
            bytes -= victim.body.count
            dropped.append(victim)
        }
        condition.broadcast()
        return dropped
    }

    /// The oldest batch, waiting for one if the queue is empty. nil once the queue is closed, or,
    /// with `untilEmpty`, as soon as it is empty.
    func first(untilEmpty: Bool) -> EncodedBatch? {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count && !closed && !untilEmpty { condition.wait() }
        return closed || head == items.count ? nil : items[head]
    }

    /// Removes the batch `first` returned.
    func removeFirst() {
        condition.lock()
        defer { condition.unlock() }
        guard head < items.count else { return }
        bytes -= items[head].body.count
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
    }

    /// Sleeps for `duration` unless the queue is closed meanwhile; false if it was.
    func sleep(for duration: Duration) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(duration.milliseconds) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while !closed && condition.wait(until: deadline) {}
        return !closed
    }

    /// Wakes the sending thread and makes `first` return nil from now on.
    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    var pendingSamples: Int {
        condition.lock()
        defer { condition.unlock() }
        return items[head...].reduce(0) { $0 + $1.sampleCount }
    }
}
