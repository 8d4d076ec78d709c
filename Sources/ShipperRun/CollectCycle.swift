import Foundation
import Logging
import Synchronization
import ShipperCollect
import ShipperMetrics
import ShipperEncode
import ShipperBuffer
import ShipperConfig
import ShipperSend

/// One turn of the pipeline: collect every map, write its series and the shipper's own (with
/// stale markers for series that disappeared) as one frame, and queue that frame for every
/// endpoint, whose sender encodes it. Runs on its own thread.
final class CollectCycle {
    private let config: Config
    let collector: Collector
    private let senders: [RemoteWriteSender]
    private let gateways: [PushgatewaySender]
    private let metrics: SelfMetrics
    private let logger: Logger
    private var frames: FrameWriter
    private var ownStale = StaleTracker()
    private var failureLog = LogLimit()
    private var skipLog = LogLimit()
    /// Each cycle's collection, kept for its storage.
    private var maps: [MapStats] = []

    init(
        config: Config, collector: Collector, senders: [RemoteWriteSender], gateways: [PushgatewaySender],
        metrics: SelfMetrics, logger: Logger
    ) {
        self.config = config
        self.collector = collector
        self.senders = senders
        self.gateways = gateways
        self.metrics = metrics
        self.logger = logger
        self.frames = FrameWriter(externalLabels: config.externalLabels)
    }

    /// Collects and queues one batch set. Returns false if the collection failed (logged).
    @discardableResult
    func run(at time: Date = Date()) -> Bool {
        let started = ContinuousClock.now
        do {
            defer { metrics.record(collector) }
            try collector.collect(into: &maps)
        } catch {
            // A failed cycle sends nothing, so no series is marked stale by accident. The collector
            // counted and logged the failure; this says what the cycle did about it.
            if failureLog.allows() {
                logger.error("collection failed; skipping this cycle", metadata: ["error": "\(error)"])
            }
            return false
        }
        let elapsed = ContinuousClock.now - started
        metrics.collected(in: elapsed)
        logger.debug(
            "collected", metadata: ["maps.count": "\(maps.count)", "collect.ms": "\(elapsed.milliseconds)"])

        let own = metrics.samples()
        let programs = MetricSet.samples(for: collector.programs)
        if !gateways.isEmpty {
            let samples = MetricSet.samples(for: maps) + programs + own
            for gateway in gateways {
                let text = Self.exposition(samples, for: gateway.gateway, externalLabels: config.externalLabels)
                gateway.offer(Array(text.utf8), samples: samples.count)
            }
        }
        guard !senders.isEmpty else { return true }

        frames.update(maps, countersStartMs: collector.lossCountersStartMs ?? 0)
        // Programs' counters count from when each was loaded, which the kernel does not say.
        for sample in programs { frames.append(sample) }
        // The shipper's counters count from its start: 2.0 sends that as their start timestamp.
        for sample in own { frames.append(sample, startMs: metrics.startedMs) }
        for sample in ownStale.markers(after: programs + own) { frames.append(sample) }
        let frame = frames.batch(timestampMs: time.milliseconds)
        for sender in senders { sender.enqueue(frame) }
        return true
    }

    /// The text a Pushgateway gets: no timestamps, and the external labels other than `job` and
    /// the grouping key's, which the Pushgateway adds itself. A series' own label that the grouping
    /// key also names (`stage`, `endpoint`, `map_name`...) would make the Pushgateway refuse the
    /// whole push as duplicates, since the grouping key overrides it: it is renamed
    /// `exported_<name>`, as Prometheus renames a scraped label that clashes with a target label.
    static func exposition(_ samples: [Sample], for gateway: PushgatewayConfig, externalLabels: LabelSet) -> String {
        let grouped = Set(gateway.grouping.map(\.name) + ["job"])
        let extra = externalLabels.pairs.filter { !grouped.contains($0.name) }
        return TextExposition.render(samples.map { sample in
            var labeled = sample
            for pair in sample.labels where grouped.contains(pair.name) {
                labeled.labels[pair.name] = nil
                labeled.labels["exported_" + pair.name] = pair.value
            }
            for pair in extra where labeled.labels[pair.name] == nil { labeled.labels[pair.name] = pair.value }
            return labeled
        })
    }

    /// The thread's body for `run`: a cycle at every wall-clock multiple of the interval, until
    /// `stop` is closed. `schedule` outlives the thread: when collection resumes after a pause (a
    /// reload) that crossed a boundary, that boundary's cycle runs at once, late, rather than
    /// leaving a hole; boundaries missed before it are said, at most once a minute.
    func loop(stop: QueueMonitor, schedule: CycleSchedule) {
        let interval = max(config.interval.milliseconds, 1)
        while !stop.isClosed {
            let due = Date().milliseconds / interval * interval
            var next = due + interval
            if let last = schedule.last, last < due {
                next = due
                if due - last > interval, skipLog.allows() {
                    logger.warning(
                        "collection fell behind its interval; skipped intervals",
                        metadata: ["collect.skipped": "\((due - last) / interval - 1)"])
                }
            }
            // programs.stats: sampled measures the window before the collection.
            if let window = collector.sampleWindow {
                guard stop.sleep(until: Date(timeIntervalSince1970: Double(next - window.milliseconds) / 1000)) else { return }
                collector.openSampleWindow()
            }
            guard stop.sleep(until: Date(timeIntervalSince1970: Double(next) / 1000)) else { return }
            run(at: Date(timeIntervalSince1970: Double(next) / 1000))
            schedule.last = next
        }
    }
}

/// When the last cycle of `run` was due, in wall-clock milliseconds, across the collect threads
/// that reloads start one after another.
final class CycleSchedule: Sendable {
    private let lastDue = Mutex<Int64?>(nil)

    var last: Int64? {
        get { lastDue.withLock { $0 } }
        set { lastDue.withLock { $0 = newValue } }
    }
}
