import Testing

@testable import Shipper

struct StaleTrackerTests {
    static func map(_ id: UInt32, entries: UInt64?, programs: [String] = []) -> MapStats {
        MapStats(
            id: id, name: "m\(id)", type: MapType(name: "hash")!, flags: 0, keySize: 4, valueSize: 8, maxEntries: 10,
            entries: entries, countMethod: entries == nil ? nil : .kfunc, memoryBytes: 100, pinned: [], programs: programs)
    }

    /// The stale markers as "metric{labels}" strings, sorted.
    static func describe(_ markers: [Sample]) -> [String] {
        markers.map { sample in
            #expect(sample.value.bitPattern == staleMarker.bitPattern)
            return sample.metric.name + "{" + sample.labels.map { "\($0.name)=\($0.value)" }.joined(separator: ",") + "}"
        }.sorted()
    }

    @Test func marksExactlyTheSeriesThatDisappeared() {
        var tracker = StaleTracker()
        let own = Sample(.lastSendSuccess, LabelSet(["endpoint": "a"]), 1)
        #expect(tracker.markers(after: MetricSet.samples(for: [Self.map(1, entries: 5), Self.map(2, entries: 3)]) + [own]).isEmpty)
        // Unchanged: nothing.
        #expect(tracker.markers(after: MetricSet.samples(for: [Self.map(1, entries: 6), Self.map(2, entries: 3)]) + [own]).isEmpty)

        // Map 1 gone; map 2 lost its count (so its entries and pressure end); its programs changed; the endpoint series ended.
        let markers = tracker.markers(after: MetricSet.samples(for: [Self.map(2, entries: nil, programs: ["p"])]))
        let common1 = "map_id=1,map_name=m1,map_type=hash"
        let common2 = "map_id=2,map_name=m2,map_type=hash"
        #expect(Self.describe(markers) == [
            "ebpf_map_entries{\(common1)}", "ebpf_map_entries{\(common2)}",
            "ebpf_map_info{flags=0x0,key_size=4,\(common1),value_size=8}",
            "ebpf_map_info{flags=0x0,key_size=4,\(common2),value_size=8}",
            "ebpf_map_max_entries{\(common1)}", "ebpf_map_memory_bytes{\(common1)}",
            "ebpf_map_pressure{\(common1)}", "ebpf_map_pressure{\(common2)}",
            "ebpf_map_shipper_last_send_success_timestamp_seconds{endpoint=a}",
        ])
        #expect(tracker.markers(after: MetricSet.samples(for: [Self.map(2, entries: nil, programs: ["p"])])).isEmpty)
    }
}
