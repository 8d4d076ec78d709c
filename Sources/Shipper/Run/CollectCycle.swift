import Foundation
import Logging

/// One turn of the pipeline: collect every map, turn the counts into samples, add stale markers
/// for series that disappeared, encode, and queue a batch per endpoint. Runs on its own thread.
final class CollectCycle {
    private let config: Config
    private let collector: Collector
    private let senders: [RemoteWriteSender]
    private let gateways: [PushgatewaySender]
    private let metrics: SelfMetrics
    private let logger: Logger
    private let encoder = RemoteWriteEncoder()
    private var stale = StaleTracker()
    private var labels = MapLabelCache()
    private var lastMetadata: ContinuousClock.Instant?

    /// Type and help are sent with the first request, then at this interval, as Prometheus does.
    static let metadataInterval: Duration = .seconds(60)

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
    }

    /// Collects and queues one batch set. Returns false if the collection failed (logged).
    @discardableResult
    func run(at time: Date = Date()) -> Bool {
        let started = ContinuousClock.now
        let maps: [MapStats]
        do {
            maps = try collector.collect()
        } catch {
            // A failed cycle sends nothing, so no series is marked stale by accident.
            logger.error("collection failed; skipping this cycle", metadata: ["error": "\(error)"])
            return false
        }
        let elapsed = ContinuousClock.now - started
        metrics.collected(in: elapsed)
        logger.debug(
            "collected", metadata: ["maps.count": "\(maps.count)", "collect.ms": "\(elapsed.milliseconds)"])

        var samples = labels.samples(for: maps) + metrics.samples()
        for gateway in gateways {
            gateway.offer(Array(Self.exposition(samples, for: gateway.gateway, externalLabels: config.externalLabels).utf8), samples: samples.count)
        }
        samples += stale.markers(after: samples)
        let timestampMs = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        let metadata = metadataDue() ? Metric.allMetrics : []

        // Endpoints with the same batch size share the encoded bodies.
        var encoded: [Int: [EncodedBatch]] = [:]
        for sender in senders {
            let size = sender.endpoint.queue.maxSamplesPerSend
            if encoded[size] == nil {
                encoded[size] = stride(from: 0, to: samples.count, by: size).map { start in
                    let chunk = samples[start..<min(start + size, samples.count)]
                    return EncodedBatch(
                        body: encoder.encode(
                            chunk, timestampMs: timestampMs, externalLabels: config.externalLabels,
                            metadata: start == 0 ? metadata : []),
                        sampleCount: chunk.count, timestampMs: timestampMs)
                }
            }
            for batch in encoded[size] ?? [] { sender.enqueue(batch) }
        }
        return true
    }

    /// The text a Pushgateway gets: no timestamps, and the external labels other than `job` and
    /// the grouping key's, which the Pushgateway adds itself.
    static func exposition(_ samples: [Sample], for gateway: PushgatewayConfig, externalLabels: LabelSet) -> String {
        let extra = externalLabels.pairs.filter { $0.name != "job" && gateway.grouping[$0.name] == nil }
        guard !extra.isEmpty else { return TextExposition.render(samples) }
        return TextExposition.render(samples.map { sample in
            var labeled = sample
            for pair in extra where labeled.labels[pair.name] == nil { labeled.labels[pair.name] = pair.value }
            return labeled
        })
    }

    private func metadataDue() -> Bool {
        let now = ContinuousClock.now
        if let last = lastMetadata, now - last < Self.metadataInterval { return false }
        lastMetadata = now
        return true
    }

    /// The thread's body for `run`: a cycle at every wall-clock multiple of the interval.
    func loop(stop: StopSignal) {
        let interval = Double(config.interval.milliseconds) / 1000
        while !stop.isStopped {
            let now = Date().timeIntervalSince1970
            let next = (now / interval).rounded(.down) * interval + interval
            guard stop.sleep(until: Date(timeIntervalSince1970: next)) else { return }
            run(at: Date(timeIntervalSince1970: next))
        }
    }
}
