import ArgumentParser
import Shipper

extension EBPFMapShipper {
    struct Once: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Collect once, push to every endpoint, and exit 0 only if every endpoint accepted the data.",
            discussion: """
                For cron jobs, for batch jobs that push their maps before they exit, and for trying a \
                config. Retries follow the endpoint's queue settings until --timeout.

                Example:
                  ebpf-map-shipper once --config shipper.yml && echo delivered
                """
        )

        @OptionGroup var config: ConfigOptions
        @OptionGroup var logging: LoggingOptions

        @Option(help: ArgumentHelp("Give up on retries after this long, e.g. 30s or 2m.", valueName: "duration"))
        var timeout: String = "60s"

        func validate() throws {
            guard Config.parseDuration(timeout) != nil else {
                throw ValidationError("invalid --timeout '\(timeout)'; expected a duration such as 30s or 2m")
            }
        }

        func run() async throws {
            let config = try config.load()
            let logger = logging.makeLogger()
            let pipeline: Pipeline
            do { pipeline = try Pipeline(config: config, logger: logger) } catch { throw fail("\(error)") }
            guard await Shipper.Once.run(pipeline, deadline: Config.parseDuration(timeout)!, logger: logger) else {
                throw ExitCode.failure
            }
        }
    }
}
