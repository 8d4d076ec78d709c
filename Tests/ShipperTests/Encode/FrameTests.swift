import Testing

@testable import ShipperCollect
@testable import ShipperConfig
@testable import ShipperSend
@testable import ShipperRun
@testable import ShipperMetrics
@testable import ShipperEncode
@testable import ShipperBuffer

/// Frames as the cycle writes them (`FrameWriter`) and as each sender encodes them
/// (`RemoteWriteV1Encoder`, `RemoteWriteV2Encoder`), held to the plain encoder of the metric set,
/// every request read back by the protoc-c decoder.
struct FrameTests {
    static let external = LabelSet(["instance": "edge-7", "job": "ebpf"])
    static let now: Int64 = 1_700_000_000_000

    static func map(
        _ id: UInt32, entries: UInt64?, programs: [String] = [], pinned: [String] = [], holders: [Holder]? = nil
    ) -> MapStats {
        var map = MapStats(
            id: id, name: "m\(id)", type: MapType(name: "hash")!, flags: 0, keySize: 4, valueSize: 8, maxEntries: 10,
            entries: entries, countMethod: entries == nil ? nil : .kfunc, memoryBytes: 100, pinned: pinned,
            programs: programs)
        map.holders = holders
        return map
    }

    static func frame(_ batch: Batch) throws -> Frame {
        #expect(batch.format == .frame)
        let frame = try #require(Frame(batch.body))
        #expect(frame.seriesCount == batch.sampleCount && frame.timestampMs == batch.timestampMs)
        return frame
    }

    /// Every series of the frames as "name{labels} value@timestamp", in order, through 1.0 requests.
    static func describe(_ frames: [Frame], maxSamples: Int = .max, encoder: RemoteWriteV1Encoder = .init()) throws -> [String] {
        let requests = try #require(encoder.requests(frames, maxSamples: maxSamples))
        #expect(requests.map(\.samples).reduce(0, +) == frames.map(\.seriesCount).reduce(0, +))
        return try requests.flatMap { request in
            let decoded = try #require(DecodedWriteRequest(body: request.body))
            #expect(decoded.series.count == request.samples)
            return decoded.series.map(describe)
        }
    }

    /// The same through 2.0 requests: each checked on its own (symbols start with "", each once,
    /// all used, every series with metadata), then read through its 1.0 form.
    static func describeV2(_ frames: [Frame], maxSamples: Int = .max, encoder: RemoteWriteV2Encoder = .init()) throws -> [String] {
        try #require(encoder.requests(frames, maxSamples: maxSamples)).flatMap { request in
            let decoded = try #require(DecodedWriteRequestV2(body: request.body))
            #expect(decoded.symbols.first == "")
            #expect(Set(decoded.symbols).count == decoded.symbols.count)
            let used = decoded.series.reduce(into: Set<UInt32>([0])) { $0.formUnion($1.refs + [$1.helpRef, $1.unitRef]) }
            #expect(used.count == decoded.symbols.count)
            #expect(decoded.series.count == request.samples)
            for series in decoded.series {
                #expect(decoded.labels(of: series) != nil && series.hasMetadata && decoded.symbol(series.helpRef) != nil)
            }
            let v1 = try #require(RemoteWriteEncoder().v1Body(fromV2: request.body))
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

    /// What the plain encoder makes of the metric set: the reference the frames must match.
    static func reference(_ maps: [MapStats], at timestampMs: Int64, external: LabelSet = external) throws -> [String] {
        let body = RemoteWriteEncoder().encode(MetricSet.samples(for: maps), timestampMs: timestampMs, externalLabels: external)
        return try #require(DecodedWriteRequest(body: body)).series.map(describe)
    }

    /// A frame writer and one sender of each message, kept from cycle to cycle as the shipper keeps them.
    struct Shipper {
        var writer: FrameWriter
        let v1 = RemoteWriteV1Encoder()
        let v2 = RemoteWriteV2Encoder()

        init(external: LabelSet = FrameTests.external) { writer = FrameWriter(externalLabels: external) }

        /// One cycle's frame; its series through both encoders, which must agree, twice (the
        /// second time from their caches).
        mutating func cycle(_ maps: [MapStats], at timestampMs: Int64, additions: [Sample] = []) throws -> [String] {
            writer.update(maps)
            for sample in additions { writer.append(sample) }
            let frame = try FrameTests.frame(writer.batch(timestampMs: timestampMs))
            let series = try FrameTests.describe([frame], encoder: v1)
            #expect(try FrameTests.describe([frame], encoder: v1) == series, "cached")
            #expect(try FrameTests.describeV2([frame], encoder: v2) == series)
            #expect(try FrameTests.describeV2([frame], encoder: v2) == series, "cached")
            return series
        }
    }

    @Test func matchesTheMetricSetCycleAfterCycle() throws {
        var shipper = Shipper()
        var maps = [Self.map(1, entries: 5, pinned: ["/sys/fs/bpf/a"]), Self.map(2, entries: 3, programs: ["xdp"])]
        #expect(try shipper.cycle(maps, at: Self.now) == Self.reference(maps, at: Self.now))
        // The steady state: only the values are taken; the table is the last one.
        maps[0].entries = 9
        maps[1].memoryBytes = 4096
        #expect(try shipper.cycle(maps, at: Self.now + 1000) == Self.reference(maps, at: Self.now + 1000))
        #expect(try shipper.cycle(maps, at: Self.now + 2000).first == "ebpf_map_entries{instance=edge-7,job=ebpf,map_id=1,map_name=m1,map_type=hash} 9.0@1700000002000")
    }

    /// The table is written once while the series stay the same: later frames carry its bytes
    /// and id, so a sender reads only their values.
    @Test func theSteadyStateKeepsTheTableAndItsId() throws {
        var writer = FrameWriter(externalLabels: Self.external)
        var maps = [Self.map(1, entries: 5), Self.map(2, entries: 3)]
        writer.update(maps)
        let first = try Self.frame(writer.batch(timestampMs: Self.now))
        maps[0].entries = 6
        writer.update(maps)
        let second = try Self.frame(writer.batch(timestampMs: Self.now + 1))
        #expect(second.tableId == first.tableId)
        #expect(second.withValues { $0[0] } == 6)
        writer.update(maps + [Self.map(3, entries: 1)])
        #expect(try Self.frame(writer.batch(timestampMs: Self.now + 2)).tableId != first.tableId)
    }

    @Test func putsTheNameAmongExternalLabelsThatSortBeforeAndAfterIt() throws {
        let external = LabelSet(["Region": "eu", "_tier": "edge", "zone": "b"])
        var shipper = Shipper(external: external)
        let maps = [Self.map(1, entries: 5, pinned: ["/sys/fs/bpf/a"])]
        let series = try shipper.cycle(maps, at: Self.now)
        #expect(series == (try Self.reference(maps, at: Self.now, external: external)))
        #expect(series.first == "ebpf_map_entries{Region=eu,_tier=edge,map_id=1,map_name=m1,map_type=hash,zone=b} 5.0@\(Self.now)")
        shipper.writer.update(maps)
        let frame = try Self.frame(shipper.writer.batch(timestampMs: Self.now))
        let body = try #require(RemoteWriteV1Encoder().requests([frame], maxSamples: .max)?.first).body
        let names = try #require(DecodedWriteRequest(body: body)).series.map { $0.labels.map(\.name) }
        #expect(names.first == ["Region", "__name__", "_tier", "map_id", "map_name", "map_type", "zone"])
        #expect(names.last == [
            "Region", "__name__", "_tier", "flags", "key_size", "map_id", "map_name", "map_type", "pinned_path", "value_size", "zone",
        ])
    }

    @Test func marksExactlyTheSeriesThatEnded() throws {
        var shipper = Shipper(external: LabelSet())
        _ = try shipper.cycle([Self.map(1, entries: 5), Self.map(2, entries: 3)], at: Self.now)
        #expect(try shipper.cycle([Self.map(1, entries: 6), Self.map(2, entries: 3)], at: Self.now + 1).count == 10)

        // Map 1 unloaded; map 2 lost its count (so its entries and pressure end) and gained a program.
        let common1 = "map_id=1,map_name=m1,map_type=hash"
        let common2 = "map_id=2,map_name=m2,map_type=hash"
        let now = Self.now + 2
        let maps = [Self.map(2, entries: nil, programs: ["p"])]
        #expect(try shipper.cycle(maps, at: now) == Self.reference(maps, at: now, external: LabelSet()) + [
            "ebpf_map_entries{\(common1)} stale@\(now)", "ebpf_map_max_entries{\(common1)} stale@\(now)",
            "ebpf_map_pressure{\(common1)} stale@\(now)", "ebpf_map_memory_bytes{\(common1)} stale@\(now)",
            "ebpf_map_info{flags=0x0,key_size=4,\(common1),value_size=8} stale@\(now)",
            "ebpf_map_entries{\(common2)} stale@\(now)", "ebpf_map_pressure{\(common2)} stale@\(now)",
            "ebpf_map_info{flags=0x0,key_size=4,\(common2),value_size=8} stale@\(now)",
        ])
        // Markers go out once.
        #expect(try shipper.cycle(maps, at: now + 1) == Self.reference(maps, at: now + 1, external: LabelSet()))
    }

    /// A map's holder series follow the processes holding it: a process that lets go of the map
    /// gets a stale marker, one that still holds it keeps its series, and an unloaded map's
    /// holders end with it.
    @Test func holderSeriesEndExactlyWhenAProcessLetsGo() throws {
        var shipper = Shipper(external: LabelSet())
        let (a, b, c) = (Holder(pid: 10, comm: "agent"), Holder(pid: 20, comm: "cilium-agent"), Holder(pid: 30, comm: "xdp"))
        var maps = [Self.map(1, entries: 5, holders: [a, b]), Self.map(2, entries: 3)]
        #expect(try shipper.cycle(maps, at: Self.now) == Self.reference(maps, at: Self.now, external: LabelSet()))
        #expect(try Self.reference(maps, at: Self.now, external: LabelSet()).contains(
            "ebpf_map_holder_info{comm=cilium-agent,map_id=1,pid=20} 1.0@\(Self.now)"))
        shipper.writer.update(maps)
        let steady = try Self.frame(shipper.writer.batch(timestampMs: Self.now + 1))
        shipper.writer.update(maps)
        #expect(try Self.frame(shipper.writer.batch(timestampMs: Self.now + 2)).tableId == steady.tableId)

        maps[0].holders = [b]
        maps[1].holders = [c]
        var now = Self.now + 3
        #expect(try shipper.cycle(maps, at: now) == Self.reference(maps, at: now, external: LabelSet()) + [
            "ebpf_map_holder_info{comm=agent,map_id=1,pid=10} stale@\(now)",
        ])
        now += 1
        #expect(try shipper.cycle([maps[1]], at: now) == Self.reference([maps[1]], at: now, external: LabelSet()) + [
            "ebpf_map_entries{map_id=1,map_name=m1,map_type=hash} stale@\(now)",
            "ebpf_map_max_entries{map_id=1,map_name=m1,map_type=hash} stale@\(now)",
            "ebpf_map_pressure{map_id=1,map_name=m1,map_type=hash} stale@\(now)",
            "ebpf_map_memory_bytes{map_id=1,map_name=m1,map_type=hash} stale@\(now)",
            "ebpf_map_info{flags=0x0,key_size=4,map_id=1,map_name=m1,map_type=hash,value_size=8} stale@\(now)",
            "ebpf_map_holder_info{comm=cilium-agent,map_id=1,pid=20} stale@\(now)",
        ])
        // Unknown holders (the iterator did not load) are no series, and end those there were.
        now += 1
        maps[1].holders = nil
        #expect(try shipper.cycle([maps[1]], at: now) == Self.reference([maps[1]], at: now, external: LabelSet()) + [
            "ebpf_map_holder_info{comm=xdp,map_id=2,pid=30} stale@\(now)",
        ])
        #expect(try shipper.cycle([maps[1]], at: now + 1) == Self.reference([maps[1]], at: now + 1, external: LabelSet()))
    }

    /// Requests of any size hold the same series in order; frames of several cycles share
    /// requests, each series with its own frame's timestamp.
    @Test func cutsFramesIntoRequestsInOrder() throws {
        var writer = FrameWriter(externalLabels: Self.external)
        writer.update([Self.map(1, entries: 5), Self.map(2, entries: 3), Self.map(3, entries: 1)])
        let first = try Self.frame(writer.batch(timestampMs: Self.now))
        writer.update([Self.map(1, entries: 6), Self.map(3, entries: nil)])
        writer.append(Sample(.buildInfo, LabelSet(["version": "1"]), 1))
        // 5 + 3 series of the maps, 5 + 2 markers for map 2 and map 3's count, 1 addition.
        #expect(writer.count == 16)
        let second = try Self.frame(writer.batch(timestampMs: Self.now + 1))
        let frames = [first, second]
        let whole = try Self.describe(frames)
        #expect(whole.count == 31)
        #expect(whole.filter { $0.hasSuffix("@\(Self.now)") }.count == 15)
        for size in [1, 3, 7, 15, 16, 31] {
            let requests = try #require(RemoteWriteV1Encoder().requests(frames, maxSamples: size))
            #expect(requests.map(\.samples) == Array(repeating: size, count: 31 / size) + (31 % size == 0 ? [] : [31 % size]))
            #expect(try Self.describe(frames, maxSamples: size) == whole)
            #expect(try Self.describeV2(frames, maxSamples: size) == whole)
        }
    }

    @Test func compressesRequestsOfManyBlocksToTheBytesOfTheWhole() throws {
        var writer = FrameWriter(externalLabels: Self.external)
        let maps = (1...2_000).map { Self.map(UInt32($0), entries: UInt64($0), pinned: ["/sys/fs/bpf/map_\($0)"]) }
        writer.update(maps)
        let frame = try Self.frame(writer.batch(timestampMs: Self.now))
        let encoder = RemoteWriteV1Encoder()
        _ = encoder.requests([frame], maxSamples: .max)  // sends the metadata, due first
        let whole = RemoteWriteEncoder().encode(MetricSet.samples(for: maps), timestampMs: Self.now, externalLabels: Self.external)
        let written = try #require(encoder.requests([frame], maxSamples: .max))
        // 10,000 series of over 100 bytes: the request passed through the sink in 64 KiB spills.
        #expect(written.map(\.samples) == [10_000])
        #expect(written[0].body.elementsEqual(whole))
        let cut = try #require(encoder.requests([frame], maxSamples: 3_333))
        #expect(cut.map(\.samples) == [3_333, 3_333, 3_333, 1])
        #expect(try cut.flatMap { try #require(DecodedWriteRequest(body: $0.body)).series.map(Self.describe) } == Self.reference(maps, at: Self.now))
    }

    /// Type and HELP go with the first 1.0 request, then once a minute.
    @Test func v1SendsMetadataWithTheFirstRequestOnly() throws {
        var writer = FrameWriter(externalLabels: LabelSet())
        writer.update([Self.map(1, entries: 5)])
        writer.append(Sample(.samplesSent, LabelSet(["endpoint": "a"]), 3))
        let frame = try Self.frame(writer.batch(timestampMs: Self.now))
        let encoder = RemoteWriteV1Encoder()
        let requests = try #require(encoder.requests([frame, frame], maxSamples: 4))
        let metadata = try requests.map { try #require(DecodedWriteRequest(body: $0.body)).metadata }
        #expect(metadata.map(\.count) == [6, 0, 0])
        #expect(metadata[0].map(\.family) == [
            "ebpf_map_entries", "ebpf_map_max_entries", "ebpf_map_pressure", "ebpf_map_memory_bytes", "ebpf_map_info",
            "ebpf_map_shipper_samples_sent_total",
        ])
        #expect(metadata[0].last?.type == 1)
        #expect(try #require(encoder.requests([frame], maxSamples: 100)).allSatisfy { DecodedWriteRequest(body: $0.body)?.metadata.isEmpty == true })
    }

    @Test func additionsLastOneCycle() throws {
        var shipper = Shipper(external: LabelSet())
        let series = try shipper.cycle([Self.map(1, entries: 5)], at: Self.now, additions: [Sample(.buildInfo, LabelSet(["version": "1"]), 1)])
        #expect(series.last == "ebpf_map_shipper_build_info{version=1} 1.0@\(Self.now)")
        #expect(try shipper.cycle([Self.map(1, entries: 5)], at: Self.now) == Self.reference([Self.map(1, entries: 5)], at: Self.now, external: LabelSet()))
    }

    /// A map needs no string hashed in the steady state, and strings are numbered afresh once
    /// most of them belong to maps long gone: the requests stay the same either way.
    @Test func followsChurnAndRenumbering() throws {
        var shipper = Shipper()
        var renumbered = false
        // 2,000 maps, a quarter replaced by new ids each cycle: about 1,500 strings die per cycle.
        for cycle in 0..<60 {
            let maps = (0..<2_000).map { index -> MapStats in
                let mapId = UInt32(index) + (index % 4 == 0 ? UInt32(cycle) * 10_000 : 0)
                // Every third map's holder changes every fifth cycle.
                let holders = index % 3 == 0 ? [Holder(pid: UInt32(cycle / 5), comm: "p\(index % 7)")] : nil
                return Self.map(
                    mapId + 1, entries: UInt64(index), pinned: index % 4 == 0 ? ["/sys/fs/bpf/p\(mapId)"] : [], holders: holders)
            }.sorted { $0.id < $1.id }
            let before = shipper.writer.strings.count
            shipper.writer.update(maps)
            _ = shipper.writer.batch(timestampMs: Self.now + Int64(cycle))
            // Described (the slow part) every 15th cycle, and in the cycle that numbered the strings afresh.
            if cycle % 15 == 14 || shipper.writer.strings.count < before {
                renumbered = renumbered || shipper.writer.strings.count < before
                let series = try shipper.cycle(maps, at: Self.now + Int64(cycle))
                let reference = try Self.reference(maps, at: Self.now + Int64(cycle))
                #expect(Array(series.prefix(reference.count)) == reference)
            }
        }
        // 60 cycles made about 95,000 strings; past 65,536 they were numbered afresh.
        #expect(renumbered)
        #expect(shipper.writer.strings.count < 65_536, "\(shipper.writer.strings.count) strings")
    }

    @Test func v2GivesCountersTheirStartTimestampInTheSample() throws {
        var writer = FrameWriter(externalLabels: LabelSet())
        var map = Self.map(1, entries: 5)
        map.insertFailures = 2
        map.evictions = 0
        writer.update([map], countersStartMs: 1_650_000_000_000)
        writer.append(Sample(.samplesSent, LabelSet(["endpoint": "a"]), 3), startMs: 1_600_000_000_000)
        writer.append(Sample(.buildInfo, LabelSet(["version": "1"]), 1), startMs: 1_600_000_000_000)
        let frame = try Self.frame(writer.batch(timestampMs: Self.now))
        let body = try #require(RemoteWriteV2Encoder().requests([frame], maxSamples: .max)?.first).body
        let request = try #require(DecodedWriteRequestV2(body: body))
        let starts = request.series.map { (request.labels(of: $0)?.first { $0.name == "__name__" }?.value ?? "", $0.startTimestampMs) }
        #expect(starts.map(\.0) == [
            "ebpf_map_entries", "ebpf_map_max_entries", "ebpf_map_pressure", "ebpf_map_memory_bytes",
            "ebpf_map_insert_failures_total", "ebpf_map_evictions_total", "ebpf_map_info",
            "ebpf_map_shipper_samples_sent_total", "ebpf_map_shipper_build_info",
        ])
        #expect(starts.map(\.1) == [0, 0, 0, 0, 1_650_000_000_000, 1_650_000_000_000, 0, 1_600_000_000_000, 0], "counters only")
        #expect(request.series.map(\.type) == [2, 2, 2, 2, 1, 1, 2, 1, 2])
        #expect(request.series.map { request.symbol($0.unitRef) } == ["", "", "", "bytes", "", "", "", "", ""])
    }

    /// Frames are read back from disk: anything a checksum missed fails the read, never the process.
    @Test func aDamagedFrameIsRefusedNotFatal() throws {
        var writer = FrameWriter(externalLabels: Self.external)
        writer.update([Self.map(1, entries: 5, pinned: ["/sys/fs/bpf/a"])])
        let body = writer.frame(timestampMs: Self.now).body
        #expect(Frame(body) != nil)
        #expect(Frame(Array(body.dropLast())) == nil)
        #expect(Frame([]) == nil)
        // Every single byte of the table flipped: the frame reads, or the table does not; no trap.
        for offset in Frame.headerSize..<body.count - 5 * 8 {
            var damaged = body
            damaged[offset] ^= 0xFF
            if let frame = Frame(damaged), frame.decodeTable() != nil {
                _ = RemoteWriteV1Encoder().requests([frame], maxSamples: .max)
                _ = RemoteWriteV2Encoder().requests([frame], maxSamples: .max)
            }
        }
    }
}
