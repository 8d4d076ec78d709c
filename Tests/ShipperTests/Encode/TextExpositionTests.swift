@testable import ShipperCollect
@testable import ShipperBuffer
@testable import ShipperConfig
@testable import ShipperSend
@testable import ShipperRun
@testable import ebpf_map_shipper
@testable import ShipperMetrics
@testable import ShipperEncode
import Testing

struct TextExpositionTests {
    @Test func groupsByMetricWithHelpAndTypeOnce() {
        let a = LabelSet(["map_id": "1"])
        let b = LabelSet(["map_id": "2"])
        let text = TextExposition.render([
            Sample(.mapEntries, a, 3), Sample(.mapMaxEntries, a, 8), Sample(.mapEntries, b, 1.5),
        ])
        #expect(
            text == """
                # HELP ebpf_map_entries Elements in the eBPF map; only for map types that hold a meaningful count.
                # TYPE ebpf_map_entries gauge
                ebpf_map_entries{map_id="1"} 3
                ebpf_map_entries{map_id="2"} 1.5
                # HELP ebpf_map_max_entries Configured capacity (max_entries) of the eBPF map.
                # TYPE ebpf_map_max_entries gauge
                ebpf_map_max_entries{map_id="1"} 8

                """)
    }

    @Test func escapesLabelValues() {
        let text = TextExposition.render([Sample(.mapInfo, LabelSet(["map_name": "a\"b\\c\nd"]), 1)])
        #expect(text.hasSuffix("ebpf_map_info{map_name=\"a\\\"b\\\\c\\nd\"} 1\n"))
    }

    @Test(arguments: [(0.0, "0"), (1e6, "1000000"), (0.125, "0.125"), (.nan, "NaN"), (.infinity, "+Inf"),
                      (-.infinity, "-Inf"), (1e20, "1e+20")])
    func formatsValues(value: Double, text: String) {
        let rendered = TextExposition.render([Sample(.mapEntries, LabelSet(), value)])
        #expect(rendered.split(separator: "\n").last == "ebpf_map_entries \(text)")
    }
}

struct MapStatsJSONTests {
    @Test func nullsAndEscapes() {
        var map = MapStats(
            id: 3, name: "q\"\u{1}", type: MapType(name: "queue")!, flags: 0, keySize: 0, valueSize: 8,
            maxEntries: 4, entries: nil, countMethod: nil, memoryBytes: 100, pinned: ["/p"], programs: [])
        #expect(
            MapStats.json([map]) == """
                [
                  {"id": 3, "name": "q\\"\\u0001", "type": "queue", "key_size": 0, "value_size": 8, \
                "max_entries": 4, "flags": 0, "entries": null, "count_method": null, "memory_bytes": 100, \
                "insert_failures": null, "evictions": null, "pinned": ["/p"], "programs": [], "holders": null}
                ]
                """)
        // A process names itself: its comm is escaped like any string.
        map.holders = [Holder(pid: 7, comm: "x\"\u{2}")]
        #expect(MapStats.json([map]).contains(#""holders": [{"pid": 7, "comm": "x\"\u0002"}]}"#))
        // and in the table it cannot break the line.
        #expect(Holder.column([Holder(pid: 7, comm: "a\nb\u{7f}"), Holder(pid: 9, comm: "c")]) == "a?b?(7),c(9)")
        #expect(Holder.column(nil) == "-" && Holder.column([]) == "-")
        #expect(MapStats.json([]) == "[]")
    }
}
