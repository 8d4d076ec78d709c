import Testing

@testable import ShipperMetrics
@testable import ShipperConfig
@testable import ShipperRun

/// What a Pushgateway receives: its grouping key overrides pushed labels of the same name, so a
/// clash would make it refuse the whole push ("was collected before with the same name and label values").
struct PushgatewayExpositionTests {
    @Test func aLabelTheGroupingKeyAlsoNamesIsExported() {
        let gateway = PushgatewayConfig.test(job: "nightly", grouping: LabelSet(["instance": "h", "stage": "load"]))
        let samples = ["enumerate", "count"].map { Sample(.collectErrors, LabelSet(["stage": $0]), 0) }
            + [Sample(.mapEntries, LabelSet(["map_id": "1", "job": "other"]), 3)]
        let text = CollectCycle.exposition(samples, for: gateway, externalLabels: LabelSet(["job": "j", "site": "edge-1"]))
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines == [
            "ebpf_map_shipper_collect_errors_total{exported_stage=\"enumerate\",site=\"edge-1\"} 0",
            "ebpf_map_shipper_collect_errors_total{exported_stage=\"count\",site=\"edge-1\"} 0",
            "ebpf_map_entries{exported_job=\"other\",map_id=\"1\",site=\"edge-1\"} 3",
        ])
    }
}
