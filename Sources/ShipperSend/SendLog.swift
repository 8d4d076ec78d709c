import Foundation
import Logging
import ShipperCollect
import ShipperMetrics
import ShipperConfig

/// How senders report failures: counted in the self-metrics every time, logged once per outage,
/// not once per retry, and each receiver message once a minute, however many batches it refuses.
struct SendLog {
    let logger: Logger
    static let refusalInterval: Duration = .seconds(60)
    let metrics: SelfMetrics
    let endpoint: String
    /// Receivers' 4xx messages already logged, and when.
    private var loggedRefusals: [String: ContinuousClock.Instant] = [:]
    private var unreadableLog = LogLimit()

    init(logger: Logger, metrics: SelfMetrics, endpoint: String) {
        self.logger = logger
        self.metrics = metrics
        self.endpoint = endpoint
    }

    /// The receiver refused `samples` for good (`reason`): they are dropped.
    mutating func refusal(_ outcome: HTTPOutcome, reason: String, message: String, samples: Int) {
        metrics.dropped(samples, endpoint: endpoint, reason: reason)
        metrics.failed(endpoint: endpoint, reason: reason)
        let now = ContinuousClock.now
        if let last = loggedRefusals[message], now - last < Self.refusalInterval { return }
        loggedRefusals = loggedRefusals.filter { now - $0.value < Self.refusalInterval }
        loggedRefusals[message] = now
        logger.warning(
            "endpoint refused the batch; dropped, not retried",
            metadata: ["http.status": "\(outcome.status ?? 0)", "batch.samples": "\(samples)",
                       "receiver.message": "\(message.trimmingCharacters(in: .whitespacesAndNewlines))"])
    }

    /// Queued batches that cannot be read (damage their records' checksums did not catch): dropped
    /// and counted as corrupt every time, logged once a minute.
    mutating func unreadable(samples: Int) {
        metrics.dropped(samples, endpoint: endpoint, reason: "corrupt")
        guard unreadableLog.allows() else { return }
        logger.error("a queued batch cannot be read; dropped", metadata: ["batch.samples": "\(samples)"])
    }

    func retry(_ outcome: HTTPOutcome, reason: String, delay: Duration, attempt: Int) {
        metrics.failed(endpoint: endpoint, reason: reason)
        // The first failure of a batch at warning, repeats at debug: one line per outage, not per second.
        var metadata: Logger.Metadata = [
            "send.failure": "\(reason)", "retry.in": "\(Units.format(delay))", "send.attempts": "\(attempt + 1)",
        ]
        switch outcome {
        case .failure(_, let message): metadata["error"] = "\(message)"
        case .response(let status, _, _, _): metadata["http.status"] = "\(status)"
        }
        logger.log(level: attempt == 0 ? .warning : .debug, "send failed; retrying", metadata: metadata)
    }
}
