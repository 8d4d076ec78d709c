import Foundation
import Testing

@testable import ShipperCollect
@testable import ShipperMetrics

/// deploy/prometheus's alert rules, checked and unit-tested by the real promtool.
struct AlertRulesTests {
    static let directory = GuestKernel.repository.appendingPathComponent("deploy/prometheus")
    static let rules = directory.appendingPathComponent("ebpf-map-shipper.rules.yml")
    static let tests = directory.appendingPathComponent("ebpf-map-shipper.rules.test.yml")
    static let promtool = URL(fileURLWithPath: "/usr/bin/promtool")

    @Test func promtoolChecksTheRules() async throws {
        let result = try await runToEnd(Self.promtool, ["check", "rules", Self.rules.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("SUCCESS: 9 rules found"), "\(result.stdout)")
    }

    @Test func everyAlertFiresAndStaysQuietInItsUnitTests() async throws {
        let result = try await runToEnd(Self.promtool, ["test", "rules", Self.tests.lastPathComponent], in: Self.directory)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("SUCCESS"), "\(result.stdout)")

        // Each alert is tested firing (exp_alerts with labels) and not firing (exp_alerts: []).
        let lines = try String(contentsOf: Self.tests, encoding: .utf8).split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        var firing: Set<String> = [], quiet: Set<String> = []
        for (index, line) in lines.enumerated() where line.hasPrefix("alertname: ") && index + 1 < lines.count {
            let name = String(line.dropFirst("alertname: ".count))
            if lines[index + 1] == "exp_alerts: []" { quiet.insert(name) } else { firing.insert(name) }
        }
        let alerts = Set(try Self.alertNames())
        #expect(alerts.count == 9)
        #expect(firing == alerts)
        #expect(quiet == alerts)
    }

    /// The rules use the names the shipper really sends.
    @Test func everyMetricTheRulesUseIsOneTheShipperSends() throws {
        let text = try String(contentsOf: Self.rules, encoding: .utf8)
        let used = Set(text.matches(of: /ebpf_(?:map|prog)_[a-z_]+/).map { String($0.output) })
        let sent = Set(Metric.allMetrics.map(\.name))
        #expect(!used.isEmpty)
        #expect(used.subtracting(sent).isEmpty, "\(used.subtracting(sent))")
    }

    static func alertNames() throws -> [String] {
        try String(contentsOf: rules, encoding: .utf8).split(separator: "\n").compactMap { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
        }
    }
}
