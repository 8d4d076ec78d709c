import Testing

@testable import ShipperMetrics
@testable import ShipperEncode

/// Remote-write 2.0 bodies, read back by protoc-c's decoder of proto/remote_v2.proto (written
/// from the spec's field numbers): symbols, refs, metadata, values and stale markers, exactly.
struct RemoteWriteV2EncoderTests {
    static let external = LabelSet(["job": "ebpf-map-shipper", "instance": "edge-7"])
    static let samples = [
        Sample(.mapEntries, LabelSet(["map_id": "12", "map_name": "conntrack", "map_type": "lru_hash"]), 4096),
        Sample(.mapMemoryBytes, LabelSet(["map_id": "12", "map_name": "conntrack", "map_type": "lru_hash"]), 1_048_576),
        Sample(.samplesSent, LabelSet(["endpoint": "central"]), 250),
        Sample(.mapPressure, LabelSet(["map_id": "13", "map_name": "gone", "map_type": "hash"]), staleMarker),
    ]

    static func decode(startTimestamps: [Metric: Int64] = [:]) throws -> DecodedWriteRequestV2 {
        let body = RemoteWriteEncoder().encodeV2(
            samples, timestampMs: 1_700_000_000_123, externalLabels: external, startTimestamps: startTimestamps)
        return try #require(DecodedWriteRequestV2(body: body))
    }

    @Test func symbolsStartEmptyAndHoldEachStringOnce() throws {
        let request = try Self.decode()
        #expect(request.symbols.first == "")
        #expect(Set(request.symbols).count == request.symbols.count, "\(request.symbols)")
        // Every symbol is used: label names and values, HELP texts, units.
        var used: Set<UInt32> = [0]
        for series in request.series {
            used.formUnion(series.refs)
            used.formUnion([series.helpRef, series.unitRef])
        }
        #expect(used == Set(0..<UInt32(request.symbols.count)))
    }

    @Test func labelRefsComeInPairsSortedByNameWithExternalLabelsMerged() throws {
        let request = try Self.decode()
        try #require(request.series.count == 4)
        let labels = try request.series.map { try #require(request.labels(of: $0)).map { "\($0.name)=\($0.value)" } }
        #expect(labels[0] == [
            "__name__=ebpf_map_entries", "instance=edge-7", "job=ebpf-map-shipper", "map_id=12", "map_name=conntrack",
            "map_type=lru_hash",
        ])
        #expect(labels[1].first == "__name__=ebpf_map_memory_bytes")
        #expect(labels[2] == ["__name__=ebpf_map_shipper_samples_sent_total", "endpoint=central", "instance=edge-7", "job=ebpf-map-shipper"])
        for series in labels {
            let names = series.map { $0.prefix { $0 != "=" } }
            #expect(names == names.sorted(), "\(series)")
        }
        // A label shared by series is one symbol: map_id=12's value has one ref in both.
        #expect(request.series[0].refs[7] == request.series[1].refs[7])
    }

    @Test func exactValuesTimestampsAndTheStaleMarker() throws {
        let request = try Self.decode()
        #expect(request.series.map { $0.samples.map(\.value.bitPattern) } == Self.samples.map { [$0.value.bitPattern] })
        #expect(request.series.allSatisfy { $0.samples.map(\.timestampMs) == [1_700_000_000_123] })
        #expect(request.series[3].samples.first?.value.bitPattern == 0x7ff0_0000_0000_0002)
    }

    @Test func everySeriesCarriesTypeHelpAndUnit() throws {
        let request = try Self.decode()
        #expect(request.series.allSatisfy { $0.hasMetadata })
        #expect(request.series.map(\.type) == [2, 2, 1, 2])  // gauge, gauge, counter, gauge
        #expect(request.series.map { request.symbol($0.helpRef) } == Self.samples.map(\.metric.help))
        #expect(request.series.map { request.symbol($0.unitRef) } == ["", "bytes", "", ""])
        #expect(request.series.map(\.unitRef)[0] == 0, "no unit is the empty symbol")
    }

    @Test func countersCarryTheirStartTimestampGaugesNever() throws {
        let request = try Self.decode(startTimestamps: [.samplesSent: 1_699_999_000_000, .mapEntries: 5])
        #expect(request.series.map(\.startTimestampMs) == [0, 0, 1_699_999_000_000, 0])
        #expect(try Self.decode().series.map(\.startTimestampMs) == [0, 0, 0, 0])
    }

    @Test func unitsComeFromTheNameSuffix() {
        #expect(Metric.mapMemoryBytes.unit == "bytes")
        #expect(Metric.collectDuration.unit == "seconds")
        #expect(Metric.configLastReloadSuccessTimestamp.unit == "seconds")
        #expect(Metric.samplesSent.unit == "")
        #expect(Metric.mapPressure.unit == "")
    }

    /// A 1.0 body is not a 2.0 request: the reserved fields 1 to 3 make it read as empty, so a
    /// receiver given the wrong protocol sees nothing rather than garbage.
    @Test func aV1BodyReadsAsAnEmptyV2Request() throws {
        let v1 = RemoteWriteEncoder().encode(Self.samples, timestampMs: 1, externalLabels: Self.external)
        let request = try #require(DecodedWriteRequestV2(body: v1))
        #expect(request.symbols.isEmpty)
        #expect(request.series.isEmpty)
    }
}

/// A 2.0 body becomes the 1.0 body of the same samples: what an endpoint that falls back to 1.0
/// receives for the requests already encoded as 2.0.
struct RemoteWriteV2ToV1Tests {
    @Test func carriesTheSameSeriesValuesAndMetadata() throws {
        let encoder = RemoteWriteEncoder()
        let samples = RemoteWriteV2EncoderTests.samples + [Sample(.mapEntries, LabelSet(["map_id": "14"]), 7)]
        let external = RemoteWriteV2EncoderTests.external
        let v2 = encoder.encodeV2(samples, timestampMs: 1_700_000_000_123, externalLabels: external, startTimestamps: [.samplesSent: 9])
        let v1 = try #require(encoder.v1Body(fromV2: v2))
        let expected = encoder.encode(
            samples, timestampMs: 1_700_000_000_123, externalLabels: external,
            metadata: [.mapEntries, .mapMemoryBytes, .samplesSent, .mapPressure])
        #expect(DecodedWriteRequest(body: v1) == DecodedWriteRequest(body: expected))
        #expect(DecodedWriteRequest(body: v1)?.series[3].samples.first?.value.bitPattern == staleMarker.bitPattern)
    }

    @Test func refusesWhatIsNotA2Request() {
        let encoder = RemoteWriteEncoder()
        #expect(encoder.v1Body(fromV2: [1, 2, 3]) == nil)
        let v1 = encoder.encode(RemoteWriteV2EncoderTests.samples, timestampMs: 1, externalLabels: LabelSet())
        #expect(encoder.v1Body(fromV2: v1) == nil, "a 1.0 body is not carried over as an empty request")
    }
}
