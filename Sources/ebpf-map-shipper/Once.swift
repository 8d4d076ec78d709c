import ArgumentParser
import ShipperConfig
import ShipperRun

extension EBPFMapShipper {
    struct Once: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Collect once, push to every endpoint, and exit 0 only if every endpoint accepted the data.",
            discussion: """
                For cron jobs, for batch jobs that push their maps before they exit, and for trying a \
                config. Retries follow the endpoint's queue settings until --timeout. Loss counters \
                are sent only with maps.loss_tracking: on (as 0: they count from this command's start); \
                auto, the default, loads no loss-tracking programs for a single collection.

                Example:
                  ebpf-map-shipper once --config shipper.yml && echo delivered
                """
        )

        @OptionGroup var config: ConfigOptions
        @OptionGroup var logging: LoggingOptions

        // Unconditional: "-5s" is a (refused) value, not a missing one.
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "The whole command's deadline, the request in flight included, e.g. 30s or 2m. Batches not delivered by then stay in the disk buffer for the next run.",
                valueName: "duration"))
        var timeout: String = "60s"

        func validate() throws {
            let bounds = Config.timeoutBounds
            guard let duration = Config.parseDuration(timeout), bounds.contains(duration) else {
                throw ValidationError(
                    "invalid --timeout '\(timeout)'; expected a duration from \(Config.format(bounds.lowerBound)) to \(Config.format(bounds.upperBound)), such as 30s or 2m")
            }
        }

        func run() async throws {
            let timeout = Config.parseDuration(self.timeout) ?? .seconds(60)
            let end = ContinuousClock.now + timeout
            var config = try config.load()
            // One collection cannot count a loss with `auto`, which arms only maps seen near full:
            // only an explicit `on` loads the loss-tracking programs here.
            if config.maps.lossTracking == .auto { config.maps.lossTracking = .off }
            let logger = logging.makeLogger()
            let pipeline: Pipeline
            do { pipeline = try Pipeline(config: config, logger: logger) } catch { throw fail("\(error)") }
            guard await ShipperRun.Once.run(pipeline, until: end, timeout: timeout, logger: logger) else {
                throw ExitCode.failure
            }
        }
    }
}
