import Testing

@testable import ShipperMetrics
@testable import ShipperEncode

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

    /// Samples whose request is `count` series of about 130 bytes: bodies of several 64 KiB blocks.
    static func manySamples(_ count: Int, from first: Int = 0) -> [Sample] {
        (first..<first + count).map { Sample(.mapEntries, LabelSet(["map_id": "\($0)", "map_name": "conntrack_\($0 % 97)"]), Double($0)) }
    }

    @Test func rejectsWhatIsNotSnappyProtobuf() {
        #expect(DecodedWriteRequest(body: Array("not snappy".utf8)) == nil)
    }

    /// A buffered body of an older release that is not snappy (damaged past its CRC) is found
    /// before it is sent, as either message.
    @Test func aLegacyBodyThatIsNotSnappyIsRefusedNotFatal() throws {
        let encoder = RemoteWriteEncoder()
        let good = encoder.encode(Self.manySamples(3, from: 0), timestampMs: 9, externalLabels: LabelSet())
        let bad: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] + Array("another version".utf8)
        #expect(encoder.isValidBody(good))
        #expect(!encoder.isValidBody(bad))
        #expect(!encoder.isValidBody([]))
        for message in RemoteWriteMessage.allCases {
            #expect(encoder.body(bad, holding: .v1, as: message) == nil)
        }
        #expect(encoder.body(good, holding: .v1, as: .v1) == good)
    }
}

extension DecodedWriteRequest {
    init(series: [Series], metadata: [Metadata]) {
        self = DecodedWriteRequest(body: RemoteWriteEncoder().encode([], timestampMs: 0, externalLabels: LabelSet()))!
        self.series = series
        self.metadata = metadata
    }
}
