/// At most one log line per `interval` for a condition that repeats every cycle (a full memory
/// tail, a failing disk, a map that cannot be counted); what it suppresses is still counted in
/// the self-metrics.
package struct LogLimit {
    let interval: Duration
    private var last: ContinuousClock.Instant?

    package init(interval: Duration = .seconds(60)) { self.interval = interval }

    /// True, and remembers now, if nothing was logged within the interval.
    package mutating func allows(now: ContinuousClock.Instant = .now) -> Bool {
        if let last, now - last < interval { return false }
        last = now
        return true
    }
}
