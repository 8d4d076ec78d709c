import Foundation
import Testing

/// deploy/grafana's dashboard, checked against real data: the real binary pushes into a real
/// Prometheus, and every panel's query, its template variables substituted as Grafana would with
/// "All" selected, returns series. The loss panels need a kernel that runs the loss-tracking
/// programs: LossTrackingTests asks the same queries of the 6.1 guest's VictoriaMetrics.
struct Dashboard {
    static let file = GuestKernel.repository.appendingPathComponent("deploy/grafana/ebpf-map-shipper.json")

    /// Every panel's title and query, variables substituted.
    static func queries() throws -> [(title: String, expr: String)] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let panels = try #require(json["panels"] as? [[String: Any]])
        return panels.flatMap { panel -> [(title: String, expr: String)] in
            let targets = (panel["targets"] as? [[String: Any]]) ?? []
            return targets.compactMap { target in
                guard let expr = target["expr"] as? String else { return nil }
                let substituted = expr.replacingOccurrences(of: "$instance", with: ".*")
                    .replacingOccurrences(of: "$__rate_interval", with: "1m")
                return ((panel["title"] as? String) ?? "", substituted)
            }
        }
    }

    /// Whether a query reads the loss counters.
    static func needsLossTracking(_ expr: String) -> Bool {
        expr.contains("ebpf_map_insert_failures_total") || expr.contains("ebpf_map_evictions_total")
    }
}

@Suite(.requiresBPF, .timeLimit(.minutes(3)))
struct DashboardTests {
    @Test func theDashboardHasWhatAnOperatorLooksFor() throws {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Dashboard.file)) as? [String: Any])
        let variables = ((json["templating"] as? [String: Any])?["list"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(variables == ["datasource", "instance"])
        let titles = try Dashboard.queries().map(\.title)
        for title in ["Fullest maps", "Pressure over time", "Writes refused by full maps", "LRU evictions per second",
                      "Memory by map", "Memory by program", "Samples sent per second", "Send failures per second",
                      "Disk buffer", "Collection duration", "Program CPU share", "Program runs per second",
                      "Average run time per program", "Programs beside their maps"] {
            #expect(titles.contains(title), "\(title)")
        }
    }

    @Test func everyPanelReturnsDataFromARealPrometheus() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let hash = try await holder.create("hash", name: prefix + "hash", maxEntries: 16, fill: 12)
        _ = try await holder.create("lru_hash", name: prefix + "lru", maxEntries: 16, fill: 4)
        try await holder.loadProgram(name: prefix + "prog", using: [hash])
        let prometheus = try await ReceiverProcess.prometheus()
        let daemon = try ShipperDaemon(config: """
            interval: 1s
            maps: {include: ['^\(prefix)']}
            programs: {stats: on}
            remote_write: [{name: central, url: '\(prometheus.remoteWriteURL)'}]
            """)
        // A second host samples the statistics instead: the program panels show it too.
        let sampling = try ShipperDaemon(config: """
            interval: 1s
            external_labels: {instance: sampling}
            maps: {include: ['^\(prefix)']}
            programs: {stats: sampled, sample_window: 300ms}
            remote_write: [{name: central, url: '\(prometheus.remoteWriteURL)'}]
            """)
        #expect(await eventually(within: 30) {
            ((try? await prometheus.samples("ebpf_map_entries{map_id=\"\(hash)\"}[1m]").first?.timestampsMs.count) ?? 0) >= 6
        }, "\(daemon.log)")
        #expect(await eventually(within: 30) {
            ((try? await prometheus.samples("ebpf_prog_sampled_run_time_ratio{instance=\"sampling\",prog_name=\"\(prefix)prog\"}[1m]").first?.timestampsMs.count) ?? 0) >= 3
        }, "\(sampling.log)")
        let queries = try Dashboard.queries()
        #expect(queries.count == 17)
        for (title, expr) in queries where !Dashboard.needsLossTracking(expr) {
            let result = try await prometheus.query(expr)
            #expect(!result.isEmpty, "\(title): \(expr)")
            if expr.contains("ebpf_prog_run_") {
                #expect(result.contains { $0.labels["instance"] == "sampling" }, "\(title): \(result)")
            }
        }
        // The program-memory panel joins the maps to the programs that use them.
        let byProgram = try await prometheus.query(try #require(queries.first { $0.title == "Memory by program" }).expr)
        #expect(byProgram.contains { $0.labels["programs"] == prefix + "prog" }, "\(byProgram)")
        // The program table's two queries meet on the program's name: its CPU share, its fullest map.
        let beside = queries.filter { $0.title == "Programs beside their maps" }
        try #require(beside.count == 2)
        for (_, expr) in beside {
            let rows = try await prometheus.query(expr)
            #expect(rows.contains { $0.labels["programs"] == prefix + "prog" }, "\(expr): \(rows)")
        }
        #expect(await daemon.terminate() == 0)
        #expect(await sampling.terminate() == 0)
        await prometheus.stop()
    }
}
