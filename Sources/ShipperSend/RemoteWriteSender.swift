import Foundation
import Logging
import Synchronization
import ShipperCollect
import ShipperMetrics
import ShipperEncode
import ShipperBuffer
import ShipperConfig

/// Sends one endpoint's queue, oldest batch first, on its own thread. Knows HTTP and the
/// remote-write protocol, nothing about maps.
///
/// The queue holds frames; the sender encodes them when it sends them, outside any lock, as the
/// message the endpoint takes, in requests of up to `max_samples_per_send` samples (several
/// frames in one request while it keeps up, one frame in several requests if it is large).
///
/// Remote-write 2.0 endpoints fall back to 1.0, until restart, when the receiver shows it takes
/// only 1.0: a 415, or a 2xx without any of 2.0's X-Prometheus-Remote-Write-*-Written headers
/// (how a 1.0 receiver answers a body it could not read, which it dropped). The fallback swaps
/// the encoder: the request that showed it is encoded again and sent at once as 1.0, and so is
/// everything still queued, so the fallback loses nothing.
///
/// Unchecked Sendable: `enqueue` touches only the thread-safe queue and metrics and may be called
/// from any thread; everything else (the curl handle, the log memory) belongs to the one thread
/// that calls `run`.
package final class RemoteWriteSender: @unchecked Sendable {
    package let queue: any BatchQueue
    private let metrics: SelfMetrics
    /// The settings the sending thread uses now; a reload hands it the next ones in `pending`.
    private var settings: Settings
    private let pending = Mutex<Settings?>(nil)
    private let configured: Mutex<RemoteWriteConfig>
    private var loggedFirstDelivery = false
    private var writtenLog = LogLimit()
    private let current: Mutex<RemoteWriteMessage>
    /// The sending thread's own: the encoder of the message the endpoint is sent, and what it
    /// encoded of the batches in flight.
    private var encoder: any RequestEncoder
    private let legacy = RemoteWriteEncoder()
    private var inFlight: (batches: [Batch], maxSamples: Int, encoded: EncodedBatches) = ([], 0, EncodedBatches())

    /// Everything a sender's requests depend on, built (and checked) before it is used: a reload
    /// builds the next settings of every changed endpoint before it touches a running one.
    package final class Settings: @unchecked Sendable {
        let endpoint: RemoteWriteConfig
        fileprivate var connection: EndpointConnection
        fileprivate let policy: RetryPolicy

        package init(endpoint: RemoteWriteConfig, metrics: SelfMetrics, logger: Logger) throws(HTTPSetupError) {
            self.endpoint = endpoint
            connection = try EndpointConnection(endpoint, url: endpoint.url, metrics: metrics, logger: logger)
            policy = RetryPolicy(
                minBackoff: endpoint.queue.minBackoff, maxBackoff: endpoint.queue.maxBackoff,
                retryOn429: endpoint.queue.retryOnHTTP429)
        }
    }

    /// The headers the spec requires for each message; configured headers can never replace them.
    static func protocolHeaders(_ message: RemoteWriteMessage) -> [String] {
        switch message {
        case .v1:
            ["Content-Encoding: snappy", "Content-Type: application/x-protobuf", "X-Prometheus-Remote-Write-Version: 0.1.0"]
        case .v2:
            [
                "Content-Encoding: snappy", "Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request",
                "X-Prometheus-Remote-Write-Version: 2.0.0",
            ]
        }
    }

    /// The endpoint's settings as last configured. From any thread.
    package var endpoint: RemoteWriteConfig { configured.withLock { $0 } }

    /// What the endpoint is sent now. From any thread.
    var message: RemoteWriteMessage { current.withLock { $0 } }

    private static func encoder(for message: RemoteWriteMessage) -> any RequestEncoder {
        switch message {
        case .v1: RemoteWriteV1Encoder()
        case .v2: RemoteWriteV2Encoder()
        }
    }

    /// In-memory bound per endpoint while it is unreachable: the oldest batches go first.
    package static let queueCapacityBytes = 64 << 20

    /// `queue` defaults to memory only; the pipeline passes the endpoint's disk buffer.
    convenience init(
        endpoint: RemoteWriteConfig, metrics: SelfMetrics, logger: Logger, queue: (any BatchQueue)? = nil
    ) throws(HTTPSetupError) {
        try self.init(
            Settings(endpoint: endpoint, metrics: metrics, logger: logger), metrics: metrics,
            queue: queue ?? MemoryQueue(
                capacityBytes: Self.queueCapacityBytes, report: DropReport(endpoint: endpoint.name, metrics: metrics, logger: logger)))
    }

    package init(_ settings: Settings, metrics: SelfMetrics, queue: any BatchQueue) {
        self.settings = settings
        self.queue = queue
        self.metrics = metrics
        self.configured = Mutex(settings.endpoint)
        self.current = Mutex(settings.endpoint.message)
        self.encoder = Self.encoder(for: settings.endpoint.message)
        metrics.sending(version: settings.endpoint.message.version, endpoint: settings.endpoint.name)
    }

    /// A reload changed the endpoint's settings but not its queue: the sending thread takes them
    /// before its next request, so nothing queued waits for a new thread and nothing is resent.
    /// A changed `protobuf_message` starts over from it; otherwise a fallback to 1.0 stays.
    package func reconfigure(_ next: Settings) {
        let previous = configured.withLock { value in
            defer { value = next.endpoint }
            return value
        }
        if next.endpoint.message != previous.message {
            current.withLock { $0 = next.endpoint.message }
            metrics.sending(version: next.endpoint.message.version, endpoint: next.endpoint.name)
        }
        pending.withLock { $0 = next }
    }

    private var logger: Logger { settings.connection.logger }

    /// Queues one cycle's frame, from any thread.
    package func enqueue(_ batch: Batch) { queue.append(batch) }

    /// The thread's body: sends until the queue is closed, or, with `untilEmpty`, drained, or
    /// `deadline` passes (no request outlives it; what is left stays queued).
    package func run(untilEmpty: Bool, deadline: ContinuousClock.Instant? = nil) {
        while let batches = queue.first(untilEmpty: untilEmpty, maxSamples: maxSamples) {
            encode(batches, maxSamples: maxSamples)
            if inFlight.encoded.unreadable > 0 {
                settings.connection.log.unreadable(samples: inFlight.encoded.unreadable)
            }
            var index = 0
            sending: while index < inFlight.encoded.requests.count {
                let samples = inFlight.encoded.requests[index].samples
                switch Delivery.deliver(index, samples: samples, to: self, deadline: deadline) {
                case .delivered(let attempts, let outcome):
                    metrics.delivered(samples, endpoint: endpoint.name, at: Date().timeIntervalSince1970)
                    if !loggedFirstDelivery || attempts > 1 {
                        logger.info(
                            attempts > 1 ? "endpoint accepted the batch after retries" : "endpoint accepts samples",
                            metadata: ["batch.samples": "\(samples)", "send.attempts": "\(attempts)",
                                       "http.version": "\(outcome.httpVersion)"])
                        loggedFirstDelivery = true
                    }
                    index += 1
                case .refused:
                    index += 1
                case .expired:
                    return  // the batches stay queued
                case .abandoned:
                    // Closed: the batches stay queued. Otherwise they were too old or pushed out by
                    // max_size meanwhile, and the queue has let them go: take the next.
                    if queue.isClosed { return }
                    break sending
                }
            }
            if index == inFlight.encoded.requests.count { queue.removeFirst() }
        }
    }

    private var maxSamples: Int { settings.endpoint.queue.maxSamplesPerSend }

    /// Encodes `batches` as the message the endpoint is sent now, for `attempt`.
    private func encode(_ batches: [Batch], maxSamples: Int) {
        inFlight = (batches, maxSamples, encoder.requests(batches, maxSamples: maxSamples, legacy: legacy))
    }

    /// A reload's settings, taken between requests. A changed `protobuf_message` swaps the encoder
    /// and encodes the batches in flight again, cut as before, so the next request goes as the new
    /// message; a changed `max_samples_per_send` applies from the next batches.
    private func takeSettings(_ next: Settings) {
        settings = next
        let wanted = message
        guard encoder.message != wanted else { return }
        encoder = Self.encoder(for: wanted)
        encode(inFlight.batches, maxSamples: inFlight.maxSamples)
    }

    /// A 2.0 receiver's Written headers: counted, and said (once a minute) when they cannot be
    /// read or a 2xx wrote fewer samples than were sent. Neither means the receiver takes only
    /// 1.0: the batch is not sent again.
    private func noteWritten(_ written: WrittenCounts, sent: Int, status: Int) {
        if let samples = written.samples { metrics.written(samples, endpoint: endpoint.name) }
        guard (200..<300).contains(status) else { return }
        if written.unreadable {
            if writtenLog.allows() {
                logger.warning(
                    "the receiver sent an X-Prometheus-Remote-Write-*-Written header that is not a count; taking the batch as written")
            }
        } else if let samples = written.samples, samples < sent, writtenLog.allows() {
            logger.warning(
                "the receiver wrote fewer samples than it was sent; the rest are not retried",
                metadata: ["batch.samples": "\(sent)", "receiver.samples_written": "\(samples)"])
        }
    }

    /// From now until restart, the endpoint is sent 1.0. Logged once: it happens once.
    private func fallBack(status: Int) {
        current.withLock { $0 = .v1 }
        encoder = RemoteWriteV1Encoder()
        // The same requests as 1.0: the runs are cut at the same samples.
        encode(inFlight.batches, maxSamples: inFlight.maxSamples)
        metrics.sending(version: 1, endpoint: endpoint.name)
        logger.warning(
            "endpoint takes only remote-write 1.0; sending it prometheus.WriteRequest until restart (or a reload that changes its protobuf_message), queued batches included",
            metadata: [
                "http.status": "\(status)",
                "fallback.reason": "\(status == 415 ? "415 Unsupported Media Type" : "2xx without X-Prometheus-Remote-Write-*-Written headers")",
            ])
    }
}

extension RemoteWriteSender: DeliveryTarget {
    /// Sends request `index` of the batches in flight, with the settings a reload last handed over.
    func attempt(_ index: Int, number: Int, deadline: ContinuousClock.Instant?) -> Delivery.Attempt {
        if let next = pending.withLock({ $0.take() }) { takeSettings(next) }
        // Encoded again as another message, a buffered body of an older release may no longer read.
        guard index < inFlight.encoded.requests.count else { return .unsendable }
        let request = inFlight.encoded.requests[index]
        let message = encoder.message
        let connection = settings.connection
        let outcome = connection.perform(
            method: "POST", body: request.body, protocolHeaders: Self.protocolHeaders(message), deadline: deadline)
        if message == .v2, let status = outcome.status {
            if status == 415 || ((200..<300).contains(status) && connection.client.written == nil) {
                fallBack(status: status)
                return .again  // the same request, as 1.0, at once
            }
            if let written = connection.client.written { noteWritten(written, sent: request.samples, status: status) }
        }
        return .sent(outcome, policy: settings.policy)
    }

    /// Requests retried through an outage may outlive max_age, or be pushed out by max_size: then
    /// they are given up for the next ones.
    func retry(_ index: Int, after delay: Duration) -> Bool {
        queue.sleep(for: delay) && !queue.dropFirstIfStale()
    }

    var log: SendLog {
        get { settings.connection.log }
        set { settings.connection.log = newValue }
    }
}

extension HTTPOutcome {
    var status: Int? {
        if case .response(let status, _, _, _) = self { return status }
        return nil
    }

    var failure: HTTPFailure? {
        if case .failure(let failure, _) = self { return failure }
        return nil
    }

    var httpVersion: String {
        if case .response(_, _, _, let http2) = self { return http2 ? "2" : "1.1" }
        return "-"
    }
}
