import Logging
import ServiceLifecycle
import Synchronization
import ShipperCollect
import ShipperMetrics
import ShipperEncode

/// `serve` under swift-service-lifecycle: answers scrapes on a thread of its own, collecting on
/// each, until a graceful shutdown (SIGTERM, SIGINT) stops the listener; then it returns, so the
/// process exits 0 as `run` does.
public final class ScrapeService: Service {
    private let server: MetricsServer
    /// The collector until `run` hands it to the serving thread.
    private let collector: Mutex<Collector?>
    private let logger: Logger

    public init(server: MetricsServer, collector: consuming sending Collector, logger: Logger) {
        self.server = server
        self.collector = Mutex(collector)
        self.logger = logger
    }

    public func run() async throws {
        guard let collector = collector.withLock({ $0.take() }) else { return }
        let (server, logger) = (server, logger)
        let metrics = SelfMetrics()
        logger.info("serving the metric set", metadata: ["listen.address": "\(server.address)", "http.path": "/metrics"])
        let thread = WorkerThread.start(name: "serve") {
            server.serve {
                do {
                    let started = ContinuousClock.now
                    let maps = try collector.collect()
                    metrics.collected(in: started.duration(to: .now))
                    metrics.record(collector)
                    return TextExposition.render(
                        MetricSet.samples(for: maps) + MetricSet.samples(for: collector.programs) + metrics.samples())
                } catch {
                    logger.error("collection failed", metadata: ["error": "\(error)"])
                    return nil
                }
            }
        }
        try? await gracefulShutdown()
        server.stop()
        let finished = await WorkerThread.wait(for: [thread], until: .now + ShipperService.defaultGrace)
        logger.info(finished ? "stopped" : "stopped with a scrape still in progress")
    }
}
