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

    @Test func cutsSeriesIntoRequestsWithMetadataInTheFirst() throws {
        var series = MapSeriesCache(externalLabels: LabelSet())
        series.update([], timestamp: RemoteWriteWire.Timestamp(milliseconds: 1_700_000_000_000))
        for id in 1...5 { series.append(Sample(.mapEntries, LabelSet(["map_id": "\(id)"]), Double(id))) }
        let batches = RemoteWriteEncoder().requests(series, maxSamples: 2, metadata: [.mapEntries], timestampMs: 1_700_000_000_000)
        #expect(batches.map(\.sampleCount) == [2, 2, 1])
        #expect(batches.map(\.timestampMs) == [1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_000])
        let decoded = try batches.map { try #require(DecodedWriteRequest(body: $0.body)) }
        #expect(decoded.map { $0.series.map { $0["map_id"]! } } == [["1", "2"], ["3", "4"], ["5"]])
        #expect(decoded.map { $0.series.flatMap { $0.samples.map(\.value) } } == [[1, 2], [3, 4], [5]])
        #expect(decoded.map(\.metadata.count) == [1, 0, 0])
        #expect(RemoteWriteEncoder().requests(MapSeriesCache(externalLabels: LabelSet()), maxSamples: 2, metadata: [.mapEntries], timestampMs: 0).isEmpty)
    }

    /// Samples whose request is `count` series of about 130 bytes: bodies of several 64 KiB blocks.
    static func manySamples(_ count: Int, from first: Int = 0) -> [Sample] {
        (first..<first + count).map { Sample(.mapEntries, LabelSet(["map_id": "\($0)", "map_name": "conntrack_\($0 % 97)"]), Double($0)) }
    }

    /// The uncompressed length a snappy body starts with (a varint).
    static func uncompressedLength(_ body: [UInt8]) -> Int {
        var length = 0
        for (index, byte) in body.prefix(5).enumerated() {
            length |= Int(byte & 0x7f) << (7 * index)
            if byte < 0x80 { break }
        }
        return length
    }

    @Test func mergesBodiesIntoTheBytesOfOneRequestOfAllTheirSeries() throws {
        let encoder = RemoteWriteEncoder()
        let external = LabelSet(["instance": "edge-7"])
        // Parts of 1, 700 and 3,000 series: the first two end inside a 64 KiB block of the merged
        // body, which spans several blocks.
        let parts = [(0, 1), (1, 700), (701, 3_000)].map { Self.manySamples($0.1, from: $0.0) }
        let bodies = parts.map { encoder.encode($0, timestampMs: 9, externalLabels: external) }
        let ends = bodies.map(Self.uncompressedLength).reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) }
        #expect(ends[0] % 65_536 != 0 && ends[1] % 65_536 != 0 && ends[1] > 65_536 && ends[2] > 4 * 65_536)
        let merged = try #require(encoder.merge(bodies))
        let whole = encoder.encode(parts.flatMap { $0 }, timestampMs: 9, externalLabels: external)
        #expect(Self.uncompressedLength(whole) == ends[2])
        #expect(merged.count == whole.count)
        #expect(merged.elementsEqual(whole))
        let decoded = try #require(DecodedWriteRequest(body: merged))
        #expect(decoded.series.map { $0["map_id"]! } == (0..<3_701).map(String.init))
        #expect(decoded.series.map { $0.samples[0].value } == (0..<3_701).map(Double.init))
    }

    @Test func rejectsWhatIsNotSnappyProtobuf() {
        #expect(DecodedWriteRequest(body: Array("not snappy".utf8)) == nil)
    }

    /// A body that is not snappy (damaged past its CRC, or from another version) is found before
    /// a merge, and a merge that meets one fails instead of trapping.
    @Test func aBodyThatIsNotSnappyIsRefusedNotFatal() throws {
        let encoder = RemoteWriteEncoder()
        let good = encoder.encode(Self.manySamples(3, from: 0), timestampMs: 9, externalLabels: LabelSet())
        let bad: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F] + Array("another version".utf8)
        #expect(encoder.isValidBody(good))
        #expect(!encoder.isValidBody(bad))
        #expect(!encoder.isValidBody([]))
        #expect(encoder.merge([good, bad]) == nil)
        // The encoder is still whole afterwards.
        #expect(try #require(encoder.merge([good, good])).count > good.count)
    }
}

extension DecodedWriteRequest {
    init(series: [Series], metadata: [Metadata]) {
        self = DecodedWriteRequest(body: RemoteWriteEncoder().encode([], timestampMs: 0, externalLabels: LabelSet()))!
        self.series = series
        self.metadata = metadata
    }
}
