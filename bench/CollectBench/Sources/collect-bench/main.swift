// Times the collector on the maps that bench/collect created. Usage:
//   collect-bench BIG_MAP_NAME EMPTY_MAP_NAME
// Prints tab-separated "measurement<TAB>method<TAB>median_ms<TAB>min_ms<TAB>maps" lines.
import Foundation
import Logging
import Shipper

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: collect-bench BIG_MAP_NAME EMPTY_MAP_NAME\n".utf8))
    exit(2)
}
let (big, empty) = (arguments[1], arguments[2])
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

@MainActor
func collector(_ method: CollectionMethod, include: [String] = []) throws -> Collector {
    try Collector(options: CollectorOptions(method: method, filter: MapFilter(include: include)), logger: logger)
}

for method in [CollectionMethod.iterator, .fallback] {
    let all = try collector(method)
    if method == .iterator {
        report("raw iterator read, all maps", "iterator", try time(rounds: 20) { try all.rawIteratorRead() })
    }
    report("first collection, all maps (cold caches)", method.rawValue, try time(rounds: 1) { try all.collect().count })
    report("steady-state collection, all maps", method.rawValue, try time(rounds: 20) { try all.collect().count })
    let rounds = method == .iterator ? 20 : 5
    let emptyOnly = try collector(method, include: ["^\(empty)$"])
    let bigOnly = try collector(method, include: ["^\(big)$"])
    _ = try emptyOnly.collect()
    _ = try bigOnly.collect()
    report("collection of the empty 1M-capacity hash map", method.rawValue, try time(rounds: rounds) { try emptyOnly.collect().count })
    report("collection of the 1M-element hash map", method.rawValue, try time(rounds: rounds) {
        Int(try bigOnly.collect().first?.entries ?? 0)
    })
}
