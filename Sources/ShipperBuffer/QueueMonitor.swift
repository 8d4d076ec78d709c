import Foundation

/// A lock with wake-ups and a closed state: what the queues share, and how `run` tells its collect
/// thread to stop. The one hand-written condition-variable monitor of the shipper.
package final class QueueMonitor: @unchecked Sendable {
    // `closed` is guarded by `condition`.
    private let condition = NSCondition()
    private var closed = false

    package init() {}

    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// With the lock held: waits while `isEmpty()` is true; false once closed.
    package func wait(while isEmpty: () -> Bool) -> Bool {
        while isEmpty() && !closed { condition.wait() }
        return !closed
    }

    /// With the lock held: wakes a waiting sender.
    package func wake() { condition.broadcast() }

    package var isClosed: Bool { withLock { closed } }

    /// Sleeps for `duration`, or until closed, or, checked under the lock at each wake-up, until
    /// `interrupted()` holds. False if closed.
    package func sleep(for duration: Duration, interrupted: () -> Bool = { false }) -> Bool {
        sleep(until: Date(timeIntervalSinceNow: Double(duration.milliseconds) / 1000), interrupted: interrupted)
    }

    /// Sleeps until a wall-clock time, with the same conditions as `sleep(for:interrupted:)`.
    package func sleep(until deadline: Date, interrupted: () -> Bool = { false }) -> Bool {
        withLock {
            while !closed && !interrupted() && condition.wait(until: deadline) {}
            return !closed
        }
    }

    package func close() {
        withLock {
            closed = true
            condition.broadcast()
        }
    }
}
