import Logging
import ShipperConfig

/// `once`: one collection, delivered to every endpoint with the usual retries, for cron jobs and
/// for trying a config. Succeeds only if every endpoint accepted everything before the deadline.
public enum Once {
    /// `end` is the whole command's deadline, taken when it started; `timeout` only names it in the log.
    public static func run(
        _ pipeline: consuming sending Pipeline, until end: ContinuousClock.Instant, timeout: Duration, logger: Logger
    ) async -> Bool {
        let senders = pipeline.senders
        let gateways = pipeline.gateways
        let metrics = pipeline.metrics
        let cycle = pipeline.cycle
        let collected = await WorkerThread.result(name: "collect") { cycle.run() }
        guard collected else { return false }
        // Every request is cut off at `end` too, so the command never outlives its deadline by more
        // than a thread's wake-up. Undelivered batches stay in the disk buffer for the next run.
        let threads = Pipeline.startSending(senders, gateways, drain: true, deadline: end)
        if !(await WorkerThread.wait(for: threads, until: end)) {
            logger.error("deadline passed before every endpoint accepted the samples", metadata: ["once.deadline": "\(Units.format(timeout))"])
            Pipeline.stopSending(senders, gateways)
            _ = await WorkerThread.wait(for: threads, until: .now + .seconds(1))
        }
        var success = true
        for sender in senders {
            let pending = sender.queue.pendingSamples
            let dropped = metrics.droppedTotal(endpoint: sender.endpoint.name)
            if pending > 0 || dropped > 0 {
                success = false
                logger.error(
                    "endpoint did not accept every sample",
                    metadata: ["endpoint.name": "\(sender.endpoint.name)", "samples.unsent": "\(pending)",
                               "samples.dropped": "\(dropped)"])
            }
        }
        for gateway in gateways where !gateway.deliveredLatest {
            success = false
            logger.error("pushgateway did not accept the push", metadata: ["endpoint.name": "\(gateway.gateway.name)"])
        }
        return success
    }
}
