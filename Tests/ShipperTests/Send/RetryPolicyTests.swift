import Testing

@testable import ShipperMetrics
@testable import ShipperSend

struct RetryPolicyTests {
    let policy = RetryPolicy(minBackoff: .milliseconds(30), maxBackoff: .seconds(5), retryOn429: true)

    @Test func backoffDoublesWithinBounds() {
        var random = SystemRandomNumberGenerator()
        for attempt in 0..<20 {
            for _ in 0..<50 {
                let delay = policy.backoff(attempt: attempt, random: &random).milliseconds
                let step = min(30 << min(attempt, 20), 5000)
                #expect(delay >= max(30, Int64(step / 2)) && delay <= Int64(step), "attempt \(attempt): \(delay)")
            }
        }
    }

    @Test func followsTheSpec() {
        var random = SystemRandomNumberGenerator()
        func decide(_ outcome: HTTPOutcome, _ policy: RetryPolicy? = nil) -> RetryPolicy.Decision {
            (policy ?? self.policy).decide(outcome, attempt: 0, random: &random)
        }
        #expect(decide(.response(status: 204, retryAfter: nil, body: "", http2: false)) == .delivered)
        #expect(decide(.response(status: 400, retryAfter: nil, body: "bad", http2: false))
            == .drop(reason: "http_4xx", message: "bad"))
        #expect(decide(.response(status: 429, retryAfter: .seconds(7), body: "", http2: false))
            == .retry(after: .seconds(7), reason: "http_429"))
        #expect(decide(.response(status: 429, retryAfter: .seconds(86400), body: "", http2: false))
            == .retry(after: RetryPolicy.longestRetryAfter, reason: "http_429"))
        var no429 = policy
        no429.retryOn429 = false
        #expect(decide(.response(status: 429, retryAfter: nil, body: "slow down", http2: false), no429)
            == .drop(reason: "http_4xx", message: "slow down"))
        // A proxy refusing its own credentials: the receiver never judged the batch.
        guard case .retry(_, "proxy_auth") = decide(.response(status: 407, retryAfter: nil, body: "", http2: false)) else {
            Issue.record("a proxy's 407 must be retried")
            return
        }
        #expect(decide(.response(status: 503, retryAfter: .seconds(3), body: "", http2: false))
            == .retry(after: .seconds(3), reason: "http_5xx"))
        guard case .retry(_, "connect") = decide(.failure(.connect, message: "refused")) else {
            Issue.record("a refused connection must be retried")
            return
        }
    }

    /// A receiver's Retry-After lengthens a wait, never shortens it below the attempt's backoff.
    @Test func retryAfterNeverShortensTheBackoff() {
        var random = SystemRandomNumberGenerator()
        let slow = RetryPolicy(minBackoff: .milliseconds(200), maxBackoff: .seconds(5), retryOn429: true)
        for status in [429, 503] {
            for attempt in 0..<12 {
                let step = min(200 << attempt, 5000)
                for retryAfter in [Duration.zero, .milliseconds(1)] {
                    guard case .retry(let delay, _) = slow.decide(
                        .response(status: status, retryAfter: retryAfter, body: "", http2: false), attempt: attempt, random: &random)
                    else {
                        Issue.record("\(status) must be retried")
                        return
                    }
                    #expect(delay.milliseconds >= max(200, Int64(step / 2)) && delay.milliseconds <= Int64(step), "attempt \(attempt)")
                }
            }
        }
        #expect(slow.decide(.response(status: 429, retryAfter: .seconds(7), body: "", http2: false), attempt: 0, random: &random)
            == .retry(after: .seconds(7), reason: "http_429"))
    }

    /// Every reason a failure can be counted under is one the self-metrics declare (and docs/operations.md lists).
    @Test func everyFailureReasonIsDeclared() {
        var random = SystemRandomNumberGenerator()
        var reasons: Set<String> = []
        for status in 100..<600 {
            switch policy.decide(.response(status: status, retryAfter: nil, body: "", http2: false), attempt: 0, random: &random) {
            case .retry(_, let reason), .drop(let reason, _): reasons.insert(reason)
            case .delivered: break
            }
        }
        for failure in HTTPFailure.allCases {
            if case .retry(_, let reason) = policy.decide(.failure(failure, message: ""), attempt: 0, random: &random) {
                reasons.insert(reason)
            }
        }
        #expect(reasons == Set(SelfMetrics.failureReasons))
        #expect(policy.decide(.response(status: 302, retryAfter: nil, body: "", http2: false), attempt: 0, random: &random)
            != .delivered)
    }
}
