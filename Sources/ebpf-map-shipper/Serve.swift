import ArgumentParser
import ServiceLifecycle
import ShipperCollect
import ShipperRun

extension EBPFMapShipper {
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Expose the metric set at GET /metrics for a scraper, instead of pushing.",
            discussion: """
                Every scrape collects every selected map, so the numbers are as fresh as the scrape. \
                Pushing (run) is the intended mode and needs no open port; serve exists for hosts \
                that a Prometheus can reach, and for comparing the two designs (bench/compare). It \
                listens only on the address given, on loopback by default. Exits 0 on SIGTERM or \
                SIGINT after the scrape in progress.

                Example:
                  ebpf-map-shipper serve --listen 127.0.0.1:9435 --type hash --type lru_hash
                """
        )

        @Option(help: ArgumentHelp("The IPv4 address and port to listen on.", valueName: "host:port"))
        var listen: String = "127.0.0.1:9435"

        @OptionGroup var selection: MapSelection
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            ProcessMemory.returnLargeBlocks()
            let logger = logging.makeLogger()
            let collector: Collector
            let server: MetricsServer
            do {
                collector = try Collector(options: selection.collectorOptions(lossTrackingDefault: .auto), logger: logger)
                server = try MetricsServer(listen: listen)
            } catch {
                throw fail("\(error)")
            }
            let service = ScrapeService(server: server, collector: collector, logger: logger)
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
