// Times the collector on the maps that bench/collect created. Usage:
//   collect-bench BIG_MAP_NAME EMPTY_MAP_NAME
// Prints tab-separated "measurement<TAB>method<TAB>median_ms<TAB>min_ms<TAB>maps" lines.
//   collect-bench --loss
// times a steady-state collection of every map with loss tracking off, auto and on (bench/loss).
//   collect-bench --holders
// times a steady-state collection with and without the holders, the holders iterator's read alone,
// and the same found by scanning /proc (bench/holders).
import Foundation
import Logging
import ShipperCollect

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.dropFirst() == ["--loss"] || arguments.dropFirst() == ["--holders"] else {
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

/// The holders found as a program without BPF finds them: every /proc/<pid>/fd entry read, and the
/// fdinfo of those that name a BPF map, program or link read for its id. Returns the processes
/// found holding any.
func scanProc() -> Int {
    var holders = 0
    guard let processes = opendir("/proc") else { return 0 }
    defer { closedir(processes) }
    var target = [CChar](repeating: 0, count: 256)
    while let process = readdir(processes) {
        let pid = withUnsafeBytes(of: process.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard pid.first?.isNumber == true, let fds = opendir("/proc/\(pid)/fd") else { continue }
        var holds = false
        while let fd = readdir(fds) {
            let name = withUnsafeBytes(of: fd.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.first?.isNumber == true else { continue }
            let length = readlink("/proc/\(pid)/fd/\(name)", &target, target.count - 1)
            guard length > 0 else { continue }
            let link = String(decoding: target.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard link.hasPrefix("anon_inode:bpf") else { continue }
            let info = (try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(name)", encoding: .utf8)) ?? ""
            if info.contains("map_id:") || info.contains("prog_id:") || info.contains("link_id:") { holds = true }
        }
        closedir(fds)
        if holds { holders += 1 }
    }
    return holders
}

if arguments.dropFirst() == ["--holders"] {
    var without = CollectorOptions(method: .iterator)
    without.holders = false
    let plain = try Collector(options: without, logger: logger)
    let full = try Collector(options: CollectorOptions(method: .iterator), logger: logger)
    var walking = CollectorOptions(method: .iterator)
    walking.holdersMaxAge = .zero
    let everyCycle = try Collector(options: walking, logger: logger)
    for collector in [plain, full, everyCycle] { _ = try collector.collect() }
    report("steady-state collection, all maps", "holders off", try time(rounds: 20) { try plain.collect().count })
    report("steady-state collection, all maps", "holders on (walked when due)", try time(rounds: 20) { try full.collect().count })
    report("steady-state collection, all maps", "holders walked every cycle", try time(rounds: 20) { try everyCycle.collect().count })
    report("holders alone", "task_file iterator", try time(rounds: 20) { try full.rawHoldersRead() })
    report("holders alone", "/proc scan", try time(rounds: 5) { scanProc() })
    exit(0)
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
