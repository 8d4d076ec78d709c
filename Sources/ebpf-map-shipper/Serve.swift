import ArgumentParser
import Shipper

extension EBPFMapShipper {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Expose the metric set at GET /metrics for a scraper, instead of pushing.",
            discussion: """
                Every scrape collects every selected map, so the numbers are as fresh as the scrape. \
                Pushing (run) is the intended mode and needs no open port; serve exists for hosts \
                that a Prometheus can reach, and for comparing the two designs (bench/compare). It \
                listens only on the address given, on loopback by default.

                Example:
                  ebpf-map-shipper serve --listen 127.0.0.1:9435 --type hash --type lru_hash
                """
        )

        @Option(help: ArgumentHelp("The IPv4 address and port to listen on.", valueName: "host:port"))
        var listen: String = "127.0.0.1:9435"

        @OptionGroup var selection: MapSelection
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            ProcessMemory.returnLargeBlocks()
            let logger = logging.makeLogger()
            let collector: Collector
            let server: MetricsServer
            do {
                collector = try Collector(options: selection.collectorOptions, logger: logger)
                server = try MetricsServer(listen: listen)
            } catch {
                throw fail("\(error)")
            }
            let metrics = SelfMetrics()
            logger.info("serving the metric set", metadata: ["listen.address": "\(listen)", "http.path": "/metrics"])
            server.serve {
                do {
                    let started = ContinuousClock.now
                    let maps = try collector.collect()
                    metrics.collected(in: started.duration(to: .now))
                    metrics.collectErrors(collector.errors)
                    return TextExposition.render(MetricSet.samples(for: maps) + metrics.samples())
                } catch {
                    logger.error("collection failed", metadata: ["error": "\(error)"])
                    return nil
                }
            }
        }
    }
}
