import Foundation
import Logging

/// How senders report failures: one line per outage, not one per retry, and each receiver
/// message once per interval, however many batches it refuses.
struct SendLog {
    let logger: Logger
    let refusalInterval: Duration
    /// Receivers' 4xx messages already logged, and when.
    private var loggedRefusals: [String: ContinuousClock.Instant] = [:]

    init(logger: Logger, refusalInterval: Duration) {
        self.logger = logger
        self.refusalInterval = refusalInterval
    }

    mutating func refusal(_ outcome: HTTPOutcome, message: String, samples: Int) {
        let now = ContinuousClock.now
        if let last = loggedRefusals[message], now - last < refusalInterval { return }
        loggedRefusals = loggedRefusals.filter { now - $0.value < refusalInterval }
        loggedRefusals[message] = now
        logger.warning(
            "endpoint refused the batch; dropped, not retried",
            metadata: ["http.status": "\(outcome.status ?? 0)", "batch.samples": "\(samples)",
                       "receiver.message": "\(message.trimmingCharacters(in: .whitespacesAndNewlines))"])
    }

    func retry(_ outcome: HTTPOutcome, reason: String, delay: Duration, attempt: Int) {
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
