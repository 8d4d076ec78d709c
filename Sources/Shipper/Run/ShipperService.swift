import Logging
import ServiceLifecycle

/// The `run` daemon under swift-service-lifecycle: a collect thread on the wall-clock interval
/// and a sending thread per endpoint. On SIGTERM or SIGINT it stops collecting, lets each
/// in-flight send finish within the grace period, and returns, so the process exits 0.
public final class ShipperService: Service {
    private let stop: StopSignal
    private let senders: [RemoteWriteSender]
    private let gateways: [PushgatewaySender]
    private let threads: [WorkerThread]
    private let grace: Duration
    private let logger: Logger

    /// How long in-flight sends get to finish after a shutdown signal.
    public static let defaultGrace: Duration = .seconds(10)

    /// Starts the threads; the pipeline's parts belong to them from here on.
    public init(starting pipeline: consuming sending Pipeline, grace: Duration = defaultGrace, logger: Logger) {
        let senders = pipeline.senders
        let gateways = pipeline.gateways
        let cycle = pipeline.cycle
        let stop = StopSignal()
        var threads = Pipeline.startSending(senders, gateways, drain: false)
        threads.append(WorkerThread.start(name: "collect") { cycle.loop(stop: stop) })
        self.stop = stop
        self.senders = senders
        self.gateways = gateways
        self.threads = threads
        self.grace = grace
        self.logger = logger
    }

    public func run() async throws {
        logger.info("shipper running", metadata: ["endpoints.count": "\(senders.count + gateways.count)"])
        try? await gracefulShutdown()
        logger.info("shutting down; finishing in-flight sends", metadata: ["shutdown.grace": "\(Units.format(grace))"])
        stop.stop()
        Pipeline.stopSending(senders, gateways)
        let finished = await WorkerThread.wait(for: threads, until: .now + grace)
        // Samples still pending stay in the disk buffers (replayed at the next start); memory-only queues lose them.
        let pending = senders.reduce(0) { $0 + $1.queue.pendingSamples }
        logger.info(
            finished ? "stopped" : "stopped with a send still in flight after the grace period",
            metadata: ["samples.pending": "\(pending)"])
    }
}
