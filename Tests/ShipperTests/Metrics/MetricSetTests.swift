@testable import ShipperCollect
@testable import ShipperMetrics
import Testing

struct MetricSetTests {
    static let hash = MapStats(
        id: 42, name: "conntrack", type: MapType(name: "hash")!, flags: 1, keySize: 16, valueSize: 32,
        maxEntries: 1000, entries: 250, countMethod: .kfunc, memoryBytes: 81920,
        pinned: ["/sys/fs/bpf/a", "/sys/fs/bpf/b"], programs: ["xdp_lb", "tc_egress"])
    static let array = MapStats(
        id: 7, name: "", type: MapType(name: "array")!, flags: 0, keySize: 4, valueSize: 8, maxEntries: 0,
        entries: nil, countMethod: nil, memoryBytes: nil, pinned: [], programs: [])

    @Test func countableMapGivesAllFiveSeries() {
        let labels = LabelSet(["map_id": "42", "map_name": "conntrack", "map_type": "hash"])
        var info = labels
        for (name, value) in [("key_size", "16"), ("value_size", "32"), ("flags", "0x1"),
                              ("pinned_path", "/sys/fs/bpf/a,/sys/fs/bpf/b"), ("programs", "xdp_lb,tc_egress")] {
            info[name] = value
        }
        #expect(
            MetricSet.samples(for: [Self.hash]) == [
                Sample(.mapEntries, labels, 250), Sample(.mapMaxEntries, labels, 1000),
                Sample(.mapPressure, labels, 0.25), Sample(.mapMemoryBytes, labels, 81920), Sample(.mapInfo, info, 1),
            ])
    }

    @Test func uncountableMapHasNoEntriesNorPressure() {
        let samples = MetricSet.samples(for: [Self.array])
        #expect(samples.map(\.metric.name) == ["ebpf_map_max_entries", "ebpf_map_info"])
        // An empty name is an absent label, as Prometheus reads it.
        #expect(samples[0].labels.map(\.name) == ["map_id", "map_type"])
    }

    /// Each map metric has its own value, by name: none falls through to a default.
    @Test func everyMapMetricHasItsOwnValue() {
        #expect(MapMetric.allCases.map(\.metric) == [
            .mapEntries, .mapMaxEntries, .mapPressure, .mapMemoryBytes, .mapInsertFailures, .mapEvictions, .mapInfo,
        ])
        var tracked = Self.hash
        (tracked.insertFailures, tracked.evictions) = (7, 3)
        #expect(MapMetric.allCases.map { $0.value(of: Self.hash) } == [250, 1000, 0.25, 81920, nil, nil, 1])
        #expect(MapMetric.allCases.map { $0.value(of: tracked) } == [250, 1000, 0.25, 81920, 7, 3, 1])
        #expect(MapMetric.allCases.map { $0.value(of: Self.array) } == [nil, 0, nil, nil, nil, nil, 1])
        #expect(Set(Metric.allMetrics.map(\.name)).count == Metric.allMetrics.count)
        #expect(Set(MapMetric.allCases.map(\.bit)).count == MapMetric.allCases.count)
    }

    @Test func pressureNeedsCapacity() {
        var map = Self.hash
        map.maxEntries = 0
        #expect(map.pressure == nil)
        map.maxEntries = 250
        #expect(map.pressure == 1)
    }
}

struct LabelSetTests {
    @Test func keepsLabelsSortedAndUnique() {
        var labels = LabelSet(["zone": "a", "job": "x", "instance": "h"])
        labels["job"] = "y"
        labels["alpha"] = "1"
        #expect(labels.map(\.name) == ["alpha", "instance", "job", "zone"])
        #expect(labels["job"] == "y")
    }

    @Test func emptyOrNilValueRemovesTheLabel() {
        var labels = LabelSet(["a": "1", "b": "2"])
        labels["a"] = ""
        labels["b"] = nil
        labels["c"] = ""
        #expect(labels.pairs.isEmpty)
    }
}
