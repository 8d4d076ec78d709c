/// What to do after one attempt to send a batch, per the remote-write spec: retry 5xx and
/// network errors with backoff, retry 429 unless switched off, never retry other 4xx.
struct RetryPolicy: Sendable {
    var minBackoff: Duration
    var maxBackoff: Duration
    var retryOn429: Bool

    /// Retry-After beyond this is treated as this: a receiver's typo must not park a queue for days.
    static let longestRetryAfter: Duration = .seconds(600)

    enum Decision: Equatable {
        case delivered
        /// Never retried; the samples are counted as dropped with this reason.
        case drop(reason: String, message: String)
        /// `reason` labels the send failure.
        case retry(after: Duration, reason: String)
    }

    func decide(_ outcome: HTTPOutcome, attempt: Int, random: inout some RandomNumberGenerator) -> Decision {
        switch outcome {
        case .response(let status, _, _, _) where (200..<300).contains(status):
            return .delivered
        case .response(429, let retryAfter, let body, _):
            guard retryOn429 else { return .drop(reason: "http_4xx", message: body) }
            let delay = retryAfter.map { min($0, Self.longestRetryAfter) } ?? backoff(attempt: attempt, random: &random)
            return .retry(after: delay, reason: "http_429")
        case .response(let status, _, let body, _) where (400..<500).contains(status):
            return .drop(reason: "http_4xx", message: body)
        case .response(let status, let retryAfter, _, _):
            // 5xx, and anything unexpected (1xx, 3xx: redirects are not followed).
            let delay = retryAfter.map { min(max($0, minBackoff), Self.longestRetryAfter) }
            return .retry(after: delay ?? backoff(attempt: attempt, random: &random), reason: status >= 500 ? "http_5xx" : "http_\(status)")
        case .failure(let failure, _):
            return .retry(after: backoff(attempt: attempt, random: &random), reason: failure.rawValue)
        }
    }

    /// Exponential from `minBackoff`, doubling per attempt up to `maxBackoff`, with jitter:
    /// a uniform pick in the upper half of the step, never below `minBackoff`. Jitter keeps a fleet
    /// of hosts from retrying in lockstep after a shared outage.
    func backoff(attempt: Int, random: inout some RandomNumberGenerator) -> Duration {
        let minimum = minBackoff.milliseconds
        let ceiling = maxBackoff.milliseconds
        var step = max(minimum, 1)
        for _ in 0..<min(attempt, 62) where step < ceiling { step = min(step * 2, ceiling) }
        let low = max(minimum, step / 2)
        return .milliseconds(low >= step ? step : Int64.random(in: low...step, using: &random))
    }
}
