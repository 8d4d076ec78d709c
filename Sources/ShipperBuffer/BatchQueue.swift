
/// One endpoint's FIFO of batches, shared by the collect thread (which appends) and the
/// endpoint's sending thread (which sends the head and removes it once it is delivered or
/// dropped). Head-of-line retries keep every series' samples in timestamp order. Bodies are
/// opaque: a queue counts samples and bytes, never reads what they hold.
package protocol BatchQueue: AnyObject, Sendable {
    /// Queues one cycle's batches, in order; whatever a bound pushes out is counted and logged
    /// by the queue.
    func append(_ batches: [Batch])
    /// The oldest batches, as many as hold at most `maxSamples` samples together (at least one),
    /// waiting for one if there is none. nil once closed, or, with `untilEmpty`, as soon as
    /// nothing is queued.
    func first(untilEmpty: Bool, maxSamples: Int) -> [Batch]?
    /// Removes the batches `first` returned: they were delivered, or refused for good.
    func removeFirst()
    /// Before a retry: true if the batches `first` returned should not be retried: they hold samples
    /// older than the queue's age bound (it is given back, and the next `first` drops what is too
    /// old, counted as `too_old`, and hands out the rest), or the size bound dropped it meanwhile
    /// (counted as `buffer_full`), or the queue was released.
    func dropFirstIfStale() -> Bool
    /// Sleeps unless the queue is closed meanwhile; false if it was.
    func sleep(for duration: Duration) -> Bool
    /// Wakes the sending thread and makes `first` return nil from now on.
    func close()
    var isClosed: Bool { get }
    /// Closes the queue and lets go of what it holds on disk (its lock included), leaving the
    /// undelivered data there for whoever opens the directory next. A reload's removed endpoint.
    func release()
    /// Moves everything undelivered, in order, to `target` and releases this queue: a reload's
    /// endpoint whose queue changed (a new buffer directory, or none). The batch in flight goes
    /// too: should its request still succeed, it is sent twice, which receivers ignore.
    func handOver(to target: any BatchQueue)
    var pendingSamples: Int { get }
}

extension BatchQueue {
    package func append(_ batch: Batch) { append([batch]) }
    /// Queues without an age bound keep every batch until it is delivered or refused.
    package func dropFirstIfStale() -> Bool { false }
}
