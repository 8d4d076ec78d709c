// Times the collector on the maps that bench/collect created. Usage:
//   collect-bench BIG_MAP_NAME EMPTY_MAP_NAME
// Prints tab-separated "measurement<TAB>method<TAB>median_ms<TAB>min_ms<TAB>maps" lines.
//   collect-bench --loss
// times a steady-state collection of every map with loss tracking off, auto and on (bench/loss).
import Foundation
import Logging
import ShipperCollect

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.dropFirst() == ["--loss"] else {
    FileHandle.standardError.write(Data("usage: collect-bench BIG_MAP_NAME EMPTY_MAP_NAME\n".utf8))
    exit(2)
}
let (big, empty) = arguments.count == 3 ? (arguments[1], arguments[2]) : ("", "")
let logger: Logger = {
    var logger = Logger(label: "collect-bench")
    logger.logLevel = .error
    return logger
}()

/// Runs `body` `rounds` times; returns (median, min) in milliseconds and the body's last result.
func time(rounds: Int, _ body: () throws -> Int) rethrows -> (median: Double, min: Double, result: Int) {
    var samples: [Double] = []
    var result = 0
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        result = try body()
        let elapsed = ContinuousClock.now - start
        samples.append(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
    }
    samples.sort()
    return (samples[samples.count / 2], samples[0], result)
}

func report(_ measurement: String, _ method: String, _ timing: (median: Double, min: Double, result: Int)) {
    print([measurement, method, String(format: "%.2f", timing.median), String(format: "%.2f", timing.min),
           "\(timing.result)"].joined(separator: "\t"))
}

/// The paths compared: each iterator program, and the bpf(2) system-call fallback.
enum Path: String, CaseIterable {
    /// The kfunc (Linux >= 6.6); absent from the report where the kernel lacks it.
    case kfunc
    /// The hash table read in the kernel (Linux >= 5.17 without the kfunc).
    case htab
    /// The iterator lists, batch lookups count: Linux 5.8 to 5.16, and every kernel before 6.6
    /// until the hash table read.
    case batch
    /// BPF_MAP_GET_NEXT_ID per map, batch lookups count: no iterator or no BTF.
    case syscalls

    var program: IteratorProgram? {
        switch self {
        case .kfunc: .kfunc
        case .htab: .htab
        case .batch: .list
        case .syscalls: nil
        }
    }
}

@MainActor
func collector(_ path: Path, include: [String] = []) throws -> Collector {
    var options = CollectorOptions(method: path == .syscalls ? .fallback : .iterator, filter: MapFilter(include: include))
    options.firstProgram = path.program ?? .kfunc
    return try Collector(options: options, logger: logger)
}

if arguments.count == 2 {
    for mode in [LossTracking.off, .auto, .on] {
        var options = CollectorOptions(method: .iterator)
        options.lossTracking = mode
        let collector = try Collector(options: options, logger: logger)
        _ = try collector.collect()
        report("steady-state collection, all maps", "loss tracking \(mode.rawValue)", try time(rounds: 20) {
            try collector.collect().count
        })
    }
    exit(0)
}

for path in Path.allCases {
    let all = try collector(path)
    guard all.iteratorProgram == path.program else { continue }  // the kernel lacks the kfunc
    let method = path.rawValue
    if path == .batch {  // the listing alone, which every kernel from 5.8 on can do
        report("raw iterator read, all maps", "iterator", try time(rounds: 20) { try all.rawIteratorRead() })
    }
    report("first collection, all maps (cold caches)", method, try time(rounds: 1) { try all.collect().count })
    let rounds = path == .syscalls || path == .batch ? 5 : 20
    report("steady-state collection, all maps", method, try time(rounds: rounds) { try all.collect().count })
    let smallOnly = try collector(path, include: ["^bench_small$"])
    let emptyOnly = try collector(path, include: ["^\(empty)$"])
    let bigOnly = try collector(path, include: ["^\(big)$"])
    _ = try smallOnly.collect()
    _ = try emptyOnly.collect()
    _ = try bigOnly.collect()
    report("steady-state collection, the small maps only", method, try time(rounds: rounds) { try smallOnly.collect().count })
    report("collection of the empty 1M-capacity hash map", method, try time(rounds: rounds) { try emptyOnly.collect().count })
    report("collection of the 1M-element hash map", method, try time(rounds: rounds) {
        Int(try bigOnly.collect().first?.entries ?? 0)
    })
}
