import Foundation

// Swift Testing runs tests on the cooperative pool, which has one thread per core: a test that
// blocks one (Thread.sleep, waitUntilExit, a semaphore) can starve every other test on a 2-core
// machine. Every wait in the tests is awaited instead, through these.

/// Polls `condition` every 100 ms until it holds or `seconds` pass; every wait in the tests is bounded.
func eventually(within seconds: Double, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

/// Sleeps without holding a thread.
func pause(_ seconds: Double) async {
    try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
}

/// Runs blocking work (pipe reads, a child's exit) on a thread of its own and awaits its result.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

extension Process {
    /// The exit status, awaited: polls without blocking a thread of the pool.
    func exited() async -> Int32 {
        while isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        return terminationStatus
    }

    /// For a `deinit`, which cannot await: ends the process and lets a thread of its own reap it
    /// and then run `cleanup`.
    func endInBackground(signal: Int32 = SIGTERM, then cleanup: @escaping @Sendable () -> Void = {}) {
        nonisolated(unsafe) let process = self
        if process.isRunning { kill(process.processIdentifier, signal) }
        Thread {
            process.waitUntilExit()
            cleanup()
        }.start()
    }
}

/// A value handed to a thread of `offPool` and back, which Swift cannot see is used by one thread
/// at a time.
struct Handover<T>: @unchecked Sendable {
    var value: T
}

/// `offPool` for blocking work on values that are not Sendable (a Collector, a MapIterator): the
/// caller awaits the thread, so only one thread uses them at a time.
func blocking<R>(_ body: @escaping () throws -> R) async throws -> R {
    let work = Handover(value: body)
    return try await offPool { Handover(value: try work.value()) }.value
}
