import Foundation
import Logging
import ShipperMetrics
import ShipperEncode
import ShipperBuffer
import ShipperConfig

/// Pushes the latest state to one Pushgateway group, on its own thread. The Pushgateway keeps only
/// the latest push per group, so there is no queue: a failed push is retried with backoff until
/// it succeeds or the next collection replaces it, and nothing is ever written to disk.
///
/// Unchecked Sendable: `offer` and `close` may be called from any thread and touch only state
/// guarded by `monitor`; the curl handle belongs to the thread that calls `run`.
package final class PushgatewaySender: @unchecked Sendable {
    package let gateway: PushgatewayConfig
    private let policy: RetryPolicy
    private let metrics: SelfMetrics
    private let monitor = QueueMonitor()
    // Guarded by `monitor`.
    private var latest: State?
    private var settled = 0
    private var delivered = 0
    // Owned by the sending thread.
    private var connection: EndpointConnection
    private var random = SystemRandomNumberGenerator()

    static let protocolHeaders = ["Content-Type: \(TextExposition.contentType)"]

    /// One state to push; a higher generation supersedes it.
    struct State {
        var body: [UInt8]
        var samples: Int
        var generation: Int
    }

    package init(gateway: PushgatewayConfig, metrics: SelfMetrics, logger: Logger) throws(HTTPSetupError) {
        self.gateway = gateway
        connection = try EndpointConnection(gateway, url: Self.groupURL(gateway), metrics: metrics, logger: logger)
        policy = RetryPolicy(minBackoff: QueueConfig.defaults.minBackoff, maxBackoff: QueueConfig.defaults.maxBackoff, retryOn429: true)
        self.metrics = metrics
    }

    private var logger: Logger { connection.logger }

    /// Replaces what is to be pushed next; an unsent older state is simply superseded.
    package func offer(_ body: [UInt8], samples: Int) {
        monitor.withLock {
            latest = State(body: body, samples: samples, generation: (latest?.generation ?? 0) + 1)
            monitor.wake()
        }
    }

    package func close() { monitor.close() }

    /// Whether the last state offered was accepted (for `once`).
    package var deliveredLatest: Bool { monitor.withLock { latest.map { delivered == $0.generation } ?? true } }

    /// The thread's body: pushes each new state until closed, or with `untilSettled`, until the
    /// latest state was accepted or refused. Deletes the group at the end if configured (and
    /// `deleteAtEnd`, which `run` sets on a clean shutdown).
    package func run(untilSettled: Bool, deleteAtEnd: Bool = false, deadline: ContinuousClock.Instant? = nil) {
        while let state = nextState(untilSettled: untilSettled) {
            guard push(state, deadline: deadline) else { break }
        }
        if deleteAtEnd && gateway.deleteOnShutdown { deleteGroup() }
    }

    private func nextState(untilSettled: Bool) -> State? {
        monitor.withLock {
            let pending = { self.latest.map { $0.generation > self.settled } ?? false }
            if untilSettled && !pending() { return nil }
            guard monitor.wait(while: { !pending() }) else { return nil }
            return latest
        }
    }

    /// False when `deadline` passed or the sender was closed before the state settled.
    private func push(_ state: State, deadline: ContinuousClock.Instant?) -> Bool {
        switch Delivery.deliver(state, samples: state.samples, to: self, deadline: deadline) {
        case .delivered(let attempts, _):
            metrics.delivered(state.samples, endpoint: gateway.name, at: Date().timeIntervalSince1970)
            if attempts > 1 { logger.info("pushgateway accepted the push after retries", metadata: ["send.attempts": "\(attempts)"]) }
            settle(state.generation, delivered: true)
            return true
        case .refused:
            settle(state.generation, delivered: false)
            return true
        case .expired:
            return false
        case .abandoned:
            // Closed: the state stays offered. Superseded: push the newer one.
            if monitor.isClosed || !isSuperseded(state) { return false }
            metrics.dropped(state.samples, endpoint: gateway.name, reason: "superseded")
            settle(state.generation, delivered: false)
            return true
        }
    }

    /// A newer state makes this one pointless: that one is pushed instead.
    private func isSuperseded(_ state: State) -> Bool { monitor.withLock { (latest?.generation ?? 0) > state.generation } }

    private func settle(_ generation: Int, delivered accepted: Bool) {
        monitor.withLock {
            settled = max(settled, generation)
            if accepted { delivered = max(delivered, generation) }
        }
    }

    private func deleteGroup() {
        let outcome = connection.perform(method: "DELETE", body: [], protocolHeaders: Self.protocolHeaders)
        if case .response(let status, _, _, _) = outcome, (200..<300).contains(status) {
            logger.info("deleted the pushgateway group on shutdown")
        } else {
            var metadata: Logger.Metadata = [:]
            switch outcome {
            case .response(let status, _, let body, _):
                metadata["http.status"] = "\(status)"
                metadata["receiver.message"] = "\(body.trimmingCharacters(in: .whitespacesAndNewlines))"
            case .failure(let failure, let message):
                metadata["send.failure"] = "\(failure.rawValue)"
                metadata["error"] = "\(message)"
            }
            logger.warning("could not delete the pushgateway group on shutdown", metadata: metadata)
        }
    }

    /// `<url>/metrics/job/<job>/<label>/<value>...`: values that are empty, contain `/`, or are a
    /// dot segment (`.` or `..`, which URL normalization would remove, pushing to another group)
    /// use the `@base64` form (URL-safe alphabet); the rest are percent-encoded path segments.
    /// Every value is exactly one segment.
    static func groupURL(_ gateway: PushgatewayConfig) -> String {
        var url = gateway.url.hasSuffix("/") ? String(gateway.url.dropLast()) : gateway.url
        url += "/metrics" + segment("job", gateway.job)
        for label in gateway.grouping { url += segment(label.name, label.value) }
        return url
    }

    private static func segment(_ name: String, _ value: String) -> String {
        if value.isEmpty || value.contains("/") || value == "." || value == ".." {
            let encoded = Data(value.utf8).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            return "/\(name)@base64/\(encoded.isEmpty ? "=" : encoded)"
        }
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return "/\(name)/\(value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value)"
    }
}

extension PushgatewaySender: DeliveryTarget {
    func attempt(_ state: State, number: Int, deadline: ContinuousClock.Instant?) -> Delivery.Attempt {
        let outcome = connection.perform(
            method: gateway.method == .put ? "PUT" : "POST", body: state.body, protocolHeaders: Self.protocolHeaders,
            deadline: deadline)
        return .sent(outcome, policy: policy)
    }

    /// Waits unless a newer state comes meanwhile (then this one is given up) or the sender is closed.
    func retry(_ state: State, after delay: Duration) -> Bool {
        monitor.sleep(for: delay, interrupted: { (self.latest?.generation ?? 0) > state.generation }) && !isSuperseded(state)
    }

    var log: SendLog {
        get { connection.log }
        set { connection.log = newValue }
    }
}
