import Logging
import Synchronization
import ServiceLifecycle

/// The `run` daemon under swift-service-lifecycle. `run()` starts a collect thread on the
/// wall-clock interval and a sending thread per endpoint; on graceful shutdown (SIGTERM, SIGINT)
/// it stops collecting, lets each in-flight send finish within the grace period, joins the
/// threads, and returns, so the process exits 0.
public final class ShipperService: Service {
    /// The pipeline until `run` takes it: built and checked before the service group starts.
    private let pipeline: Mutex<Pipeline?>
    private let grace: Duration
    private let logger: Logger

    /// How long in-flight sends get to finish after a shutdown signal.
    public static let defaultGrace: Duration = .seconds(10)

    public init(_ pipeline: consuming sending Pipeline, grace: Duration = defaultGrace, logger: Logger) {
        self.pipeline = Mutex(pipeline)
        self.grace = grace
        self.logger = logger
    }

    public func run() async throws {
        guard let pipeline = pipeline.withLock({ $0.take() }) else { return }
        let senders = pipeline.senders
        let gateways = pipeline.gateways
        let cycle = pipeline.cycle
        let stop = QueueMonitor()
        var threads = Pipeline.startSending(senders, gateways, drain: false)
        threads.append(WorkerThread.start(name: "collect") { cycle.loop(stop: stop) })
        logger.info("shipper running", metadata: ["endpoints.count": "\(senders.count + gateways.count)"])

        try? await gracefulShutdown()
        logger.info("shutting down; finishing in-flight sends", metadata: ["shutdown.grace": "\(Units.format(grace))"])
        stop.close()
        Pipeline.stopSending(senders, gateways)
        let finished = await WorkerThread.wait(for: threads, until: .now + grace)
        // Samples still pending stay in the disk buffers (replayed at the next start); memory-only queues lose them.
        let pending = senders.reduce(0) { $0 + $1.queue.pendingSamples }
        logger.info(
            finished ? "stopped" : "stopped with a send still in flight after the grace period",
            metadata: ["samples.pending": "\(pending)"])
    }
}
