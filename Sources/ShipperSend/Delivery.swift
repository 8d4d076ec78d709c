
/// The one retry loop of every sender, remote-write and Pushgateway alike: a request is tried
/// until the endpoint takes it, refuses it for good, or the sender gives it up while waiting to
/// retry. What to send, where, and what giving up means stay with the sender (`DeliveryTarget`);
/// what an outcome means stays with `RetryPolicy`, and how it is told with `SendLog`.
enum Delivery {
    /// How one request ended.
    enum Result {
        /// The endpoint took it, after `attempts` tries.
        case delivered(attempts: Int, outcome: HTTPOutcome)
        /// Refused for good: counted and logged as dropped.
        case refused
        /// Not taken by `deadline`: the sender stops.
        case expired
        /// Not yet taken when `retry` said not to go on (closed, superseded, too old).
        case abandoned
    }

    /// One try, as the sender made it.
    enum Attempt {
        /// Sent: the outcome and the policy that judges it (a reload may change it between tries).
        case sent(HTTPOutcome, policy: RetryPolicy)
        /// Send again at once, not counted as a retry: the sender changed the request (a fallback
        /// to remote-write 1.0).
        case again
        /// It cannot be sent at all; the sender counted it.
        case unsendable
    }

    /// Tries `request` (of `samples` samples) until it is settled or given up.
    static func deliver<Target: DeliveryTarget>(
        _ request: Target.Request, samples: Int, to target: Target, deadline: ContinuousClock.Instant?
    ) -> Result {
        var random = SystemRandomNumberGenerator()
        var attempts = 0
        while true {
            if let deadline, ContinuousClock.now >= deadline { return .expired }
            switch target.attempt(request, number: attempts, deadline: deadline) {
            case .again:
                continue
            case .unsendable:
                return .refused
            case .sent(let outcome, let policy):
                switch policy.decide(outcome, attempt: attempts, random: &random) {
                case .delivered:
                    return .delivered(attempts: attempts + 1, outcome: outcome)
                case .drop(let reason, let message):
                    target.log.refusal(outcome, reason: reason, message: message, samples: samples)
                    return .refused
                case .retry(let delay, let reason):
                    target.log.retry(outcome, reason: reason, delay: delay, attempt: attempts)
                    attempts += 1
                    guard target.retry(request, after: delay) else { return .abandoned }
                }
            }
        }
    }
}

/// A sender, as `Delivery` drives it. Called on the sender's own thread only.
protocol DeliveryTarget: AnyObject {
    /// What the sender sends: a queued batch, a Pushgateway state.
    associatedtype Request
    /// Sends `request` once; `number` counts the tries before it.
    func attempt(_ request: Request, number: Int, deadline: ContinuousClock.Instant?) -> Delivery.Attempt
    /// Waits `delay` before the next try of `request`; false to give it up instead.
    func retry(_ request: Request, after delay: Duration) -> Bool
    /// Where failures are counted and told.
    var log: SendLog { get set }
}
