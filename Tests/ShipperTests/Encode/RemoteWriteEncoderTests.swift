import Testing

@testable import Shipper

struct RemoteWriteEncoderTests {
    @Test func roundTripsWithSortedMergedLabels() throws {
        let encoder = RemoteWriteEncoder()
        let external = LabelSet(["job": "ebpf-map-shipper", "instance": "edge-7", "map_type": "from-external", "zzz": "last"])
        let samples = [
            Sample(.mapEntries, LabelSet(["map_id": "12", "map_name": "conntrack", "map_type": "lru_hash"]), 4096),
            Sample(.mapPressure, LabelSet(["map_id": "12"]), 0.5),
            Sample(.buildInfo, LabelSet(), staleMarker),
        ]
        let body = encoder.encode(samples, timestampMs: 1_700_000_000_123, externalLabels: external)
        let decoded = try #require(DecodedWriteRequest(body: body))

        #expect(decoded.series.count == 3)
        #expect(decoded.series[0].labels.map { "\($0.name)=\($0.value)" } == [
            "__name__=ebpf_map_entries", "instance=edge-7", "job=ebpf-map-shipper", "map_id=12", "map_name=conntrack",
            "map_type=lru_hash", "zzz=last",
        ])
        #expect(decoded.series[1].labels.map(\.name) == ["__name__", "instance", "job", "map_id", "map_type", "zzz"])
        #expect(decoded.series[1]["map_type"] == "from-external")
        #expect(decoded.series[2].labels.map(\.name) == ["__name__", "instance", "job", "map_type", "zzz"])
        #expect(decoded.series[0].samples.map(\.value) == [4096])
        #expect(decoded.series[1].samples.map(\.timestampMs) == [1_700_000_000_123])
        // The stale marker's exact NaN payload survives encoding.
        #expect(decoded.series[2].samples.first?.value.bitPattern == 0x7ff0_0000_0000_0002)
        #expect(decoded.metadata.isEmpty)
    }

    @Test func labelNamesBeforeAndAfterNameSortCorrectly() throws {
        let encoder = RemoteWriteEncoder()
        let body = encoder.encode(
            [Sample(.mapInfo, LabelSet(["A": "upper", "_x": "under", "b": "lower"]), 1)], timestampMs: 1,
            externalLabels: LabelSet(["Z": "1", "__z": "never-collides"]))
        let decoded = try #require(DecodedWriteRequest(body: body))
        #expect(decoded.series[0].labels.map(\.name) == ["A", "Z", "__name__", "__z", "_x", "b"])
    }

    @Test func carriesMetadataAndReusesBuffers() throws {
        let encoder = RemoteWriteEncoder()
        let first = encoder.encode(
            [Sample(.mapEntries, LabelSet(["map_id": "1"]), 1)], timestampMs: 5, externalLabels: LabelSet(),
            metadata: [.mapEntries, .samplesSent])
        let decoded = try #require(DecodedWriteRequest(body: first))
        #expect(decoded.metadata == [
            .init(type: 2, family: "ebpf_map_entries", help: Metric.mapEntries.help),
            .init(type: 1, family: "ebpf_map_shipper_samples_sent_total", help: Metric.samplesSent.help),
        ])
        // A second, smaller request through the same encoder holds nothing of the first.
        let second = encoder.encode([], timestampMs: 6, externalLabels: LabelSet())
        #expect(DecodedWriteRequest(body: second) == DecodedWriteRequest(series: [], metadata: []))
    }

    @Test func rejectsWhatIsNotSnappyProtobuf() {
        #expect(DecodedWriteRequest(body: Array("not snappy".utf8)) == nil)
    }
}

extension DecodedWriteRequest {
    init(series: [Series], metadata: [Metadata]) {
        self = DecodedWriteRequest(body: RemoteWriteEncoder().encode([], timestampMs: 0, externalLabels: LabelSet()))!
        self.series = series
        self.metadata = metadata
    }
}

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
        #expect(decide(.response(status: 503, retryAfter: .seconds(3), body: "", http2: false))
            == .retry(after: .seconds(3), reason: "http_5xx"))
        guard case .retry(_, "connect") = decide(.failure(.connect, message: "refused")) else {
            Issue.record("a refused connection must be retried")
            return
        }
    }
}
