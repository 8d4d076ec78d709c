import Logging

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
        try self.init(config: config, logger: logger, keeping: nil)
    }

    /// The pipeline for `config`, built around what `kept` carries over.
    init(config: Config, logger: Logger, keeping kept: Kept?) throws {
        let collector = try kept?.collector ?? Collector(options: config.maps.collectorOptions, logger: logger)
        let names = config.remoteWrite.map(\.name) + config.pushgateway.map(\.name)
        let metrics = kept?.metrics ?? SelfMetrics(endpoints: names)
        metrics.add(endpoints: names)
        var senders: [RemoteWriteSender] = []
        for endpoint in config.remoteWrite {
            if let same = kept?.senders.first(where: { $0.endpoint == endpoint }) {
                senders.append(same)
                continue
            }
            var endpointLogger = logger
            endpointLogger[metadataKey: "endpoint.name"] = "\(endpoint.name)"
            let queue = try Self.diskQueue(for: endpoint, config.buffer, report: DropReport(endpoint: endpoint.name, metrics: metrics, logger: endpointLogger))
            do {
                senders.append(
                    try RemoteWriteSender(endpoint: endpoint, interval: config.interval, metrics: metrics, logger: logger, queue: queue))
            } catch {
                throw PipelineError(message: "remote_write '\(endpoint.name)': \(error)")
            }
        }
        var gateways: [PushgatewaySender] = []
        for gateway in config.pushgateway {
            if let same = kept?.gateways.first(where: { $0.gateway == gateway }) {
                gateways.append(same)
                continue
            }
            do {
                gateways.append(try PushgatewaySender(gateway: gateway, interval: config.interval, metrics: metrics, logger: logger))
            } catch {
                throw PipelineError(message: "pushgateway '\(gateway.name)': \(error)")
            }
        }
        self.cycle = CollectCycle(
            config: config, collector: collector, senders: senders, gateways: gateways, metrics: metrics, logger: logger)
        self.senders = senders
        self.gateways = gateways
        self.metrics = metrics
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

    /// The endpoint's disk buffer; nil (memory only) when none is configured or the directory is
    /// unusable, which is logged. A directory another shipper holds is fatal.
    static func diskQueue(for endpoint: RemoteWriteConfig, _ buffer: BufferConfig, report: DropReport) throws -> DiskQueue? {
        guard let directory = buffer.directory(for: endpoint) else { return nil }
        let limits = DiskQueue.Limits(
            maxSize: endpoint.bufferMaxSize ?? buffer.maxSize, maxAge: endpoint.bufferMaxAge ?? buffer.maxAge,
            fsync: buffer.fsync, maxSamplesPerSend: endpoint.queue.maxSamplesPerSend)
        do {
            return try DiskQueue(directory: directory, limits: limits, report: report)
        } catch let error as BufferLock.Taken {
            throw PipelineError(message: "\(error)")
        } catch let error as BufferDirectory.Failure where error.unsafe {
            throw PipelineError(message: "\(error)")
        } catch {
            report.logger.error(
                "cannot use the buffer directory; sending without a disk buffer (samples wait in memory while the endpoint is down)",
                metadata: ["buffer.dir": "\(directory)", "error": "\(error)"])
            return nil
        }
    }
}

/// A problem assembling the pipeline that is neither a config nor a BPF error.
public struct PipelineError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
