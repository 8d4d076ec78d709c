import Logging

/// Everything a configured shipper runs, built and checked before anything starts: the loaded
/// collector (privileges), and one sender per endpoint (URLs, TLS files).
public struct Pipeline {
    let cycle: CollectCycle
    let senders: [RemoteWriteSender]
    let metrics: SelfMetrics

    /// Throws `BPFError` (privileges, kernel) or a setup error naming the endpoint.
    public init(config: Config, logger: Logger) throws {
        let collector = try Collector(options: config.maps.collectorOptions, logger: logger)
        let metrics = SelfMetrics(endpoints: config.remoteWrite.map(\.name))
        var senders: [RemoteWriteSender] = []
        for endpoint in config.remoteWrite {
            do {
                senders.append(try RemoteWriteSender(endpoint: endpoint, interval: config.interval, metrics: metrics, logger: logger))
            } catch {
                throw PipelineError(message: "remote_write '\(endpoint.name)': \(error)")
            }
        }
        self.cycle = CollectCycle(config: config, collector: collector, senders: senders, metrics: metrics, logger: logger)
        self.senders = senders
        self.metrics = metrics
    }
}

/// A problem assembling the pipeline that is neither a config nor a BPF error.
public struct PipelineError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
