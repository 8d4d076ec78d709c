import ArgumentParser
import Foundation
import Logging
import ShipperCollect
import ShipperMetrics
import ShipperConfig
import ShipperRun

@main
struct EBPFMapShipper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ebpf-map-shipper",
        abstract: "Count the elements of every eBPF map on this host and push them to Prometheus.",
        discussion: """
            An eBPF map has a fixed capacity; once full, inserts fail and the program that owns it \
            silently loses data. ebpf-map-shipper counts the elements of every map on the host, pinned \
            or not, whoever loaded it, with a BPF iterator: the bpf_map_sum_elem_count kfunc on \
            Linux >= 6.6, a read of each hash table inside the kernel on 5.17 to 6.5, batch lookups \
            before that, and bpf(2) system calls where the iterator cannot load.

            The counts are pushed as Prometheus remote-write (protobuf + snappy) to Prometheus, \
            Mimir, Thanos or VictoriaMetrics: nothing needs to reach the host, so it works behind NAT.

            Needs root, or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN.

            Start with:
              ebpf-map-shipper list                              what is on this host
              ebpf-map-shipper check-config shipper.yml          validate a config
              ebpf-map-shipper once --config shipper.yml         collect and push once
              ebpf-map-shipper run --config shipper.yml          the daemon
            """,
        version: ShipperVersion.current,
        subcommands: [Run.self, Once.self, CheckConfig.self, List.self, Serve.self]
    )

    static func main() async {
        // A reader that goes away (`run 2>&1 | head -1`, a log collector restarting) must not kill
        // the daemon: writes to a closed pipe fail with EPIPE instead of raising SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        await main(nil)
    }
}

/// `--config`, shared by the commands that push.
struct ConfigOptions: ParsableArguments {
    @Option(
        name: .customLong("config"),
        help: ArgumentHelp(
            "The YAML config file. Without it: every map, every 15s, to http://127.0.0.1:9090/api/v1/write.",
            valueName: "file"))
    var file: String?

    /// The config, or one clear line and exit 1.
    func load() throws -> Config {
        guard let file else { return Config.defaults() }
        do { return try Config.load(file: file) } catch { throw fail("\(error)") }
    }

    /// Reads the same file again (SIGHUP); nil without one.
    var reread: (@Sendable () throws -> Config)? {
        guard let file else { return nil }
        return { try Config.load(file: file) }
    }
}

/// Options every subcommand shares.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical. Logs go to stderr.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log lines as text (logfmt) or json.")
    var logFormat: LineLogHandler.Format = .text

    /// Sets up swift-log once and returns the process's logger.
    func makeLogger() -> Logger {
        let (level, format) = (logLevel, logFormat)
        LoggingSystem.bootstrap { _ in LineLogHandler(format: format, level: level) }
        return Logger(label: "ebpf-map-shipper")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LineLogHandler.Format: ExpressibleByArgument {}

/// Prints one line to stderr and exits non-zero: how fatal errors reach the operator.
func fail(_ message: String) -> ExitCode {
    LineLogHandler.writeToStandardError("ebpf-map-shipper: error: \(message)\n")
    return ExitCode.failure
}
