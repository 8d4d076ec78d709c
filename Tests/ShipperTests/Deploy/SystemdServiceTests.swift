import Foundation
import Testing

/// The package on a Debian 12 system booted with systemd as PID 1 (the Linux 6.1 guest of
/// `scripts/vm-run --systemd`), used as docs/operations.md says: installed with
/// dpkg, configured through shipper.yml and /etc/default, started with systemctl, reloaded, broken
/// and stopped. The unit's hardening runs for real here: the maps of Tests/Fixtures/guest_maps.c
/// reach the VictoriaMetrics of Debian's package, also a systemd service in the guest, with the
/// exact counts, and the pin behind systemd's mode-0700 /sys/fs/bpf is found.
@Suite(
    .requiresGuestKernel, .timeLimit(.minutes(20)),
    .enabled(if: ProcessInfo.processInfo.environment["SHIPPER_PACKAGE_TESTS"] == "1",
             "needs the release package (scripts/package): set SHIPPER_PACKAGE_TESTS=1, as .ci/run does"))
struct SystemdServiceTests {
    static let config = "/etc/ebpf-map-shipper/shipper.yml"

    /// Waits up to 300 s for `condition`, a shell test, flushing VictoriaMetrics' recent samples:
    /// a bound for a guest that hangs, not a time the guest should take (it may run on a loaded host).
    static func until(_ condition: String) -> String {
        """
        (n=0; until \(condition) || [ $n -ge 300 ]; do \
        curl -s http://127.0.0.1:8428/internal/force_flush >/dev/null; sleep 1; n=$((n+1)); done)
        """
    }

    /// VictoriaMetrics' raw samples of a series selector, one JSON object per series and line.
    static func export(_ selector: String) -> String {
        "curl -s http://127.0.0.1:8428/internal/force_flush >/dev/null; "
            + "curl -sG http://127.0.0.1:8428/api/v1/export --data-urlencode 'match[]=\(selector)'"
    }

    static let guest = Task { () throws -> GuestKernel.Run in
        let deb = try await PackageTests.package.value
        let file = URL(fileURLWithPath: deb).lastPathComponent
        let journal = "journalctl -u ebpf-map-shipper --no-pager"
        let commands: [(name: String, command: String)] = [
            ("install", "dpkg -i \(file)"),
            // The operator's edits: the receiver, a per-host label, and a shorter interval for the
            // test. Loss tracking is auto by default (this kernel allows its fexit programs).
            ("configure", """
                sed -i -e 's#http://127.0.0.1:9090/api/v1/write#http://127.0.0.1:8428/api/v1/write#' \
                -e 's/^  # site: /  site: /' -e 's/^interval: 15s/interval: 5s/' \(config) && \
                sed -i 's/^#SITE=fra1/SITE=fra1/' /etc/default/ebpf-map-shipper
                """),
            ("start", "systemctl enable --now ebpf-map-shipper"),
            ("pushed", until("\(export("ebpf_map_entries{map_name=\"g_big\"}")) | grep -q g_big")
                + "; " + export("{__name__=~\"ebpf_map_entries|ebpf_map_info\",map_name=~\"g_.*\"}")
                + "; " + export("ebpf_map_shipper_loss_tracking_active")),
            ("identity", """
                pid=$(systemctl show -p MainPID --value ebpf-map-shipper); stat -c %U /proc/$pid; \
                grep -E '^Cap(Eff|Bnd|Amb)' /proc/$pid/status; stat -c '%U %a' /var/lib/ebpf-map-shipper
                """),
            ("status", "systemctl status ebpf-map-shipper --no-pager"),
            // Leave out the nearly full map: a valid config, by SIGHUP.
            ("reload", """
                sed -i 's/^  exclude: \\[\\]/  exclude: [^g_big$]/' \(config) && systemctl reload ebpf-map-shipper && \
                \(until("\(journal) | grep -q 'msg=\"config reloaded\"'"))
                """),
            ("reloaded", until("\(export("ebpf_map_shipper_config_last_reload_successful")) | grep -q '[[,]1]'")
                + "; " + export("ebpf_map_shipper_config_last_reload_successful")),
            ("broken", """
                sed -i 's/^interval: 5s/interval: soon/' \(config) && systemctl reload ebpf-map-shipper && \
                \(until("\(journal) | grep -q 'config reload refused'"))
                """),
            ("refused", until("\(export("ebpf_map_shipper_config_last_reload_successful")) | grep -q '[[,]0]'")
                + "; " + export("ebpf_map_shipper_config_last_reload_successful")),
            ("active", "systemctl is-active ebpf-map-shipper"),
            ("stop", "systemctl stop ebpf-map-shipper; systemctl show -p ExecMainStatus -p ActiveState ebpf-map-shipper"),
            ("journal", journal),
        ]
        return try await GuestKernel.run(commands, binaries: [deb], systemd: ["victoria-metrics", "curl"])
    }

    /// The last value of each exported series, by its labels.
    static func lastValues(_ export: String) throws -> [[String: String]: Double] {
        var last: [[String: String]: Double] = [:]
        for line in export.split(separator: "\n") {
            let series = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let labels = try #require(series["metric"] as? [String: String])
            last[labels] = (series["values"] as? [Double])?.last
        }
        return last
    }

    @Test func installsAndStartsAsItsOwnUserWithTwoCapabilities() async throws {
        let run = try await Self.guest.value
        #expect(run["install"].status == 0, "\(run["install"].stderr)\n\(run.console)")
        #expect(run["configure"].status == 0, "\(run["configure"].stderr)")
        #expect(run["start"].status == 0, "\(run["start"].stderr)")
        // CAP_DAC_READ_SEARCH is bit 2, CAP_SYS_ADMIN bit 21: ambient, effective and bounding alike.
        #expect(run["identity"].stdout.split(separator: "\n").map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") } == [
            "ebpf-map-shipper",
            "CapEff: 0000000000200004",
            "CapBnd: 0000000000200004",
            "CapAmb: 0000000000200004",
            "ebpf-map-shipper 700",
        ], "\(run["identity"])")
        let status = run["status"].stdout
        #expect(status.contains("Loaded: loaded (/lib/systemd/system/ebpf-map-shipper.service; enabled;"), "\(status)")
        #expect(status.contains("Active: active (running)"), "\(status)")
    }

    /// Under the unit's sandbox, every map of the guest's holder arrives with its exact count and
    /// the per-host label from /etc/default, and loss tracking runs.
    @Test func pushesExactCountsWithThePerHostLabels() async throws {
        let run = try await Self.guest.value
        let holder = run.console.split(separator: "\n").filter { $0.hasPrefix("map g_") }
            .map { $0.split(separator: " ") }
        try #require(holder.count == 13, "\(run.console)")
        let last = try Self.lastValues(run["pushed"].stdout)
        for map in holder where map[4] != "-" {
            let entries = last.first { $0.key["__name__"] == "ebpf_map_entries" && $0.key["map_name"] == String(map[1]) }
            #expect(entries?.value == Double(map[4]), "\(map[1]): \(run["pushed"].stdout)")
            #expect(entries?.key["site"] == "fra1")
            #expect(entries?.key["instance"] == "edge-1")
            #expect(entries?.key["job"] == "ebpf-map-shipper")
        }
        // The fexit programs of loss tracking load and attach under the sandbox too.
        let lossTracking = last.first { $0.key["__name__"] == "ebpf_map_shipper_loss_tracking_active" }
        #expect(lossTracking?.value == 1, "\(run["pushed"].stdout)")
        // systemd mounts bpffs with mode 0700: the pin is found through CAP_DAC_READ_SEARCH.
        let pinned = last.keys.filter { $0["pinned_path"] == "/sys/fs/bpf/g_pinned" }
        #expect(pinned.map { $0["map_name"] } == ["g_hash"], "\(run["pushed"].stdout)")
    }

    /// `systemctl reload` re-reads the config; a broken one is refused in one line naming file,
    /// line and key, the gauge says so, and the service keeps running until a clean stop.
    @Test func reloadsRefusesABrokenConfigAndStopsCleanly() async throws {
        let run = try await Self.guest.value
        #expect(run["reload"].status == 0, "\(run["reload"].stderr)")
        #expect(try Self.lastValues(run["reloaded"].stdout).values.first == 1, "\(run["reloaded"].stdout)")
        #expect(try Self.lastValues(run["refused"].stdout).values.first == 0, "\(run["refused"].stdout)")
        #expect(run["active"].stdout == "active", "\(run["active"])")
        #expect(run["stop"].stdout.split(separator: "\n").sorted() == ["ActiveState=inactive", "ExecMainStatus=0"], "\(run["stop"])")

        let journal = run["journal"].stdout.split(separator: "\n")
        let refused = journal.filter { $0.contains("config reload refused") }
        #expect(refused.count == 1, "\(run["journal"].stdout)")
        #expect(refused.first?.contains("/etc/ebpf-map-shipper/shipper.yml:7: interval: ") == true, "\(refused)")
        #expect(journal.contains { $0.contains("count.method=htab") }, "hash tables are read in the kernel on 6.1")
        // Nothing else went wrong under the sandbox: the refused reload is the only error.
        #expect(journal.filter { $0.contains("level=error") || $0.contains("level=warning") } == refused, "\(run["journal"].stdout)")
        #expect(journal.contains { $0.contains("Deactivated successfully") }, "\(run["journal"].stdout)")
    }
}
