import Foundation
import Synchronization

/// A dedicated OS thread for blocking work (libcurl, the BPF iterator, fsync), kept off Swift's
/// cooperative pool as NIO keeps blocking I/O on its thread pool.
final class WorkerThread: Sendable {
    private let finished = Mutex(false)

    private init() {}

    /// Starts `body` on a new thread; `body` and what it captures belong to that thread alone.
    static func start(name: String, _ body: sending @escaping () -> Void) -> WorkerThread {
        let worker = WorkerThread()
        nonisolated(unsafe) let body = body
        let thread = Thread {
            body()
            worker.finished.withLock { $0 = true }
        }
        thread.name = name
        thread.start()
        return worker
    }

    var isFinished: Bool { finished.withLock { $0 } }

    /// Runs `body` on a new thread and waits, without blocking the caller's executor, for its result.
    static func result<T: Sendable>(name: String, _ body: sending @escaping () -> T) async -> T {
        let box = ResultBox<T>()
        let thread = start(name: name) { box.value.withLock { $0 = body() } }
        while !thread.isFinished { try? await Task.sleep(for: .milliseconds(5)) }
        return box.value.withLock { $0! }
    }

    /// Waits until every thread has finished or `deadline` passes; true if all finished.
    static func wait(for threads: [WorkerThread], until deadline: ContinuousClock.Instant) async -> Bool {
        while !threads.allSatisfy(\.isFinished) {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }
}

private final class ResultBox<T: Sendable>: Sendable {
    let value = Mutex<T?>(nil)
}
