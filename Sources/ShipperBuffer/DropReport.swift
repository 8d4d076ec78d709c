import Synchronization
import Logging
import ShipperCollect
import ShipperMetrics

/// Where a queue counts and logs the samples it gives up on.
package struct DropReport: Sendable {
    var endpoint: String
    var metrics: SelfMetrics
    var logger: Logger

    /// When each reason was last logged: a bound that drops every cycle through an outage logs
    /// once a minute per reason, however often it drops. Shared by the copies of one report.
    private let lastLogged = LastLogged()

    private final class LastLogged: Sendable {
        let reasons = Mutex<[String: LogLimit]>([:])
    }

    package init(endpoint: String, metrics: SelfMetrics, logger: Logger) {
        self.endpoint = endpoint
        self.metrics = metrics
        self.logger = logger
    }

    /// Counts `samples` as dropped for `reason` every time; logs it at most once a minute per
    /// reason (the counter has every drop).
    func drop(_ samples: Int, reason: String, _ message: Logger.Message) {
        guard samples > 0 else { return }
        metrics.dropped(samples, endpoint: endpoint, reason: reason)
        let allowed = lastLogged.reasons.withLock { $0[reason, default: LogLimit()].allows() }
        if allowed { logger.warning(message, metadata: ["batch.samples": "\(samples)", "drop.reason": "\(reason)"]) }
    }

    /// A damaged buffer record skipped: one corrupt record, and the samples its header promised
    /// (0 where no header could be read) dropped as `corrupt`.
    func corrupt(samples: Int) {
        metrics.corruptRecord(endpoint: endpoint)
        metrics.dropped(samples, endpoint: endpoint, reason: "corrupt")
    }
}
