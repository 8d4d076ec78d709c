import ArgumentParser
import ShipperConfig

extension EBPFMapShipper {
    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Validate a config file and print what it configures, secrets left out.",
            discussion: """
                Exits 0 when the file is valid, 1 with one line naming the file, line and key otherwise. \
                Needs no privileges and sends nothing.

                Example:
                  ebpf-map-shipper check-config /etc/ebpf-map-shipper/shipper.yml
                """
        )

        @Argument(help: ArgumentHelp("The YAML config file.", valueName: "file"))
        var file: String

        func run() throws {
            let config: Config
            do { config = try Config.load(file: file) } catch { throw fail("\(error)") }
            print("\(file): valid")
            print(config.summary, terminator: "")
        }
    }
}
