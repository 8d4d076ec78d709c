import Foundation
import Testing

@testable import ShipperMetrics
@testable import ShipperCollect
@testable import ShipperConfig
@testable import ShipperEncode
@testable import ShipperBuffer
@testable import ShipperSend
@testable import ShipperRun

/// The sender with `protobuf_message: io.prometheus.write.v2.Request` against a scripted
/// receiver that decodes the real bytes with protoc-c's decoder of proto/remote_v2.proto: the
/// spec's headers, the Written headers counted, and the fallback to 1.0, which loses nothing.
@Suite(.timeLimit(.minutes(1)))
struct RemoteWriteV2SenderTests {
    static let fallbackLine =
        "endpoint takes only remote-write 1.0; sending it prometheus.WriteRequest until restart (or a reload that changes its protobuf_message), queued batches included"
    static let written = ["X-Prometheus-Remote-Write-Samples-Written": "2", "X-Prometheus-Remote-Write-Histograms-Written": "0",
                          "X-Prometheus-Remote-Write-Exemplars-Written": "0"]

    func deliver(to receiver: FakeReceiver, batches: Int = 1) async throws -> (metrics: SelfMetrics, log: CapturedLog, unsent: Int) {
        try await FaultInjectionTests().deliver(to: receiver.url, batches: batches, timestampStepMs: 1000) { $0.message = .v2 }
    }

    func value(_ metrics: SelfMetrics, _ metric: Metric) -> Double? {
        metrics.samples().first { $0.metric == metric }?.value
    }

    /// The samples each request carried, as "name value@timestamp", read as the message its
    /// Content-Type names.
    static func samples(of request: FakeReceiver.Request) throws -> [String] {
        if request.headers["content-type"] == "application/x-protobuf;proto=io.prometheus.write.v2.Request" {
            let decoded = try #require(request.decodedV2)
            return try decoded.series.map { series in
                let labels = try #require(decoded.labels(of: series))
                let name = labels.first { $0.name == "__name__" }?.value ?? "?"
                return "\(name) \(series.samples[0].value)@\(series.samples[0].timestampMs)"
            }
        }
        let decoded = try #require(request.decoded)
        return decoded.series.map { "\($0["__name__"] ?? "?") \($0.samples[0].value)@\($0.samples[0].timestampMs)" }
    }

    static func expected(batch: Int64) -> [String] {
        let time = FaultInjectionTests.timestampMs + batch * 1000
        return ["ebpf_map_entries 42.0@\(time)", "ebpf_map_max_entries 64.0@\(time)"]
    }

    @Test func sendsTheSpecHeadersAndCountsWhatTheReceiverWrote() async throws {
        let receiver = try FakeReceiver(script: [], fallback: .status(204, headers: Self.written))
        let (metrics, log, unsent) = try await deliver(to: receiver, batches: 2)
        #expect(receiver.requests.count == 2)
        let request = try #require(receiver.requests.first)
        #expect(request.headers["content-type"] == "application/x-protobuf;proto=io.prometheus.write.v2.Request")
        #expect(request.headers["x-prometheus-remote-write-version"] == "2.0.0")
        #expect(request.headers["content-encoding"] == "snappy")
        let decoded = try #require(request.decodedV2)
        #expect(decoded.symbols.first == "")
        #expect(decoded.series.map { decoded.labels(of: $0)?.map { "\($0.name)=\($0.value)" } ?? [] } == [
            ["__name__=ebpf_map_entries", "job=j", "map_id=7", "map_name=conn", "map_type=hash"],
            ["__name__=ebpf_map_max_entries", "job=j", "map_id=7", "map_name=conn", "map_type=hash"],
        ])
        #expect(decoded.series.map(\.type) == [2, 2])
        #expect(decoded.series.map { decoded.symbol($0.helpRef) } == [Metric.mapEntries.help, Metric.mapMaxEntries.help])
        #expect(try receiver.requests.map(Self.samples) == [Self.expected(batch: 0), Self.expected(batch: 1)])
        #expect(value(metrics, .samplesWritten) == 4)
        #expect(value(metrics, .samplesSent) == 4)
        #expect(value(metrics, .remoteWriteVersion) == 2)
        #expect(log.count(Self.fallbackLine) == 0)
        #expect(unsent == 0)
    }

    /// 415: the receiver says it does not take this Content-Type. The same batch goes again at
    /// once as 1.0, and so does every batch queued behind it.
    @Test func a415FallsBackAndTheSameBatchesArriveAs1_0() async throws {
        let receiver = try FakeReceiver(script: [.status(415, body: "unsupported content type")], fallback: .status(204))
        let (metrics, log, unsent) = try await deliver(to: receiver, batches: 3)
        #expect(receiver.requests.map { $0.headers["x-prometheus-remote-write-version"] } == ["2.0.0", "0.1.0", "0.1.0", "0.1.0"])
        #expect(try receiver.requests.map(Self.samples) == [
            Self.expected(batch: 0), Self.expected(batch: 0), Self.expected(batch: 1), Self.expected(batch: 2),
        ])
        #expect(value(metrics, .remoteWriteVersion) == 1)
        #expect(value(metrics, .samplesSent) == 6)
        #expect(metrics.droppedTotal(endpoint: "fake") == 0)
        #expect(log.count(Self.fallbackLine) == 1)
        #expect(log.entries.first { $0.message == Self.fallbackLine }?.metadata["http.status"] == "415")
        #expect(unsent == 0)
    }

    /// A 1.0 receiver answers a 2.0 body it could not read with 204 and drops it; only the missing
    /// Written headers tell. Nothing may be lost: the batch goes again as 1.0.
    @Test func a2xxWithoutWrittenHeadersFallsBackAndLosesNothing() async throws {
        let receiver = try FakeReceiver(script: [], fallback: .status(204))
        let (metrics, log, unsent) = try await deliver(to: receiver, batches: 2)
        #expect(receiver.requests.map { $0.headers["x-prometheus-remote-write-version"] } == ["2.0.0", "0.1.0", "0.1.0"])
        #expect(try receiver.requests.dropFirst().map(Self.samples) == [Self.expected(batch: 0), Self.expected(batch: 1)])
        #expect(value(metrics, .samplesSent) == 4, "the dropped 2.0 request is not counted as sent")
        #expect(value(metrics, .samplesWritten) == 0)
        #expect(value(metrics, .remoteWriteVersion) == 1)
        #expect(log.count(Self.fallbackLine) == 1)
        #expect(unsent == 0)
    }

    /// A Written header that is not a count (negative, exponent, text) still says the receiver
    /// speaks 2.0: no fallback, no resend of what it may have written; said once a minute.
    @Test func anUnreadableWrittenHeaderIsNotAFallback() async throws {
        for bad in ["-5", "1e20", "abc"] {
            let headers = ["X-Prometheus-Remote-Write-Samples-Written": bad]
            let receiver = try FakeReceiver(script: [], fallback: .status(204, headers: headers))
            let (metrics, log, unsent) = try await deliver(to: receiver, batches: 2)
            #expect(receiver.requests.map { $0.headers["x-prometheus-remote-write-version"] } == ["2.0.0", "2.0.0"], "\(bad)")
            #expect(value(metrics, .remoteWriteVersion) == 2)
            #expect(log.count(Self.fallbackLine) == 0)
            #expect(log.count("the receiver sent an X-Prometheus-Remote-Write-*-Written header that is not a count; taking the batch as written") == 1)
            #expect(unsent == 0)
        }
    }

    /// A 2xx that wrote fewer samples than were sent is counted and said, not retried.
    @Test func fewerSamplesWrittenThanSentIsLogged() async throws {
        let headers = ["X-Prometheus-Remote-Write-Samples-Written": "1"]
        let receiver = try FakeReceiver(script: [], fallback: .status(204, headers: headers))
        let (metrics, log, _) = try await deliver(to: receiver, batches: 2)
        #expect(receiver.requests.count == 2)
        #expect(value(metrics, .samplesWritten) == 2)
        let lines = log.entries.filter { $0.message == "the receiver wrote fewer samples than it was sent; the rest are not retried" }
        #expect(lines.count == 1)
        #expect(lines.first?.metadata["batch.samples"] == "2" && lines.first?.metadata["receiver.samples_written"] == "1")
    }

    /// A queued batch that cannot be read (damage past its checksum) is dropped as corrupt and
    /// logged, and the next one sent: a frame whose table is cut short, and a body of an older
    /// release that is not the message it says it holds.
    @Test func aBatchThatCannotBeReadIsDroppedAsCorrupt() async throws {
        let receiver = try FakeReceiver(script: [])
        let metrics = SelfMetrics(endpoints: ["fake"])
        let log = CapturedLog()
        let sender = try RemoteWriteSender(
            endpoint: .defaults(url: receiver.url, name: "fake"), metrics: metrics, logger: log.logger)
        var frames = FrameWriter(externalLabels: LabelSet())
        frames.update([])
        for sample in FaultInjectionTests.samples { frames.append(sample) }
        let good = frames.batch(timestampMs: 1)
        var cut = good
        cut.body.removeLast(9)
        let v1 = RemoteWriteEncoder().encode(FaultInjectionTests.samples, timestampMs: 1, externalLabels: LabelSet())
        sender.enqueue(cut)
        sender.enqueue(Batch(body: v1, sampleCount: 2, timestampMs: 1, format: .remoteWriteV2))
        sender.enqueue(good)
        await WorkerThread.result(name: "test-send") { sender.run(untilEmpty: true) }
        #expect(receiver.requests.count == 1)
        #expect(receiver.requests.first?.decoded?.series.map { $0.samples[0].value } == [42, 64])
        #expect(metrics.samples().first { $0.metric == .samplesDropped && $0.labels["reason"] == "corrupt" }?.value == 4)
        #expect(log.count("a queued batch cannot be read; dropped") == 1)
    }

    /// Retries, 429 and 4xx are as in 1.0: a 503 is retried as 2.0, with no fallback.
    @Test func a503IsRetriedAs2_0() async throws {
        let receiver = try FakeReceiver(script: [.status(503)], fallback: .status(204, headers: Self.written))
        let (metrics, log, _) = try await deliver(to: receiver)
        #expect(receiver.requests.map { $0.headers["x-prometheus-remote-write-version"] } == ["2.0.0", "2.0.0"])
        #expect(Set(receiver.requests.map(\.body)).count == 1)
        #expect(value(metrics, .remoteWriteVersion) == 2)
        #expect(log.count(Self.fallbackLine) == 0)
    }
}

/// The real binary's `once`, configured for 2.0, with real maps held by another process: a
/// whole cycle arrives as one 2.0 request with exact counts, metadata on every series, and start
/// timestamps on the shipper's counters.
@Suite(.requiresBPF, .timeLimit(.minutes(1)))
struct RemoteWriteV2OnceTests {
    @Test func aCycleArrivesAs2_0WithExactCountsAndStartTimestamps() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "h", maxEntries: 64, fill: 9)
        let receiver = try FakeReceiver(script: [], fallback: .status(204, headers: RemoteWriteV2SenderTests.written))
        let before = Int64(Date().timeIntervalSince1970 * 1000)
        let result = try await ShipperBinary.once(config: """
            maps: {include: ['^\(prefix)']}
            remote_write:
              - name: v2
                url: \(receiver.url)
                protobuf_message: io.prometheus.write.v2.Request
            buffer: {dir: ''}
            """)
        #expect(result.status == 0, "\(result.stderr)")
        try #require(receiver.requests.count == 1, "\(result.stderr)")
        let request = try #require(receiver.requests[0].decodedV2)
        var byName: [String: [DecodedWriteRequestV2.Series]] = [:]
        for series in request.series {
            let name = try #require(request.labels(of: series)?.first { $0.name == "__name__" }?.value)
            byName[name, default: []].append(series)
        }
        let entries = try #require(byName["ebpf_map_entries"]?.first)
        #expect(entries.samples.map(\.value) == [9])
        #expect(request.labels(of: entries)?.first { $0.name == "map_id" }?.value == "\(id)")
        #expect(request.series.allSatisfy { $0.hasMetadata && $0.type != 0 && request.symbol($0.helpRef) != "" })
        #expect(request.symbol(try #require(byName["ebpf_map_memory_bytes"]?.first).unitRef) == "bytes")
        let sent = try #require(byName["ebpf_map_shipper_samples_sent_total"]?.first)
        #expect(sent.startTimestampMs >= before && sent.startTimestampMs <= sent.samples[0].timestampMs, "\(sent.startTimestampMs)")
        #expect(entries.startTimestampMs == 0, "gauges have none")
    }
}
