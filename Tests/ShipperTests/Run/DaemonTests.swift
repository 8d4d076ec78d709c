import Foundation
import Testing

@testable import Shipper

/// The `run` daemon as a process: signals and a world that goes away around it.
@Suite(.requiresBPF, .timeLimit(.minutes(1)))
struct DaemonTests {
    /// `run 2>&1 | head -1`: once the reader is gone every log line meets a closed pipe.
    @Test func aClosedLogPipeDoesNotKillTheDaemon() async throws {
        let receiver = try FakeReceiver(script: [])
        let daemon = try ShipperDaemon(
            config: "interval: 100ms\nmaps: {include: ['^never-matches$']}\nremote_write:\n  - url: \(receiver.url)\n",
            arguments: ["--log-level", "debug"])
        #expect(await eventually(within: 10) { daemon.log.contains("msg=collected") })
        daemon.closeLog()
        let before = receiver.requests.count
        await pause(2)
        #expect(daemon.isRunning)
        // Still pushing every 100ms, and logging every cycle into the closed pipe.
        #expect(receiver.requests.count >= before + 10, "\(receiver.requests.count - before) requests")
        #expect(await daemon.terminate() == 0)
    }
}
