import Foundation
import Logging

/// One endpoint's FIFO of batches, shared by the collect thread (which appends) and the
/// endpoint's sending thread (which sends the head and removes it once it is delivered or
/// dropped). Head-of-line retries keep every series' samples in timestamp order.
protocol BatchQueue: AnyObject, Sendable {
    /// Queues one cycle's batches, in order; whatever a bound pushes out is counted and logged
    /// by the queue.
    func append(_ batches: [EncodedBatch])
    /// The oldest batch, waiting for one if there is none. nil once closed, or, with `untilEmpty`,
    /// as soon as nothing is queued.
    func first(untilEmpty: Bool) -> EncodedBatch?
    /// Removes the batch `first` returned: it was delivered, or refused for good.
    func removeFirst()
    /// Before a retry: true if the batch `first` returned holds samples older than the queue's
    /// age bound. It is given back, and the next `first` drops what is too old (counted as
    /// `too_old`) and hands out the rest.
    func dropFirstIfExpired() -> Bool
    /// Sleeps unless the queue is closed meanwhile; false if it was.
    func sleep(for duration: Duration) -> Bool
    /// Wakes the sending thread and makes `first` return nil from now on.
    func close()
    var pendingSamples: Int { get }
}

extension BatchQueue {
    func append(_ batch: EncodedBatch) { append([batch]) }
    /// Queues without an age bound keep every batch until it is delivered or refused.
    func dropFirstIfExpired() -> Bool { false }
}

/// The lock, wake-ups and closing the queue implementations share.
final class QueueMonitor: @unchecked Sendable {
    // `closed` is guarded by `condition`.
    private let condition = NSCondition()
    private var closed = false

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// With the lock held: waits while `isEmpty()` is true; false once closed.
    func wait(while isEmpty: () -> Bool) -> Bool {
        while isEmpty() && !closed { condition.wait() }
        return !closed
    }

    /// With the lock held: wakes a waiting sender.
    func wake() { condition.broadcast() }

    var isClosed: Bool { withLock { closed } }

    /// Sleeps for `duration`, or until closed, or, checked under the lock at each wake-up, until
    /// `interrupted()` holds. False if closed.
    func sleep(for duration: Duration, interrupted: () -> Bool = { false }) -> Bool {
        let deadline = Date(timeIntervalSinceNow: Double(duration.milliseconds) / 1000)
        return withLock {
            while !closed && !interrupted() && condition.wait(until: deadline) {}
            return !closed
        }
    }

    func close() {
        withLock {
            closed = true
            condition.broadcast()
        }
    }
}

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

/// The queue without a disk buffer: in memory, up to `capacityBytes`.
final class MemoryQueue: BatchQueue, @unchecked Sendable {
    private let monitor = QueueMonitor()
    // Guarded by `monitor`.
    private var batches: BoundedBatches
    private var dropLog = LogLimit()
    private let report: DropReport

    init(capacityBytes: Int, report: DropReport) {
        batches = BoundedBatches(capacityBytes: capacityBytes)
        self.report = report
    }

    func append(_ batches: [EncodedBatch]) {
        monitor.withLock {
            defer { monitor.wake() }
            let dropped = batches.reduce(0) { $0 + self.batches.append($1) }
            report.drop(
                dropped, reason: "queue_full", "endpoint unreachable for too long; dropping the oldest queued samples",
                log: dropLog.allows())
        }
    }

    func first(untilEmpty: Bool) -> EncodedBatch? {
        monitor.withLock {
            guard monitor.wait(while: { batches.isEmpty && !untilEmpty }) else { return nil }
            return batches.first
        }
    }

    func removeFirst() { monitor.withLock { batches.removeFirst() } }
    func sleep(for duration: Duration) -> Bool { monitor.sleep(for: duration) }
    func close() { monitor.close() }
    var pendingSamples: Int { monitor.withLock { batches.samples } }
}

/// Where a queue counts and logs the samples it gives up on.
struct DropReport: Sendable {
    var endpoint: String
    var metrics: SelfMetrics
    var logger: Logger

    /// Counts `samples` as dropped for `reason`, and logs it unless `log` says no (a bound that
    /// drops every cycle logs through a `LogLimit`, asked only when something was dropped).
    func drop(_ samples: Int, reason: String, _ message: Logger.Message, log: @autoclosure () -> Bool = true) {
        guard samples > 0 else { return }
        metrics.dropped(samples, endpoint: endpoint, reason: reason)
        if log() { logger.warning(message, metadata: ["batch.samples": "\(samples)", "drop.reason": "\(reason)"]) }
    }

    /// A damaged buffer record skipped: one corrupt record, and the samples its header promised
    /// (0 where no header could be read) dropped as `corrupt`.
    func corrupt(samples: Int) {
        metrics.corruptRecord(endpoint: endpoint)
        metrics.dropped(samples, endpoint: endpoint, reason: "corrupt")
    }
}
