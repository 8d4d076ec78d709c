import Foundation
import Testing
@testable import ShipperCollect
@testable import ShipperMetrics
@testable import ShipperEncode
@testable import ShipperBuffer
@testable import ShipperConfig
@testable import ShipperSend
@testable import ShipperRun

/// `once` as cron jobs run it: its deadline is the whole command's. The endpoints' own timeouts are
/// an hour, so a deadline that did not bound the request in flight would hold the test until its
/// time limit; nothing here bounds the time from above, which a loaded machine's start-up sets.
@Suite(.requiresBPF, .timeLimit(.minutes(5)))
struct OnceTests {
    func config(url: String, buffer: String) -> String {
        """
        maps: {include: ['^never-matches$']}
        remote_write:
          - name: slow
            url: \(url)
            timeout: 1h
        buffer: {dir: \(buffer)}
        """
    }

    /// A receiver that accepts and never answers once held `once --timeout 2s` for the endpoint's
    /// whole timeout.
    @Test func theTimeoutBoundsTheRequestInFlightAndTheBatchWaitsOnDisk() async throws {
        let buffer = Scratch.path("once").path
        defer { try? FileManager.default.removeItem(atPath: buffer) }
        let hanging = try FakeReceiver(script: [], fallback: .hang)
        let started = ContinuousClock.now
        let first = try await ShipperBinary.once(config: config(url: hanging.url, buffer: buffer), ["--timeout", "2s"])
        let took = ContinuousClock.now - started
        hanging.stop()
        #expect(first.status == 1)
        #expect(took >= .seconds(2), "took \(took)")
        #expect(first.stderr.contains("msg=\"deadline passed before every endpoint accepted the samples\""), "\(first.stderr)")
        // One request, cut at the deadline, not at the endpoint's hour (none if a loaded machine's
        // start-up outlasted the deadline).
        #expect(hanging.requests.count <= 1)
        let cutAfter = first.stderr.matches(of: /timed out after (\d+) milliseconds/).compactMap { Int($0.1) }
        #expect(cutAfter.count <= hanging.requests.count && cutAfter.allSatisfy { $0 <= 2000 }, "\(first.stderr)")

        // Nothing was lost: the next run delivers the first run's batch before its own.
        let receiver = try FakeReceiver(script: [])
        let second = try await ShipperBinary.once(config: config(url: receiver.url, buffer: buffer), ["--timeout", "60s"])
        #expect(second.status == 0, "\(second.stderr)")
        let stamps = receiver.requests.flatMap { request in
            (request.decoded?.series ?? []).filter { $0["__name__"] == "ebpf_map_shipper_build_info" }.flatMap { $0.samples.map(\.timestampMs) }
        }
        #expect(stamps.count == 2 && stamps[0] < stamps[1], "\(stamps)")
    }

    @Test func theTimeoutBoundsAHangingPushgatewayToo() async throws {
        let hanging = try FakeReceiver(script: [], fallback: .hang)
        let started = ContinuousClock.now
        let result = try await ShipperBinary.once(
            config: "maps: {include: ['^never-matches$']}\npushgateway:\n  - url: http://127.0.0.1:\(hanging.port)\n    job: j\n    timeout: 1h\n",
            ["--timeout", "1s"])
        let took = ContinuousClock.now - started
        hanging.stop()
        #expect(result.status == 1)
        #expect(took >= .seconds(1), "took \(took)")
        #expect(result.stderr.contains("msg=\"pushgateway did not accept the push\""), "\(result.stderr)")
    }
}
