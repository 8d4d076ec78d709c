import Foundation
import Synchronization
import ShipperCollect

/// The shipper's own counters, shared by the collect thread and the sending threads.
public final class SelfMetrics: Sendable {
    private struct State {
        var sent: [String: UInt64] = [:]
        var written: [String: UInt64] = [:]
        var versions: [String: Int] = [:]
        var dropped: [Key: UInt64] = [:]
        var failures: [Key: UInt64] = [:]
        var lastSuccess: [String: Double] = [:]
        var collectSeconds: Double?
        var collectErrors: [CollectStage: UInt64] = Dictionary(uniqueKeysWithValues: CollectStage.allCases.map { ($0, 0) })
        var lossTrackingActive: Bool?
        var lossTrackingTypes: [String: Bool] = [:]
        var lossTrackingArmed: [String: Bool] = [:]
        var lastReloadSuccessful: Bool?
        var lastReloadSuccessSeconds: Double?
        var buffers: [String: Buffer] = [:]
        var corrupt: [String: UInt64] = [:]
    }

    private struct Buffer {
        var bytes: Int64
        var samples: Int
        var oldestMs: Int64?
    }

    private struct Key: Hashable {
        var endpoint: String
        var reason: String
    }

    /// Reasons every endpoint reports from the start, so that `rate()` sees the first increase.
    static let dropReasons = ["http_4xx", "queue_full", "buffer_full", "too_old", "corrupt", "superseded"]
    /// Every reason `RetryPolicy` and `HTTPFailure` give, and no other.
    static let failureReasons = [
        "http_5xx", "http_429", "http_4xx", "http_3xx", "http_other", "proxy_auth", "connect", "timeout", "tls", "transfer", "setup",
        "credentials", "token",
    ]

    private let state: Mutex<State>
    /// When the counters started, in milliseconds since the epoch: their start timestamp in 2.0.
    package let startedMs = Date().milliseconds

    public init(endpoints: [String] = []) {
        state = Mutex(State())
        add(endpoints: endpoints)
    }

    /// Starts every counter of these endpoints at 0, leaving those already counted alone.
    package func add(endpoints: [String]) {
        state.withLock { state in
            for endpoint in endpoints where state.sent[endpoint] == nil {
                state.sent[endpoint] = 0
                for reason in Self.dropReasons { state.dropped[Key(endpoint: endpoint, reason: reason)] = 0 }
                for reason in Self.failureReasons { state.failures[Key(endpoint: endpoint, reason: reason)] = 0 }
            }
        }
    }

    /// The outcome of loading the config, at start and at each SIGHUP, with Prometheus's meaning.
    package func configLoaded(successfully: Bool, at unixSeconds: Double) {
        state.withLock {
            $0.lastReloadSuccessful = successfully
            if successfully { $0.lastReloadSuccessSeconds = unixSeconds }
        }
    }

    package func delivered(_ samples: Int, endpoint: String, at unixSeconds: Double) {
        state.withLock {
            $0.sent[endpoint, default: 0] += UInt64(samples)
            $0.lastSuccess[endpoint] = unixSeconds
        }
    }

    /// What a 2.0 receiver said it wrote.
    package func written(_ samples: Int64, endpoint: String) {
        state.withLock { $0.written[endpoint, default: 0] += UInt64(max(samples, 0)) }
    }

    /// The remote-write version an endpoint is sent now, 1 or 2. A 2.0 endpoint's written count
    /// starts at 0, so that `rate()` sees its first increase.
    package func sending(version: Int, endpoint: String) {
        state.withLock { state in
            state.versions[endpoint] = version
            if version == 2, state.written[endpoint] == nil { state.written[endpoint] = 0 }
        }
    }

    package func dropped(_ samples: Int, endpoint: String, reason: String) {
        state.withLock { $0.dropped[Key(endpoint: endpoint, reason: reason), default: 0] += UInt64(samples) }
    }

    package func failed(endpoint: String, reason: String) {
        state.withLock { $0.failures[Key(endpoint: endpoint, reason: reason), default: 0] += 1 }
    }

    public func collected(in duration: Duration) {
        state.withLock { $0.collectSeconds = duration.seconds }
    }

    /// The collector's failure counts so far (`Collector.errors`), whether it counts losses, for
    /// which map types (`Collector.lossTrackingTypes`), and whose hooks are attached now
    /// (`Collector.lossTrackingArmed`).
    public func collector(
        errors: [CollectStage: UInt64], lossTrackingActive: Bool, lossTrackingTypes: [String: Bool] = [:],
        lossTrackingArmed: [String: Bool] = [:]
    ) {
        state.withLock {
            $0.collectErrors.merge(errors) { $1 }
            $0.lossTrackingActive = lossTrackingActive
            $0.lossTrackingTypes = lossTrackingTypes
            $0.lossTrackingArmed = lossTrackingArmed
        }
    }

    /// What an endpoint's disk buffer holds now.
    package func buffer(endpoint: String, bytes: Int64, samples: Int, oldestMs: Int64?) {
        state.withLock { $0.buffers[endpoint] = Buffer(bytes: bytes, samples: samples, oldestMs: oldestMs) }
    }

    package func corruptRecord(endpoint: String) {
        state.withLock { $0.corrupt[endpoint, default: 0] += 1 }
    }

    /// Samples dropped so far for one endpoint, every reason together.
    package func droppedTotal(endpoint: String) -> UInt64 {
        state.withLock { $0.dropped.filter { $0.key.endpoint == endpoint }.values.reduce(0, +) }
    }

    /// Every self-metric as samples, in a stable order.
    public func samples() -> [Sample] {
        let state = state.withLock { $0 }
        var samples: [Sample] = []
        for (endpoint, count) in state.sent.sorted(by: { $0.key < $1.key }) {
            samples.append(Sample(.samplesSent, LabelSet(["endpoint": endpoint]), Double(count)))
        }
        for (endpoint, count) in state.written.sorted(by: { $0.key < $1.key }) {
            samples.append(Sample(.samplesWritten, LabelSet(["endpoint": endpoint]), Double(count)))
        }
        for (endpoint, version) in state.versions.sorted(by: { $0.key < $1.key }) {
            samples.append(Sample(.remoteWriteVersion, LabelSet(["endpoint": endpoint]), Double(version)))
        }
        for (key, count) in state.dropped.sorted(by: { ($0.key.endpoint, $0.key.reason) < ($1.key.endpoint, $1.key.reason) }) {
            samples.append(Sample(.samplesDropped, LabelSet(["endpoint": key.endpoint, "reason": key.reason]), Double(count)))
        }
        for (key, count) in state.failures.sorted(by: { ($0.key.endpoint, $0.key.reason) < ($1.key.endpoint, $1.key.reason) }) {
            samples.append(Sample(.sendFailures, LabelSet(["endpoint": key.endpoint, "reason": key.reason]), Double(count)))
        }
        for stage in CollectStage.allCases {
            samples.append(Sample(.collectErrors, LabelSet(["stage": stage.rawValue]), Double(state.collectErrors[stage] ?? 0)))
        }
        if let seconds = state.collectSeconds { samples.append(Sample(.collectDuration, LabelSet(), seconds)) }
        if let active = state.lossTrackingActive { samples.append(Sample(.lossTrackingActive, LabelSet(), active ? 1 : 0)) }
        for (type, active) in state.lossTrackingTypes.sorted(by: { $0.key < $1.key }) {
            samples.append(Sample(.lossTrackingTypeActive, LabelSet(["map_type": type]), active ? 1 : 0))
        }
        for (type, armed) in state.lossTrackingArmed.sorted(by: { $0.key < $1.key }) {
            samples.append(Sample(.lossTrackingArmed, LabelSet(["map_type": type]), armed ? 1 : 0))
        }
        if let successful = state.lastReloadSuccessful {
            samples.append(Sample(.configLastReloadSuccessful, LabelSet(), successful ? 1 : 0))
        }
        if let seconds = state.lastReloadSuccessSeconds {
            samples.append(Sample(.configLastReloadSuccessTimestamp, LabelSet(), seconds))
        }
        for (endpoint, time) in state.lastSuccess.sorted(by: { $0.key < $1.key }) {
            samples.append(Sample(.lastSendSuccess, LabelSet(["endpoint": endpoint]), time))
        }
        for (endpoint, buffer) in state.buffers.sorted(by: { $0.key < $1.key }) {
            let labels = LabelSet(["endpoint": endpoint])
            samples.append(Sample(.bufferBytes, labels, Double(buffer.bytes)))
            samples.append(Sample(.bufferSamples, labels, Double(buffer.samples)))
            if let oldest = buffer.oldestMs { samples.append(Sample(.bufferOldest, labels, Double(oldest) / 1000)) }
            samples.append(Sample(.bufferCorrupt, labels, Double(state.corrupt[endpoint] ?? 0)))
        }
        samples.append(Sample(.buildInfo, LabelSet(["version": ShipperVersion.current]), 1))
        return samples
    }
}
