import Foundation
import Testing

@testable import ShipperMetrics
@testable import ShipperEncode
@testable import ShipperConfig
@testable import ShipperSend
@testable import ShipperRun

/// The sender against a scripted receiver, for faults a real receiver cannot produce on demand.
/// Every body is decoded with the real snappy and protobuf decoders.
@Suite(.timeLimit(.minutes(1)))
struct FaultInjectionTests {
    static let samples = [
        Sample(.mapEntries, LabelSet(["map_id": "7", "map_name": "conn", "map_type": "hash"]), 42),
        Sample(.mapMaxEntries, LabelSet(["map_id": "7", "map_name": "conn", "map_type": "hash"]), 64),
    ]
    static let timestampMs: Int64 = 1_790_000_000_250

    /// Sends `batches` frames of `samples` through a real sender, encoded as the endpoint's
    /// `message`, one request per frame (`max_samples_per_send` is a frame's samples, unless
    /// `configure` says otherwise), counting into `metrics`. Returns once the queue is empty, or closes it as soon as
    /// `enough` holds (checked every 100 ms), or after 30 s at the latest.
    func deliver(
        to url: String, batches: Int = 1, timestampStepMs: Int64 = 0, metrics: SelfMetrics = SelfMetrics(endpoints: ["fake"]),
        configure: (inout RemoteWriteConfig) -> Void = { _ in }, until enough: @escaping @Sendable () -> Bool = { false }
    ) async throws -> (metrics: SelfMetrics, log: CapturedLog, unsent: Int) {
        var endpoint = RemoteWriteConfig.defaults(url: url, name: "fake")
        endpoint.queue.minBackoff = .milliseconds(10)
        endpoint.queue.maxBackoff = .milliseconds(100)
        endpoint.queue.maxSamplesPerSend = Self.samples.count
        configure(&endpoint)
        let log = CapturedLog()
        let sender = try RemoteWriteSender(endpoint: endpoint, metrics: metrics, logger: log.logger)
        var frames = FrameWriter(externalLabels: LabelSet(["job": "j"]))
        for index in 0..<Int64(batches) {
            frames.update([])
            for sample in Self.samples { frames.append(sample) }
            sender.enqueue(frames.batch(timestampMs: Self.timestampMs + index * timestampStepMs))
        }
        async let sent: Void = WorkerThread.result(name: "test-send") { sender.run(untilEmpty: true) }
        let sending = Task {
            _ = await eventually(within: 30) { Task.isCancelled || enough() }
            sender.queue.close()
        }
        await sent
        sending.cancel()
        return (metrics, log, sender.queue.pendingSamples)
    }

    func value(_ metrics: SelfMetrics, _ metric: Metric, reason: String? = nil) -> Double? {
        metrics.samples().first { $0.metric == metric && (reason == nil || $0.labels["reason"] == reason) }?.value
    }

    @Test func sendsTheSpecHeadersSortedLabelsAndMilliseconds() async throws {
        let receiver = try FakeReceiver(script: [])
        _ = try await deliver(to: receiver.url) { endpoint in
            endpoint.headers = [.init(name: "X-Scope-OrgID", value: "tenant-1")]
        }
        let request = try #require(receiver.requests.first)
        #expect(receiver.requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.path == "/api/v1/write")
        #expect(request.headers["content-encoding"] == "snappy")
        #expect(request.headers["content-type"] == "application/x-protobuf")
        #expect(request.headers["x-prometheus-remote-write-version"] == "0.1.0")
        #expect(request.headers["user-agent"] == "ebpf-map-shipper/\(ShipperVersion.current)")
        #expect(request.headers["expect"] == nil)
        #expect(request.headers["user-agent"] == "ebpf-map-shipper/\(ShipperVersion.current)")
        #expect(request.headers["x-scope-orgid"] == "tenant-1")
        #expect(request.headers["expect"] == nil)
        let decoded = try #require(request.decoded)
        #expect(decoded.series.map { $0.labels.map { "\($0.name)=\($0.value)" } } == [
            ["__name__=ebpf_map_entries", "job=j", "map_id=7", "map_name=conn", "map_type=hash"],
            ["__name__=ebpf_map_max_entries", "job=j", "map_id=7", "map_name=conn", "map_type=hash"],
        ])
        #expect(decoded.series.map { $0.samples.map(\.value) } == [[42], [64]])
        #expect(decoded.series.map { $0.samples.map(\.timestampMs) } == [[Self.timestampMs], [Self.timestampMs]])
    }

    @Test func a500IsRetriedAndTheSameSamplesArrive() async throws {
        let receiver = try FakeReceiver(script: [.status(500, body: "try later"), .status(503)])
        let (metrics, _, unsent) = try await deliver(to: receiver.url)
        #expect(receiver.requests.count == 3)
        #expect(Set(receiver.requests.map(\.body)).count == 1)
        #expect(receiver.requests.last?.decoded?.series.count == 2)
        #expect(unsent == 0)
        #expect(value(metrics, .samplesSent) == 2)
        #expect(value(metrics, .sendFailures, reason: "http_5xx") == 2)
        #expect(value(metrics, .samplesDropped, reason: "http_4xx") == 0)
    }

    /// Frames that fit `max_samples_per_send` together go in one request, each series with its
    /// own frame's timestamp; a frame larger than it goes in several.
    @Test func framesGoInRequestsOfMaxSamplesPerSend() async throws {
        let receiver = try FakeReceiver(script: [])
        _ = try await deliver(to: receiver.url, batches: 3, timestampStepMs: 1000) { $0.queue.maxSamplesPerSend = 5 }
        let t = Self.timestampMs
        #expect(receiver.requests.map { $0.decoded?.series.map { $0.samples[0].timestampMs } ?? [] } == [[t, t, t + 1000, t + 1000], [t + 2000, t + 2000]])
        let single = try FakeReceiver(script: [])
        _ = try await deliver(to: single.url) { $0.queue.maxSamplesPerSend = 1 }
        #expect(single.requests.map { $0.decoded?.series.map { $0.samples[0].value } ?? [] } == [[42], [64]])
    }

    @Test func retriesKeepEverySeriesInTimestampOrderOnOneConnection() async throws {
        let receiver = try FakeReceiver(script: [.status(204), .status(502), .status(500)])
        _ = try await deliver(to: receiver.url, batches: 3, timestampStepMs: 1000)
        let stamps = receiver.requests.map { $0.decoded?.series.first?.samples.first?.timestampMs ?? 0 }
        let t = Self.timestampMs
        #expect(stamps == [t, t + 1000, t + 1000, t + 1000, t + 2000])
        // One kept-alive connection: 5xx answers do not make libcurl reconnect.
        #expect(Set(receiver.requests.map(\.connection)) == [0])
    }

    @Test func a400IsDroppedCountedLoggedOnceAndNeverResent() async throws {
        let message = "out of order sample"
        let receiver = try FakeReceiver(script: [], fallback: .status(400, body: message))
        let (metrics, log, unsent) = try await deliver(to: receiver.url, batches: 3)
        #expect(receiver.requests.count == 3)
        #expect(unsent == 0)
        #expect(value(metrics, .samplesDropped, reason: "http_4xx") == 6)
        #expect(value(metrics, .sendFailures, reason: "http_4xx") == 3)
        #expect(value(metrics, .samplesSent) == 0)
        let refusals = log.entries.filter { $0.message == "endpoint refused the batch; dropped, not retried" }
        #expect(refusals.count == 1)
        #expect(refusals.first?.metadata["receiver.message"] == "\(message)")
        #expect(refusals.first?.metadata["http.status"] == "400")
    }

    @Test func a429WaitsForRetryAfter() async throws {
        let receiver = try FakeReceiver(script: [.status(429, headers: ["Retry-After": "2"])])
        let (metrics, _, _) = try await deliver(to: receiver.url)
        let times = receiver.requests.map(\.receivedAt)
        try #require(times.count == 2)
        let waited = times[1] - times[0]
        // The bound is the feature: at least the 2 s asked for, not the 10 ms backoff; and not far
        // past them, with a margin a loaded machine keeps.
        #expect(waited >= .milliseconds(1900) && waited < .seconds(10), "waited \(waited)")
        #expect(value(metrics, .sendFailures, reason: "http_429") == 1)
        #expect(value(metrics, .samplesSent) == 2)
    }

    /// `Retry-After: 0` and a date in the past once made 2,050 requests in 3 s: the backoff still grows.
    @Test(arguments: ["0", "Wed, 21 Oct 2015 07:28:00 GMT"])
    func aRetryAfterOfNowStillBacksOff(retryAfter: String) async throws {
        let receiver = try FakeReceiver(script: [], fallback: .status(429, headers: ["Retry-After": retryAfter]))
        let (metrics, _, unsent) = try await deliver(to: receiver.url, until: { receiver.requests.count >= 12 })
        receiver.stop()
        // 10ms doubling to 100ms with jitter in the upper half: after the first five attempts, each
        // waits at least 50ms. Counted against the time the requests really spanned, so that a
        // loaded machine that lets the sender run past its 2 s does not pass for a hot loop.
        let times = receiver.requests.map(\.receivedAt)
        let span = (times.last ?? .now) - (times.first ?? .now)
        let most = 6 + Int(span / .milliseconds(50))
        #expect(receiver.requests.count >= 12 && receiver.requests.count <= most, "\(receiver.requests.count) requests in \(span)")
        #expect(value(metrics, .sendFailures, reason: "http_429") == Double(receiver.requests.count))
        #expect(unsent == 2)
    }

    /// With max_age shorter than an outage, the batch retried through it once arrived anyway.
    /// Each retry waits at least 100ms, so the old batch (59.9 s old, max_age 60 s) has expired
    /// by the second one, however slow the machine, and the fresh one has a minute to get through.
    @Test func aBatchRetriedPastMaxAgeIsDroppedAndTheRestDelivered() async throws {
        let receiver = try FakeReceiver(script: Array(repeating: .status(503), count: 5))
        let fixture = DiskQueueTests.Fixture()
        let queue = try fixture.open(maxAge: .seconds(60))
        var endpoint = RemoteWriteConfig.defaults(url: receiver.url, name: "e")
        endpoint.queue.maxSamplesPerSend = 2
        endpoint.queue.minBackoff = .milliseconds(100)
        endpoint.queue.maxBackoff = .milliseconds(100)
        let sender = try RemoteWriteSender(endpoint: endpoint, metrics: fixture.metrics, logger: fixture.log.logger, queue: queue)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        sender.enqueue(DiskQueueTests.batch(1, at: now - 59_900, samples: 2))
        sender.enqueue(DiskQueueTests.batch(2, at: now))
        await WorkerThread.result(name: "test-send") { sender.run(untilEmpty: true) }
        // Five refusals, then the fresh batch alone is accepted; the old one never was.
        #expect(receiver.requests.count == 6)
        #expect(receiver.requests.last?.decoded?.series.map { $0.samples[0].value } == [2])
        #expect(fixture.dropped("too_old") == 2)
        #expect(sender.queue.pendingSamples == 0)
    }

    @Test func a429IsDroppedWhenItsRetryIsOff() async throws {
        let receiver = try FakeReceiver(script: [.status(429, headers: ["Retry-After": "2"], body: "rate limited")])
        let (metrics, _, _) = try await deliver(to: receiver.url) { $0.queue.retryOnHTTP429 = false }
        #expect(receiver.requests.count == 1)
        #expect(value(metrics, .samplesDropped, reason: "http_4xx") == 2)
    }

    @Test func aReceiverThatNeverAnswersTimesOut() async throws {
        let receiver = try FakeReceiver(script: [.hang])
        let started = ContinuousClock.now
        let (metrics, _, unsent) = try await deliver(to: receiver.url) { $0.timeout = .seconds(1) }
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(receiver.requests.count == 2)
        #expect(value(metrics, .sendFailures, reason: "timeout") == 1)
        #expect(unsent == 0)
        receiver.stop()
    }

    /// The receiver comes up once the sender has been refused twice.
    @Test func aRefusedConnectionIsRetriedUntilTheReceiverIsUp() async throws {
        let port = Network.freePort()
        let metrics = SelfMetrics(endpoints: ["fake"])
        let late = Task {
            _ = await eventually(within: 30) { (value(metrics, .sendFailures, reason: "connect") ?? 0) >= 2 }
            return try FakeReceiver(port: port, script: [])
        }
        let (_, _, unsent) = try await deliver(to: "http://127.0.0.1:\(port)/api/v1/write", metrics: metrics)
        let receiver = try await late.value
        #expect(unsent == 0)
        #expect(receiver.requests.count == 1)
        #expect((value(metrics, .sendFailures, reason: "connect") ?? 0) >= 2)
        #expect(value(metrics, .samplesSent) == 2)
    }
}
