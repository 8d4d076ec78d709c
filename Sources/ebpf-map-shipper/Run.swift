import ArgumentParser
import Logging
import ServiceLifecycle
import ShipperRun

extension EBPFMapShipper {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Collect every interval and push to every configured endpoint until SIGTERM or SIGINT.",
            discussion: """
                Collections happen at wall-clock multiples of `interval`. Each remote_write endpoint has \
                its own queue and thread: a slow or dead endpoint never holds back another. Failed sends \
                are retried with backoff (5xx, 429, network errors); requests a receiver refuses (other \
                4xx) are dropped, counted and logged once. On SIGTERM or SIGINT the in-flight send \
                finishes (up to 10s) and the process exits 0. On SIGHUP (systemctl reload) it re-reads \
                --config: a valid config takes effect from the next cycle, endpoints whose settings did \
                not change keep their queue and buffer; an invalid one is refused in one logged line and \
                the running config goes on.

                Example:
                  ebpf-map-shipper run --config /etc/ebpf-map-shipper/shipper.yml --log-format json
                """
        )

        @OptionGroup var config: ConfigOptions
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            ProcessMemory.returnLargeBlocks()
            let loaded = try config.load()
            let logger = logging.makeLogger()
            let service: ShipperService
            do {
                service = ShipperService(
                    try Pipeline(config: loaded, logger: logger), config: loaded, reread: config.reread, logger: logger)
            } catch {
                throw fail("\(error)")
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            try await group.run()
        }
    }
}
