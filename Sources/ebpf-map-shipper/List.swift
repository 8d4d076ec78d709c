import ArgumentParser
import ShipperCollect
import ShipperMetrics
import ShipperEncode

extension EBPFMapShipper {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every eBPF map on this host with its element count, capacity and memory.",
            discussion: """
                Every map in the kernel is listed, pinned or not, whoever loaded it. ENTRIES is shown \
                only for types with a meaningful count (hash maps, LRU maps, LPM tries, sockhash, \
                devmap_hash, stack_trace); arrays, rings and storage maps show "-". PRESSURE is \
                ENTRIES / MAX: at 100% the map rejects inserts. The table lists the most-pressured \
                maps first.

                Examples:
                  ebpf-map-shipper list
                  ebpf-map-shipper list --type hash --type lru_hash --name '^cilium_'
                  ebpf-map-shipper list --format json | jq '.[] | select(.entries != null)'
                  ebpf-map-shipper list --format prometheus
                  ebpf-map-shipper list --programs --program-stats on
                  ebpf-map-shipper list --programs --program-stats sampled

                HOLDERS names the processes holding a descriptor of each map, as comm(pid).

                With --programs, the loaded BPF programs are listed instead, most run time first: \
                type, tag, run time and runs (only while the kernel's run-time statistics are on: \
                sysctl kernel.bpf_stats_enabled=1, or --program-stats on for this command; \
                --program-stats sampled measures one second and shows rates per second), \
                memory, instructions the verifier processed, the ids of the maps each uses, and \
                the processes holding each.
                """
        )

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, json, prometheus
        }

        @Option(help: "Output format: table, json (one object per map) or prometheus (text exposition).")
        var format: Format = .table

        @Flag(help: "List the loaded BPF programs instead of the maps.")
        var programs = false

        @OptionGroup var selection: MapSelection
        @OptionGroup var logging: LoggingOptions

        func run() throws {
            let logger = logging.makeLogger()
            let options = selection.collectorOptions(lossTrackingDefault: .off)
            let maps: [MapStats]
            let collector: Collector
            let metrics = SelfMetrics()
            do {
                collector = try Collector(options: options, logger: logger)
                let started = ContinuousClock.now
                maps = try collector.collect()
                metrics.collected(in: started.duration(to: .now))
                metrics.record(collector)
            } catch {
                throw fail("\(error)")
            }
            if programs {
                switch format {
                case .table: print(ProgramTable.render(collector.programs), terminator: "")
                case .json: print(ProgramStats.json(collector.programs))
                case .prometheus: print(TextExposition.render(MetricSet.samples(for: collector.programs)), terminator: "")
                }
                return
            }
            switch format {
            case .table: print(MapTable.render(maps), terminator: "")
            case .json: print(MapStats.json(maps))
            case .prometheus:
                print(TextExposition.render(MetricSet.samples(for: maps) + metrics.samples()), terminator: "")
            }
        }
    }
}

/// Which maps `list` and `serve` report, and how they count them.
struct MapSelection: ParsableArguments {
    @Option(
        name: .customLong("name"), parsing: .unconditionalSingleValue,
        help: ArgumentHelp(
            "Only maps whose name matches this regex (unanchored; repeat to allow several).", valueName: "regex"))
    var names: [String] = []

    @Option(
        name: .customLong("type"),
        help: ArgumentHelp("Only maps of this type, as bpftool spells it, e.g. hash (repeatable).", valueName: "type"))
    var types: [String] = []

    @Option(help: "Counting path: auto (iterator, else system calls), iterator, or fallback.")
    var method: CollectionMethod = .auto

    // Unconditional: "-1" is a (refused) value, not a missing one.
    @Option(parsing: .unconditional, help: "At most this many keys are read per map when a map's keys must be walked.")
    var maxWalkKeys: UInt64 = CollectorOptions.defaultMaxWalkKeys

    @Option(
        help: """
            Count writes refused by full maps and LRU evictions (fexit programs), from the start of \
            this command: auto (where the kernel allows, each map type's refusal hooks attached \
            only while one of its maps is near capacity), on (every hook from the start; fail if \
            the kernel allows none), or off. Default: auto for serve; off for list, which collects \
            once and so has nothing to count.
            """)
    var lossTracking: LossTracking?

    @Option(
        name: .customLong("bpffs"),
        help: ArgumentHelp(
            "A bpffs mount point to search for pins (repeatable). Default: every bpffs this process sees (/proc/self/mounts).",
            valueName: "path"))
    var bpffsMounts: [String] = []

    @Flag(help: "Report the shipper's own maps (its iterator's, its loss counters') and programs as the host's. Default: left out.")
    var includeSelf = false

    @Option(
        help: """
            Per-program run time and runs: on turns the kernel's run-time statistics on while this \
            command runs, which costs every run of every BPF program on the host two clock reads; \
            sampled turns them on for one second before each collection and reports the rates \
            measured over it (each collection then takes that second longer); off (the default) \
            reports them only where sysctl kernel.bpf_stats_enabled is 1.
            """)
    var programStats: ProgramStatistics = .off

    func validate() throws {
        for type in types where MapType(name: type) == nil {
            throw ValidationError(
                "unknown map type '\(type)'; expected one of: \(MapType.known.map(\.name).joined(separator: ", "))")
        }
        for pattern in names {
            do { _ = try Regex(pattern) } catch {
                throw ValidationError("invalid --name regex '\(pattern)': \(error)")
            }
        }
        if maxWalkKeys == 0 { throw ValidationError("--max-walk-keys must be at least 1") }
        for path in bpffsMounts {
            if let problem = PinScanner.problem(searching: path) { throw ValidationError("--bpffs \(path): \(problem)") }
        }
    }

    /// The collector's options; `--loss-tracking` left out means `lossTrackingDefault`.
    func collectorOptions(lossTrackingDefault: LossTracking) -> CollectorOptions {
        var options = CollectorOptions(
            method: method, maxWalkKeys: maxWalkKeys, bpffsMounts: bpffsMounts.isEmpty ? nil : bpffsMounts,
            filter: MapFilter(include: names, types: Set(types.compactMap(MapType.init(name:)))))
        options.lossTracking = lossTracking ?? lossTrackingDefault
        options.includeSelf = includeSelf
        options.programStatistics = programStats
        return options
    }
}

extension CollectionMethod: ExpressibleByArgument {}
extension LossTracking: ExpressibleByArgument {}
extension ProgramStatistics: ExpressibleByArgument {}
