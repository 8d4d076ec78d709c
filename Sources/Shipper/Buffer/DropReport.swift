import Logging

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
