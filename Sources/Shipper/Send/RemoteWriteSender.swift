import Foundation
import Logging

/// Sends one endpoint's queue, oldest batch first, on its own thread. Knows HTTP and the
/// remote-write protocol, nothing about maps.
///
/// Unchecked Sendable: `enqueue` touches only the thread-safe queue and metrics and may be called
/// from any thread; everything else (the curl handle, the log memory) belongs to the one thread
/// that calls `run`.
final class RemoteWriteSender: @unchecked Sendable {
    let endpoint: RemoteWriteConfig
    let queue: any BatchQueue
    private let client: HTTPClient
    private let policy: RetryPolicy
    private let metrics: SelfMetrics
    private let logger: Logger
    private let credentials: RequestCredentials
    private var log: SendLog
    private var loggedFirstDelivery = false
    private var random = SystemRandomNumberGenerator()

    /// The headers the spec requires; configured headers can never replace them.
    static let protocolHeaders = [
        "Content-Encoding: snappy",
        "Content-Type: application/x-protobuf",
        "X-Prometheus-Remote-Write-Version: 0.1.0",
    ]

    /// In-memory bound per endpoint while it is unreachable: the oldest batches go first.
    static let queueCapacityBytes = 64 << 20

    /// `queue` defaults to memory only; the pipeline passes the endpoint's disk buffer.
    init(
        endpoint: RemoteWriteConfig, interval: Duration, metrics: SelfMetrics, logger: Logger, queue: (any BatchQueue)? = nil
    ) throws(HTTPSetupError) {
        self.endpoint = endpoint
        self.queue = queue ?? MemoryQueue(
            capacityBytes: Self.queueCapacityBytes, report: DropReport(endpoint: endpoint.name, metrics: metrics, logger: logger))
        self.client = try HTTPClient(url: endpoint.url, timeout: endpoint.timeout, tls: endpoint.tls)
        self.policy = RetryPolicy(
            minBackoff: endpoint.queue.minBackoff, maxBackoff: endpoint.queue.maxBackoff,
            retryOn429: endpoint.queue.retryOnHTTP429)
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "endpoint.name"] = "\(endpoint.name)"
        self.logger = logger
        self.log = SendLog(logger: logger, refusalInterval: interval, metrics: metrics, endpoint: endpoint.name)
        self.credentials = RequestCredentials(
            headers: endpoint.headers, basicAuth: endpoint.basicAuth, bearerTokenFile: endpoint.bearerTokenFile, logger: logger)
    }

    /// Queues one cycle's batches, from any thread.
    func enqueue(_ batches: [EncodedBatch]) { queue.append(batches) }

    /// The thread's body: sends until the queue is closed, or, with `untilEmpty`, drained, or
    /// `deadline` passes (no request outlives it; what is left stays queued).
    func run(untilEmpty: Bool, deadline: ContinuousClock.Instant? = nil) {
        while let batch = queue.first(untilEmpty: untilEmpty) {
            var attempt = 0
            while true {
                if let deadline, ContinuousClock.now >= deadline { return }
                credentials.apply(to: client, protocolHeaders: Self.protocolHeaders)
                let outcome = client.perform(method: "POST", body: batch.body, deadline: deadline)
                switch policy.decide(outcome, attempt: attempt, random: &random) {
                case .delivered:
                    queue.removeFirst()
                    metrics.delivered(batch.sampleCount, endpoint: endpoint.name, at: Date().timeIntervalSince1970)
                    if !loggedFirstDelivery || attempt > 0 {
                        logger.info(
                            attempt > 0 ? "endpoint accepted the batch after retries" : "endpoint accepts samples",
                            metadata: ["batch.samples": "\(batch.sampleCount)", "send.attempts": "\(attempt + 1)",
                                       "http.version": "\(outcome.httpVersion)"])
                        loggedFirstDelivery = true
                    }
                case .drop(let reason, let message):
                    queue.removeFirst()
                    log.refusal(outcome, reason: reason, message: message, samples: batch.sampleCount)
                case .retry(let delay, let reason):
                    log.retry(outcome, reason: reason, delay: delay, attempt: attempt)
                    attempt += 1
                    guard queue.sleep(for: delay) else { return }
                    // A batch retried through an outage may outlive max_age: then take a fresh one.
                    if !queue.dropFirstIfExpired() { continue }
                }
                break
            }
        }
    }
}

extension HTTPOutcome {
    var status: Int? {
        if case .response(let status, _, _, _) = self { return status }
        return nil
    }

    var httpVersion: String {
        if case .response(_, _, _, let http2) = self { return http2 ? "2" : "1.1" }
        return "-"
    }
}
