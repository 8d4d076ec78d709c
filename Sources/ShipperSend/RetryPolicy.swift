
/// What to do after one attempt to send a batch, per the remote-write spec: retry 5xx and
/// network errors with backoff, retry 429 unless switched off, never retry other 4xx but a
/// proxy's 407 (the proxy refused its credentials; the receiver never saw the batch).
///
/// Every retry waits at least the backoff of its attempt: a receiver's `Retry-After` can lengthen
/// a wait, never shorten it, so `Retry-After: 0` or a date in the past cannot make a hot loop.
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
            return .retry(after: delay(attempt: attempt, retryAfter: retryAfter, random: &random), reason: "http_429")
        // The proxy, not the receiver, refused it (its credentials): nothing the receiver judged.
        case .response(407, _, _, _):
            return .retry(after: backoff(attempt: attempt, random: &random), reason: "proxy_auth")
        case .response(let status, _, let body, _) where (400..<500).contains(status):
            return .drop(reason: "http_4xx", message: body)
        case .response(let status, let retryAfter, _, _):
            // 5xx, and anything unexpected (3xx: redirects are not followed; 1xx).
            let reason = status >= 500 ? "http_5xx" : (300..<400).contains(status) ? "http_3xx" : "http_other"
            return .retry(after: delay(attempt: attempt, retryAfter: retryAfter, random: &random), reason: reason)
        case .failure(let failure, _):
            return .retry(after: backoff(attempt: attempt, random: &random), reason: failure.rawValue)
        }
    }

    /// The attempt's backoff, or the receiver's `Retry-After` (at most `longestRetryAfter`) if longer.
    private func delay(attempt: Int, retryAfter: Duration?, random: inout some RandomNumberGenerator) -> Duration {
        let backoff = backoff(attempt: attempt, random: &random)
        guard let retryAfter else { return backoff }
        return max(min(retryAfter, Self.longestRetryAfter), backoff)
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
