import Logging

/// The queue without a disk buffer: in memory, up to `capacityBytes`.
final class MemoryQueue: BatchQueue, @unchecked Sendable {
    private let monitor = QueueMonitor()
    // Guarded by `monitor`.
    private var batches: BoundedBatches
    private let report: DropReport

    init(capacityBytes: Int, report: DropReport) {
        batches = BoundedBatches(capacityBytes: capacityBytes)
        self.report = report
    }

    func append(_ batches: [EncodedBatch]) {
        monitor.withLock {
            defer { monitor.wake() }
            let dropped = batches.reduce(0) { $0 + self.batches.append($1) }
            report.drop(dropped, reason: "queue_full", "endpoint unreachable for too long; dropping the oldest queued samples")
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

    var isClosed: Bool { monitor.isClosed }
    func release() { close() }

    func handOver(to target: any BatchQueue) {
        let moved = monitor.withLock {
            defer { batches = BoundedBatches(capacityBytes: batches.capacityBytes) }
            return batches.all
        }
        target.append(moved)
        close()
    }
    var pendingSamples: Int { monitor.withLock { batches.samples } }
}
