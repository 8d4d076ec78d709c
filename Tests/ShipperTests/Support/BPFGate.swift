import Foundation
import Logging
@testable import ShipperCollect
import Testing

/// Privileged tests run only where the BPF iterator really loads, not merely where uid is 0.
/// With SHIPPER_REQUIRE_BPF=1 (as in CI) they always run, so a missing privilege fails them.
enum BPFGate {
    static let required = ProcessInfo.processInfo.environment["SHIPPER_REQUIRE_BPF"] == "1"

    /// Loads the iterator once per run, off the cooperative pool (loading forks and waits for a child).
    static let available = Task {
        mountBPFFSIfNeeded()
        return (try? await Collector.loaded(CollectorOptions(method: .iterator), logger: quietLogger)) != nil
    }

    static let quietLogger: Logger = {
        var logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        logger.logLevel = .critical
        return logger
    }()

    /// The pin tests need a bpffs; mount the usual one when nothing is mounted (as root only).
    /// mount(2) itself, not a mount process the test would have to wait for.
    static func mountBPFFSIfNeeded() {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        if mounts.split(separator: "\n").contains(where: { $0.split(separator: " ").dropFirst(2).first == "bpf" }) {
            return
        }
        _ = mount("bpf", "/sys/fs/bpf", "bpf", 0, nil)
    }
}

extension Trait where Self == ConditionTrait {
    /// Gates a test on loading the BPF iterator; see `BPFGate`.
    static var requiresBPF: Self {
        .enabled("needs privileges to load the BPF map iterator (SHIPPER_REQUIRE_BPF=1 makes this a failure)") {
            if BPFGate.required { return true }
            return await BPFGate.available.value
        }
    }
}

/// A map-name prefix unique to one test, so tests running in parallel see only their own maps.
/// Map names hold at most 15 characters.
func uniquePrefix() -> String {
    "t" + String((0..<5).map { _ in "abcdefghijklmnopqrstuvwxyz".randomElement()! }) + "_"
}

/// One collection of the maps whose names start with `prefix`, keyed by map name.
func collect(
    _ prefix: String, method: CollectionMethod = .auto, maxWalkKeys: UInt64 = CollectorOptions.defaultMaxWalkKeys,
    firstProgram: IteratorProgram = .kfunc
) async throws -> [String: MapStats] {
    var options = CollectorOptions(
        method: method, maxWalkKeys: maxWalkKeys, filter: MapFilter(include: ["^" + prefix]))
    options.firstProgram = firstProgram
    let maps = try await Collector.loaded(options, logger: BPFGate.quietLogger).collected()
    return Dictionary(uniqueKeysWithValues: maps.map { ($0.name, $0) })
}

extension Collector {
    /// A collector made off the cooperative pool: loading the iterator forks a child and waits for it.
    static func loaded(_ options: CollectorOptions, logger: Logger) async throws -> Collector {
        try await blocking { try Collector(options: options, logger: logger) }
    }

    /// One collection, off the cooperative pool: it reads the iterator and makes system calls.
    func collected() async throws -> [MapStats] {
        try await blocking { try self.collect() }
    }
}
