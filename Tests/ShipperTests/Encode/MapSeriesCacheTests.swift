import Testing

@testable import Shipper

struct MapSeriesCacheTests {
    static let external = LabelSet(["instance": "edge-7", "job": "ebpf"])
    static let now: Int64 = 1_700_000_000_000

    static func map(_ id: UInt32, entries: UInt64?, programs: [String] = [], pinned: [String] = []) -> MapStats {
        MapStats(
            id: id, name: "m\(id)", type: MapType(name: "hash")!, flags: 0, keySize: 4, valueSize: 8, maxEntries: 10,
            entries: entries, countMethod: entries == nil ? nil : .kfunc, memoryBytes: 100, pinned: pinned,
            programs: programs)
    }

    /// Every series of the cache as "name{labels} value@timestamp", in order.
    static func describe(_ cache: MapSeriesCache, maxSamples: Int = .max) throws -> [String] {
        try RemoteWriteEncoder().requests(cache, maxSamples: maxSamples, metadata: [], timestampMs: 0).flatMap { batch in
            try #require(DecodedWriteRequest(body: batch.body)).series.map(describe)
        }
    }

    /// The same, from the cache's 2.0 requests: each checked on its own (symbols start with "",
    /// every ref points into them, every series has metadata), then read through its 1.0 form.
    /// Twice in a row without a change, the second write replays the first one's layout.
    static func describeV2(_ cache: inout MapSeriesCache, maxSamples: Int = .max) throws -> [String] {
        let encoder = RemoteWriteEncoder()
        return try encoder.requestsV2(&cache, maxSamples: maxSamples, timestampMs: 0).flatMap { batch in
            #expect(batch.message == .v2)
            let request = try #require(DecodedWriteRequestV2(body: batch.body))
            #expect(request.symbols.first == "")
            #expect(Set(request.symbols).count == request.symbols.count)
            // Every symbol is used: a replayed run carries none of another cycle's.
            let used = request.series.reduce(into: Set<UInt32>([0])) { $0.formUnion($1.refs + [$1.helpRef, $1.unitRef]) }
            #expect(used.count == request.symbols.count)
            #expect(request.series.count == batch.sampleCount)
            for series in request.series {
                #expect(request.labels(of: series) != nil && series.hasMetadata && request.symbol(series.helpRef) != nil)
            }
            let v1 = try #require(encoder.v1Body(fromV2: batch.body))
            return try #require(DecodedWriteRequest(body: v1)).series.map(describe)
        }
    }

    static func describe(_ series: DecodedWriteRequest.Series) -> String {
        let labels = series.labels.filter { $0.name != "__name__" }.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
        let values = series.samples.map { sample in
            (sample.value.bitPattern == staleMarker.bitPattern ? "stale" : "\(sample.value)") + "@\(sample.timestampMs)"
        }
        return series["__name__"]! + "{" + labels + "} " + values.joined(separator: ",")
    }

    /// What the generic encoder makes of the metric set: the reference the cache must match.
    static func reference(_ maps: [MapStats], at timestampMs: Int64, external: LabelSet = external) throws -> [String] {
        let body = RemoteWriteEncoder().encode(MetricSet.samples(for: maps), timestampMs: timestampMs, externalLabels: external)
        return try #require(DecodedWriteRequest(body: body)).series.map(describe)
    }

    /// Updates the cache and describes its series; its 2.0 requests must hold the same.
    static func update(_ cache: inout MapSeriesCache, _ maps: [MapStats], at timestampMs: Int64) throws -> [String] {
        cache.update(maps, timestamp: RemoteWriteWire.Timestamp(milliseconds: timestampMs))
        let series = try describe(cache)
        #expect(try describeV2(&cache) == series)
        #expect(try describeV2(&cache) == series, "replayed")
        return series
    }

    @Test func matchesTheMetricSetCycleAfterCycle() throws {
        var cache = MapSeriesCache(externalLabels: Self.external)
        var maps = [Self.map(1, entries: 5, pinned: ["/sys/fs/bpf/a"]), Self.map(2, entries: 3, programs: ["xdp"])]
        #expect(try Self.update(&cache, maps, at: Self.now) == Self.reference(maps, at: Self.now))
        // The steady state: only the values are taken; the series are written from the kept label bytes.
        maps[0].entries = 9
        maps[1].memoryBytes = 4096
        #expect(try Self.update(&cache, maps, at: Self.now + 1000) == Self.reference(maps, at: Self.now + 1000))
        #expect(try Self.update(&cache, maps, at: Self.now + 2000).first == "ebpf_map_entries{instance=edge-7,job=ebpf,map_id=1,map_name=m1,map_type=hash} 9.0@1700000002000")
    }

    @Test func putsTheNameAmongExternalLabelsThatSortBeforeAndAfterIt() throws {
        let external = LabelSet(["Region": "eu", "_tier": "edge", "zone": "b"])
        var cache = MapSeriesCache(externalLabels: external)
        let maps = [Self.map(1, entries: 5, pinned: ["/sys/fs/bpf/a"])]
        let series = try Self.update(&cache, maps, at: Self.now)
        #expect(series == (try Self.reference(maps, at: Self.now, external: external)))
        #expect(series.first == "ebpf_map_entries{Region=eu,_tier=edge,map_id=1,map_name=m1,map_type=hash,zone=b} 5.0@\(Self.now)")
        let body = try #require(RemoteWriteEncoder().requests(cache, maxSamples: .max, metadata: [], timestampMs: 0).first).body
        let names = try #require(DecodedWriteRequest(body: body)).series.map { $0.labels.map(\.name) }
        #expect(names.first == ["Region", "__name__", "_tier", "map_id", "map_name", "map_type", "zone"])
        #expect(names.last == [
            "Region", "__name__", "_tier", "flags", "key_size", "map_id", "map_name", "map_type", "pinned_path", "value_size", "zone",
        ])
    }

    @Test func marksExactlyTheSeriesThatEnded() throws {
        var cache = MapSeriesCache(externalLabels: LabelSet())
        _ = try Self.update(&cache, [Self.map(1, entries: 5), Self.map(2, entries: 3)], at: Self.now)
        #expect(try Self.update(&cache, [Self.map(1, entries: 6), Self.map(2, entries: 3)], at: Self.now + 1).count == 10)

        // Map 1 unloaded; map 2 lost its count (so its entries and pressure end) and gained a program.
        let common1 = "map_id=1,map_name=m1,map_type=hash"
        let common2 = "map_id=2,map_name=m2,map_type=hash"
        let now = Self.now + 2
        let maps = [Self.map(2, entries: nil, programs: ["p"])]
        #expect(try Self.update(&cache, maps, at: now) == Self.reference(maps, at: now, external: LabelSet()) + [
            "ebpf_map_entries{\(common1)} stale@\(now)", "ebpf_map_max_entries{\(common1)} stale@\(now)",
            "ebpf_map_pressure{\(common1)} stale@\(now)", "ebpf_map_memory_bytes{\(common1)} stale@\(now)",
            "ebpf_map_info{flags=0x0,key_size=4,\(common1),value_size=8} stale@\(now)",
            "ebpf_map_entries{\(common2)} stale@\(now)", "ebpf_map_pressure{\(common2)} stale@\(now)",
            "ebpf_map_info{flags=0x0,key_size=4,\(common2),value_size=8} stale@\(now)",
        ])
        // Markers go out once.
        #expect(try Self.update(&cache, maps, at: now + 1) == Self.reference(maps, at: now + 1, external: LabelSet()))
    }

    @Test func cutsMapSeriesMarkersAndAdditionsIntoRequestsInOrder() throws {
        var cache = MapSeriesCache(externalLabels: Self.external)
        _ = try Self.update(&cache, [Self.map(1, entries: 5), Self.map(2, entries: 3), Self.map(3, entries: 1)], at: Self.now)
        cache.update([Self.map(1, entries: 6), Self.map(3, entries: nil)], timestamp: RemoteWriteWire.Timestamp(milliseconds: Self.now + 1))
        cache.append(Sample(.buildInfo, LabelSet(["version": "1"]), 1))
        let whole = try Self.describe(cache)
        // 5 + 3 series of the maps, 5 + 2 markers for map 2 and map 3's count, 1 addition.
        #expect(whole.count == 16)
        #expect(cache.count == 16)
        for size in [1, 3, 7, 15, 16] {
            let batches = RemoteWriteEncoder().requests(cache, maxSamples: size, metadata: [], timestampMs: 0)
            #expect(batches.map(\.sampleCount) == Array(repeating: size, count: 16 / size) + (16 % size == 0 ? [] : [16 % size]))
            #expect(try Self.describe(cache, maxSamples: size) == whole)
            #expect(try Self.describeV2(&cache, maxSamples: size) == whole)
        }
    }

    @Test func compressesRequestsOfManyBlocksWhileWritingThemToTheBytesOfTheWhole() throws {
        var cache = MapSeriesCache(externalLabels: Self.external)
        let maps = (1...2_000).map { Self.map(UInt32($0), entries: UInt64($0), pinned: ["/sys/fs/bpf/map_\($0)"]) }
        cache.update(maps, timestamp: RemoteWriteWire.Timestamp(milliseconds: Self.now))
        let encoder = RemoteWriteEncoder()
        let whole = encoder.encode(MetricSet.samples(for: maps), timestampMs: Self.now, externalLabels: Self.external)
        let written = encoder.requests(cache, maxSamples: .max, metadata: [], timestampMs: Self.now)
        // 10,000 series of over 100 bytes: the request passed through the sink in 64 KiB spills.
        #expect(written.map(\.sampleCount) == [10_000])
        #expect(written[0].body.count == whole.count)
        #expect(written[0].body.elementsEqual(whole))
        // Cut into requests of 3,333 series, each spilled mid-request, they hold the same series.
        let cut = encoder.requests(cache, maxSamples: 3_333, metadata: [], timestampMs: Self.now)
        #expect(cut.map(\.sampleCount) == [3_333, 3_333, 3_333, 1])
        #expect(try cut.flatMap { try #require(DecodedWriteRequest(body: $0.body)).series.map(Self.describe) } == Self.reference(maps, at: Self.now))
    }

    @Test func followsATimestampOfAnotherLength() throws {
        var cache = MapSeriesCache(externalLabels: Self.external)
        _ = try Self.update(&cache, [Self.map(1, entries: 5), Self.map(2, entries: 3)], at: 5)
        let series = try Self.update(&cache, [Self.map(1, entries: 6)], at: Self.now)
        #expect(series.count == 10)
        #expect(Array(series.prefix(5)) == (try Self.reference([Self.map(1, entries: 6)], at: Self.now)))
        #expect(series.dropFirst(5).allSatisfy { $0.contains("map_id=2") && $0.hasSuffix(" stale@\(Self.now)") })
    }

    @Test func additionsLastOneCycle() throws {
        var cache = MapSeriesCache(externalLabels: LabelSet())
        let timestamp = RemoteWriteWire.Timestamp(milliseconds: Self.now)
        cache.update([Self.map(1, entries: 5)], timestamp: timestamp)
        cache.append(Sample(.buildInfo, LabelSet(["version": "1"]), 1))
        #expect(try Self.describe(cache).last == "ebpf_map_shipper_build_info{version=1} 1.0@\(Self.now)")
        #expect(try Self.describeV2(&cache).last == "ebpf_map_shipper_build_info{version=1} 1.0@\(Self.now)")
        cache.update([Self.map(1, entries: 5)], timestamp: timestamp)
        #expect(try Self.describe(cache) == Self.reference([Self.map(1, entries: 5)], at: Self.now, external: LabelSet()))
    }

    /// 2.0 needs no string hashed for a map in the steady state, and numbers strings afresh once
    /// most of them belong to maps long gone: the requests stay the same either way.
    @Test func v2RequestsFollowChurnAndRenumbering() throws {
        var cache = MapSeriesCache(externalLabels: Self.external)
        var renumbered = false
        // 2,000 maps, a quarter replaced by new ids each cycle: about 1,500 strings die per cycle.
        for cycle in 0..<60 {
            let maps = (0..<2_000).map { index -> MapStats in
                let mapId = UInt32(index) + (index % 4 == 0 ? UInt32(cycle) * 10_000 : 0)
                return Self.map(mapId + 1, entries: UInt64(index), pinned: index % 4 == 0 ? ["/sys/fs/bpf/p\(mapId)"] : [])
            }.sorted { $0.id < $1.id }
            let before = cache.strings.count
            cache.update(maps, timestamp: RemoteWriteWire.Timestamp(milliseconds: Self.now + Int64(cycle)))
            // `update` checks the 2.0 requests against the 1.0 ones (describing is the slow part):
            // every 15th cycle, and the cycle that numbered the strings afresh.
            if cycle % 15 == 14 || cache.strings.count < before {
                renumbered = renumbered || cache.strings.count < before
                _ = try Self.update(&cache, maps, at: Self.now + Int64(cycle))
            }
        }
        // 60 cycles made about 95,000 strings; past 65,536 they were numbered afresh.
        #expect(renumbered)
        #expect(cache.strings.count < 65_536, "\(cache.strings.count) strings")
    }

    /// With no endpoint sent 2.0, no string is numbered: 1.0 alone pays nothing for 2.0.
    @Test func withoutSymbolsOnly1_0IsKept() throws {
        var cache = MapSeriesCache(externalLabels: Self.external, tracksSymbols: false)
        var maps = [Self.map(1, entries: 5, pinned: ["/sys/fs/bpf/a"]), Self.map(2, entries: 3)]
        for cycle in 0..<3 {
            maps[0].entries = UInt64(cycle)
            cache.update(maps, timestamp: RemoteWriteWire.Timestamp(milliseconds: Self.now + Int64(cycle)))
            cache.append(Sample(.buildInfo, LabelSet(["version": "1"]), 1))
            #expect(try Self.describe(cache) == Self.reference(maps, at: Self.now + Int64(cycle))
                + ["ebpf_map_shipper_build_info{instance=edge-7,job=ebpf,version=1} 1.0@\(Self.now + Int64(cycle))"])
        }
        #expect(cache.strings.count == 1)
    }

    @Test func v2GivesTheMapsCountersTheirStartTimestamp() throws {
        var cache = MapSeriesCache(externalLabels: LabelSet())
        var map = Self.map(1, entries: 5)
        map.insertFailures = 2
        map.evictions = 0
        cache.update([map], timestamp: RemoteWriteWire.Timestamp(milliseconds: Self.now), countersStartMs: 1_650_000_000_000)
        let batch = try #require(RemoteWriteEncoder().requestsV2(&cache, maxSamples: .max, timestampMs: Self.now).first)
        let request = try #require(DecodedWriteRequestV2(body: batch.body))
        let starts = Dictionary(uniqueKeysWithValues: request.series.map {
            (request.labels(of: $0)?.first { $0.name == "__name__" }?.value ?? "", $0.startTimestampMs)
        })
        #expect(starts == [
            "ebpf_map_entries": 0, "ebpf_map_max_entries": 0, "ebpf_map_pressure": 0, "ebpf_map_memory_bytes": 0,
            "ebpf_map_insert_failures_total": 1_650_000_000_000, "ebpf_map_evictions_total": 1_650_000_000_000, "ebpf_map_info": 0,
        ])
    }

    @Test func v2CarriesMetadataAndTheAdditionsStartTimestamps() throws {
        var cache = MapSeriesCache(externalLabels: LabelSet())
        cache.update([Self.map(1, entries: 5)], timestamp: RemoteWriteWire.Timestamp(milliseconds: Self.now))
        cache.append(Sample(.samplesSent, LabelSet(["endpoint": "a"]), 3), startMs: 1_600_000_000_000)
        cache.append(Sample(.buildInfo, LabelSet(["version": "1"]), 1), startMs: 1_600_000_000_000)
        let batches = RemoteWriteEncoder().requestsV2(&cache, maxSamples: .max, timestampMs: Self.now)
        let batch = try #require(batches.first)
        let request = try #require(DecodedWriteRequestV2(body: batch.body))
        #expect(request.series.map(\.type) == [2, 2, 2, 2, 2, 1, 2])
        #expect(request.series.map { request.symbol($0.unitRef) } == ["", "", "", "bytes", "", "", ""])
        #expect(request.series.map(\.startTimestampMs) == [0, 0, 0, 0, 0, 1_600_000_000_000, 0], "counters only")
        #expect(request.series.map { request.symbol($0.helpRef) } == [
            Metric.mapEntries.help, Metric.mapMaxEntries.help, Metric.mapPressure.help, Metric.mapMemoryBytes.help,
            Metric.mapInfo.help, Metric.samplesSent.help, Metric.buildInfo.help,
        ])
    }
}
