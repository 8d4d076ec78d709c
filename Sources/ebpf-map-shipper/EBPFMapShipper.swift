import ArgumentParser
import Foundation
import Logging
import Shipper

@main
struct EBPFMapShipper: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ebpf-map-shipper",
        abstract: "Count the elements of every eBPF map on this host and push them to Prometheus.",
        discussion: """
            An eBPF map has a fixed capacity; once full, inserts fail and the program that owns it \
            silently loses data. ebpf-map-shipper counts the elements of every map on the host, pinned \
            or not, whoever loaded it, with a BPF iterator and the bpf_map_sum_elem_count kfunc \
            (Linux >= 6.6), falling back to bpf(2) system calls on older kernels.

            Needs root, or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN.

            Start with:  ebpf-map-shipper list
            """,
        version: ShipperVersion.current,
        subcommands: [List.self]
    )
}

/// Options every subcommand shares.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical. Logs go to stderr.")
    var logLevel: Logger.Level = .info

    /// Sets up swift-log once and returns the process's logger.
    func makeLogger() -> Logger {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "ebpf-map-shipper")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Prints one line to stderr and exits non-zero: how fatal errors reach the operator.
func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("ebpf-map-shipper: error: \(message)\n".utf8))
    return ExitCode.failure
}
