import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals
import ShipperBuffer
import ShipperConfig
import ShipperSend

/// The `run` daemon under swift-service-lifecycle. `run()` starts a collect thread on the
/// wall-clock interval and a sending thread per endpoint; on SIGHUP it re-reads the config, as
/// Prometheus does (see `reload`); on graceful shutdown (SIGTERM, SIGINT) it stops collecting,
/// lets each in-flight send finish within the grace period, joins the threads, and returns, so the
/// process exits 0.
public final class ShipperService: Service {
    /// The pipeline and its config until `run` takes them: built and checked before the service
    /// group starts.
    private let start: Mutex<(pipeline: Pipeline, config: Config)?>
    /// Reads the config file again, for SIGHUP; nil when there is no file to re-read.
    private let reread: (@Sendable () throws -> Config)?
    private let grace: Duration
    private let logger: Logger

    /// How long in-flight sends get to finish after a shutdown signal.
    public static let defaultGrace: Duration = .seconds(10)

    public init(
        _ pipeline: consuming sending Pipeline, config: Config, reread: (@Sendable () throws -> Config)? = nil,
        grace: Duration = defaultGrace, logger: Logger
    ) {
        self.start = Mutex((pipeline, config))
        self.reread = reread
        self.grace = grace
        self.logger = logger
    }

    public func run() async throws {
        // Into `running` at once: a local holding the first pipeline would keep its endpoints (and
        // their buffer locks) alive after a reload retired them.
        guard var running = start.withLock({ $0.take() }).map({ Running(pipeline: $0.pipeline, config: $0.config) }) else { return }
        running.startAll()
        running.pipeline.metrics.configLoaded(successfully: true, at: Date().timeIntervalSince1970)
        logger.info("shipper running", metadata: ["endpoints.count": "\(running.endpointCount)"])

        // Trapped from here on: SIGHUP's default action would end the process.
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            await reload(&running)
        }

        logger.info("shutting down; finishing in-flight sends", metadata: ["shutdown.grace": "\(Units.format(grace))"])
        let finished = await running.stopAll(until: .now + grace)
        // Samples still pending stay in the disk buffers (replayed at the next start); memory-only queues lose them.
        let pending = running.pipeline.senders.reduce(0) { $0 + $1.queue.pendingSamples }
        logger.info(
            finished ? "stopped" : "stopped with a send still in flight after the grace period",
            metadata: ["samples.pending": "\(pending)"])
    }

    /// SIGHUP: a valid new config takes effect from the next cycle, endpoint by endpoint as
    /// `ReloadPlan` says, and loses nothing queued. An invalid one, or one that cannot be built
    /// (a buffer directory that fails its checks, a collector that cannot load), is refused in
    /// one logged line and the running config goes on untouched. Either way
    /// `ebpf_map_shipper_config_last_reload_successful` says how it went.
    private func reload(_ running: inout Running) async {
        let metrics = running.pipeline.metrics
        guard let reread else {
            logger.warning("SIGHUP ignored: the shipper was started without --config, so there is no file to re-read")
            return
        }
        let next: Config
        do {
            next = try reread()
        } catch {
            logger.error("config reload refused; the running config goes on", metadata: ["error": "\(error)"])
            metrics.configLoaded(successfully: false, at: Date().timeIntervalSince1970)
            return
        }
        guard next != running.config else {
            logger.info("config reloaded: unchanged")
            metrics.configLoaded(successfully: true, at: Date().timeIntervalSince1970)
            return
        }
        do {
            try await running.replace(with: next, logger: logger)
            logger.info("config reloaded", metadata: ["endpoints.count": "\(running.endpointCount)"])
            metrics.configLoaded(successfully: true, at: Date().timeIntervalSince1970)
        } catch {
            logger.error("config reload failed; the running config goes on unchanged", metadata: ["error": "\(error)"])
            metrics.configLoaded(successfully: false, at: Date().timeIntervalSince1970)
        }
    }
}

/// The running pipeline and its threads, owned by the service's task.
private struct Running {
    var pipeline: Pipeline
    var config: Config
    private var stop = QueueMonitor()
    private var collectThread: WorkerThread?
    /// Kept across reloads, so that a pause never leaves a hole (see `CollectCycle.loop`).
    private let schedule = CycleSchedule()
    /// The sending thread of each sender and gateway, by object identity.
    private var sendThreads: [ObjectIdentifier: WorkerThread] = [:]

    init(pipeline: Pipeline, config: Config) {
        self.pipeline = pipeline
        self.config = config
    }

    var endpointCount: Int { pipeline.senders.count + pipeline.gateways.count }

    mutating func startAll() {
        startSending(pipeline.senders, pipeline.gateways)
        startCollecting()
    }

    /// The collect thread owns the cycle (and its collector) until `stopCollecting` has joined it:
    /// only then does a reload read them again, so they are never used from two threads at once.
    private mutating func startCollecting() {
        stop = QueueMonitor()
        nonisolated(unsafe) let cycle = pipeline.cycle
        let (stop, schedule) = (stop, schedule)
        collectThread = WorkerThread.start(name: "collect") { cycle.loop(stop: stop, schedule: schedule) }
    }

    /// Starts a sending thread for each endpoint that has none yet (a reload keeps the others').
    private mutating func startSending(_ senders: [RemoteWriteSender], _ gateways: [PushgatewaySender]) {
        let newSenders = senders.filter { sendThreads[ObjectIdentifier($0)] == nil }
        let newGateways = gateways.filter { sendThreads[ObjectIdentifier($0)] == nil }
        // Pipeline.startSending returns the senders' threads, then the gateways', in order.
        let threads = Pipeline.startSending(newSenders, newGateways, drain: false)
        let owners = newSenders.map(ObjectIdentifier.init) + newGateways.map(ObjectIdentifier.init)
        for (owner, thread) in zip(owners, threads) { sendThreads[owner] = thread }
    }

    /// Stops the collect thread between two cycles and waits for it: a reload never overlaps one.
    private mutating func stopCollecting() async {
        stop.close()
        if let collectThread { _ = await WorkerThread.wait(for: [collectThread], until: .now + .seconds(3600)) }
        collectThread = nil
    }

    /// Moves to `next` as a transaction (see `ReloadPlan`): collection pauses between two cycles
    /// while the plan is built; if it cannot be, collection resumes with nothing changed and the
    /// error is thrown. Otherwise the plan is committed, the retired senders' and gateways'
    /// threads are left to finish their request in flight and end (their queues are closed; no
    /// collection waits for them), and the new pipeline starts.
    mutating func replace(with next: Config, logger: Logger) async throws {
        await stopCollecting()
        let plan: ReloadPlan
        do {
            plan = try ReloadPlan(from: pipeline, config, to: next, logger: logger)
        } catch {
            startCollecting()
            throw error
        }
        let changes = plan.changes
        await WorkerThread.result(name: "reload") { changes.commit(logger: logger) }
        for sender in changes.retired { sendThreads[ObjectIdentifier(sender)] = nil }
        for gateway in plan.removedGateways {
            gateway.close()
            sendThreads[ObjectIdentifier(gateway)] = nil
        }
        pipeline = plan.pipeline
        config = next
        startSending(pipeline.senders, pipeline.gateways)
        startCollecting()
    }

    /// Graceful shutdown: stops collecting and every endpoint; true if all finished by `deadline`.
    mutating func stopAll(until deadline: ContinuousClock.Instant) async -> Bool {
        stop.close()
        Pipeline.stopSending(pipeline.senders, pipeline.gateways)
        let threads = Array(sendThreads.values) + (collectThread.map { [$0] } ?? [])
        return await WorkerThread.wait(for: threads, until: deadline)
    }
}
