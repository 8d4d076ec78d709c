import Foundation
import Testing

@testable import ShipperCollect
@testable import ShipperMetrics
@testable import ShipperBuffer
@testable import ShipperConfig
@testable import ShipperRun

/// The collect loop's schedule across a pause (a reload): no hole where a boundary was crossed,
/// and a word for what could not be caught up.
@Suite(.requiresBPF, .timeLimit(.minutes(2)))
struct CollectScheduleTests {
    /// A collect thread started three minute-boundaries after the last cycle runs the latest of
    /// them at once, late, with its own timestamp, and says it skipped the two before it. A
    /// minute's interval: no other boundary comes while the test runs, whatever the machine's load.
    @Test func aPauseRunsTheBoundaryItCrossedAndSaysWhatItSkipped() async throws {
        let log = CapturedLog()
        var config = Config.defaults(hostname: "h")
        config.interval = .seconds(60)
        config.maps.include = ["^never-matches$"]
        let collector = try await Collector.loaded(config.maps.collectorOptions, logger: log.logger)
        nonisolated(unsafe) let cycle = CollectCycle(
            config: config, collector: collector, senders: [], gateways: [], metrics: SelfMetrics(), logger: log.logger)
        let schedule = CycleSchedule()
        let minute: Int64 = 60_000
        let before = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) / minute * minute - 3 * minute
        schedule.last = before
        let stop = QueueMonitor()
        let thread = WorkerThread.start(name: "test-collect") { cycle.loop(stop: stop, schedule: schedule) }
        #expect(await eventually(within: 60) { schedule.last != before })
        stop.close()
        #expect(await WorkerThread.wait(for: [thread], until: .now + .seconds(60)))
        // The boundary due when the thread started: three minutes on, or four if a minute turned
        // before it started; the loop may run the next boundary too before it sees the stop.
        let skipped = log.entries.filter { $0.message == "collection fell behind its interval; skipped intervals" }
        #expect(skipped.count == 1)
        let count = try #require(skipped.first?.metadata["collect.skipped"].flatMap { Int64("\($0)") })
        #expect(count == 2 || count == 3, "\(count)")
        let ran = try #require(schedule.last)
        #expect(ran == before + (count + 1) * minute || ran == before + (count + 2) * minute, "\(ran - before)")
    }
}
