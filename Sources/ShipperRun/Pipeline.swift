import Logging
import ShipperCollect
import ShipperMetrics
import ShipperBuffer
import ShipperConfig
import ShipperSend

/// Everything a configured shipper runs, built and checked before anything starts: the loaded
/// collector (privileges), and one sender per endpoint (URLs, TLS files).
public struct Pipeline {
    let cycle: CollectCycle
    let senders: [RemoteWriteSender]
    let gateways: [PushgatewaySender]
    let metrics: SelfMetrics

    /// What a reload carries over from the running pipeline: the collector when `maps` did not
    /// change, each endpoint whose settings did not, with its queue (and disk buffer), and the
    /// self-metrics.
    struct Kept {
        var collector: Collector?
        var senders: [RemoteWriteSender]
        var gateways: [PushgatewaySender]
        var metrics: SelfMetrics
    }

    init(cycle: CollectCycle, senders: [RemoteWriteSender], gateways: [PushgatewaySender], metrics: SelfMetrics) {
        self.cycle = cycle
        self.senders = senders
        self.gateways = gateways
        self.metrics = metrics
    }

    /// Throws `BPFError` (privileges, kernel) or a setup error naming the endpoint.
    public init(config: Config, logger: Logger) throws {
        try self.init(
            config: config, logger: logger, collector: nil, metrics: nil,
            sender: { endpoint, metrics in
                let queue = try Self.queue(for: endpoint, config.buffer, metrics: metrics, logger: logger)
                return try Self.sender(endpoint, queue: queue, metrics: metrics, logger: logger)
            },
            gateway: { gateway, metrics in try Self.gateway(gateway, metrics: metrics, logger: logger) })
    }

    /// The pipeline for `config`: `collector` and `metrics` when a reload keeps them, and each
    /// endpoint's sender as `sender` and `gateway` make (or keep) it.
    init(
        config: Config, logger: Logger, collector: Collector?, metrics: SelfMetrics?,
        sender: (RemoteWriteConfig, SelfMetrics) throws -> RemoteWriteSender,
        gateway: (PushgatewayConfig, SelfMetrics) throws -> PushgatewaySender
    ) throws {
        let collector = try collector ?? Collector(options: config.collectorOptions, logger: logger)
        let names = config.remoteWrite.map(\.name) + config.pushgateway.map(\.name)
        let metrics = metrics ?? SelfMetrics(endpoints: names)
        metrics.add(endpoints: names)
        let senders = try config.remoteWrite.map { try sender($0, metrics) }
        let gateways = try config.pushgateway.map { try gateway($0, metrics) }
        self.cycle = CollectCycle(
            config: config, collector: collector, senders: senders, gateways: gateways, metrics: metrics, logger: logger)
        self.senders = senders
        self.gateways = gateways
        self.metrics = metrics
    }

    static func sender(
        _ endpoint: RemoteWriteConfig, queue: any BatchQueue, metrics: SelfMetrics, logger: Logger
    ) throws -> RemoteWriteSender {
        RemoteWriteSender(try settings(endpoint, metrics: metrics, logger: logger), metrics: metrics, queue: queue)
    }

    static func settings(
        _ endpoint: RemoteWriteConfig, metrics: SelfMetrics, logger: Logger
    ) throws -> RemoteWriteSender.Settings {
        do {
            return try RemoteWriteSender.Settings(endpoint: endpoint, metrics: metrics, logger: logger)
        } catch {
            throw PipelineError(message: "remote_write '\(endpoint.name)': \(error)")
        }
    }

    static func gateway(_ gateway: PushgatewayConfig, metrics: SelfMetrics, logger: Logger) throws -> PushgatewaySender {
        do {
            return try PushgatewaySender(gateway: gateway, metrics: metrics, logger: logger)
        } catch {
            throw PipelineError(message: "pushgateway '\(gateway.name)': \(error)")
        }
    }
}

extension Pipeline {
    /// One sending thread per endpoint. `drain` (once): each stops when its endpoint has everything;
    /// otherwise (run) they follow new batches until closed, and Pushgateway groups are deleted at the end if configured.
    /// `deadline` (once) ends every request and retry by then.
    static func startSending(
        _ senders: [RemoteWriteSender], _ gateways: [PushgatewaySender], drain: Bool, deadline: ContinuousClock.Instant? = nil
    ) -> [WorkerThread] {
        senders.map { sender in
            WorkerThread.start(name: "send-\(sender.endpoint.name)") { sender.run(untilEmpty: drain, deadline: deadline) }
        } + gateways.map { gateway in
            WorkerThread.start(name: "push-\(gateway.gateway.name)") {
                gateway.run(untilSettled: drain, deleteAtEnd: !drain, deadline: deadline)
            }
        }
    }

    /// Wakes every sending thread and lets it finish its in-flight request and exit.
    static func stopSending(_ senders: [RemoteWriteSender], _ gateways: [PushgatewaySender]) {
        for sender in senders { sender.queue.close() }
        for gateway in gateways { gateway.close() }
    }

    /// The endpoint's queue: its disk buffer, or memory only when none is configured or the
    /// directory is unusable, which is logged. A directory another shipper holds, or one that
    /// fails the safety checks, is fatal.
    static func queue(for endpoint: RemoteWriteConfig, _ buffer: BufferConfig, metrics: SelfMetrics, logger: Logger) throws -> any BatchQueue {
        var logger = logger
        logger[metadataKey: "endpoint.name"] = "\(endpoint.name)"
        let report = DropReport(endpoint: endpoint.name, metrics: metrics, logger: logger)
        let memory = { MemoryQueue(capacityBytes: RemoteWriteSender.queueCapacityBytes, report: report) }
        guard let directory = buffer.directory(for: endpoint) else { return memory() }
        do {
            return try DiskQueue(directory: directory, limits: DiskQueue.Limits(endpoint, buffer), report: report)
        } catch let error as BufferLock.Taken {
            throw PipelineError(message: "\(error)")
        } catch let error as BufferDirectory.Failure where error.unsafe {
            throw PipelineError(message: "\(error)")
        } catch {
            logger.error(
                "cannot use the buffer directory; sending without a disk buffer (samples wait in memory while the endpoint is down)",
                metadata: ["buffer.dir": "\(directory)", "error": "\(error)"])
            return memory()
        }
    }
}

extension DiskQueue.Limits {
    /// The bounds of an endpoint's buffer: its own where set, else the buffer section's.
    init(_ endpoint: RemoteWriteConfig, _ buffer: BufferConfig) {
        self.init(
            maxSize: endpoint.bufferMaxSize ?? buffer.maxSize, maxAge: endpoint.bufferMaxAge ?? buffer.maxAge,
            fsync: buffer.fsync)
    }
}

/// A problem assembling the pipeline that is neither a config nor a BPF error.
public struct PipelineError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
