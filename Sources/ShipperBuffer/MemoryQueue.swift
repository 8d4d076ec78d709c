import Logging

/// The queue without a disk buffer: in memory, up to `capacityBytes`.
package final class MemoryQueue: BatchQueue, @unchecked Sendable {
    private let monitor = QueueMonitor()
    // Guarded by `monitor`.
    private var batches: BoundedBatches
    /// How many batches the last `first` handed out.
    private var inFlight = 0
    private let report: DropReport

    package init(capacityBytes: Int, report: DropReport) {
        batches = BoundedBatches(capacityBytes: capacityBytes)
        self.report = report
    }

    package func append(_ batches: [Batch]) {
        monitor.withLock {
            defer { monitor.wake() }
            let dropped = batches.reduce(0) { $0 + self.batches.append($1, inFlight: inFlight) }
            report.drop(dropped, reason: "queue_full", "endpoint unreachable for too long; dropping the oldest queued samples")
        }
    }

    package func first(untilEmpty: Bool, maxSamples: Int) -> [Batch]? {
        monitor.withLock {
            guard monitor.wait(while: { batches.isEmpty && !untilEmpty }), !batches.isEmpty else { return nil }
            let run = batches.first(maxSamples: maxSamples)
            inFlight = run.count
            return run
        }
    }

    package func removeFirst() {
        monitor.withLock {
            batches.removeFirst(inFlight)
            inFlight = 0
        }
    }
    package func sleep(for duration: Duration) -> Bool { monitor.sleep(for: duration) }
    package func close() { monitor.close() }

    package var isClosed: Bool { monitor.isClosed }
    package func release() { close() }

    package func handOver(to target: any BatchQueue) {
        let moved = monitor.withLock {
            defer {
                batches = BoundedBatches(capacityBytes: batches.capacityBytes)
                inFlight = 0
            }
            return batches.all
        }
        target.append(moved)
        close()
    }
    package var pendingSamples: Int { monitor.withLock { batches.samples } }
}
