import ShipperCollect

extension Metric {
    public static let programInfo = Metric(
        name: "ebpf_prog_info",
        help: "Constant 1; labels describe the loaded BPF program: its full name, type and tag, and where its links attach it (attach_type, attach_target).",
        kind: .gauge)
    public static let programRunTime = Metric(
        name: "ebpf_prog_run_time_seconds_total",
        help: "Time the BPF program ran, counted only while run-time statistics are on (kernel.bpf_stats_enabled, or programs.stats: on); absent while they are off.",
        kind: .counter)
    public static let programRuns = Metric(
        name: "ebpf_prog_run_count_total",
        help: "Runs of the BPF program, counted only while run-time statistics are on; absent while they are off.",
        kind: .counter)
    public static let programSampledRunTime = Metric(
        name: "ebpf_prog_sampled_run_time_ratio",
        help: "Seconds the BPF program ran per second (its share of one CPU), measured over the sample window before the collection (programs.stats: sampled) and extrapolated to the whole interval; absent otherwise.",
        kind: .gauge)
    public static let programSampledRuns = Metric(
        name: "ebpf_prog_sampled_runs_per_second",
        help: "Runs of the BPF program per second, measured over the sample window before the collection (programs.stats: sampled) and extrapolated to the whole interval; absent otherwise.",
        kind: .gauge)
    public static let programHolderInfo = Metric(
        name: "ebpf_prog_holder_info",
        help: "Constant 1 for each process holding a file descriptor of the BPF program, or of a link to it: its pid and comm.",
        kind: .gauge)
    public static let programRecursionMisses = Metric(
        name: "ebpf_prog_recursion_misses_total",
        help: "Runs of the BPF program the kernel skipped because it was already running on the CPU (Linux 5.12 and later).",
        kind: .counter)
    public static let programMemoryBytes = Metric(
        name: "ebpf_prog_memory_bytes", help: "Memory the kernel accounts to the BPF program (fdinfo memlock).",
        kind: .gauge)
    public static let programVerifiedInstructions = Metric(
        name: "ebpf_prog_verified_instructions",
        help: "Instructions the verifier processed to load the BPF program (Linux 5.16 and later).", kind: .gauge)

    /// The per-program metrics, in exposition order.
    public static let programMetrics: [Metric] = [
        .programInfo, .programRunTime, .programRuns, .programSampledRunTime, .programSampledRuns,
        .programRecursionMisses, .programMemoryBytes, .programVerifiedInstructions, .programHolderInfo,
    ]
}

extension MetricSet {
    /// Each program's series: its info series, every figure the kernel reports for it (run time
    /// and runs only while statistics are on, their rates over the window when sampled), and one
    /// info series per process holding it. Labelled `prog_id` and `prog_name`, as a map's
    /// series are `map_id` and `map_name`, so that they join on the names in a map's `programs`.
    public static func samples(for programs: [ProgramStats]) -> [Sample] {
        var samples: [Sample] = []
        for program in programs {
            let labels = LabelSet(["prog_id": "\(program.id)", "prog_name": program.name])
            var info = labels
            info["prog_type"] = program.type
            info["tag"] = program.tag
            info["attach_type"] = Set(program.links.map(\.attachment)).sorted().joined(separator: ",")
            info["attach_target"] = Set(program.links.compactMap(\.target)).sorted().joined(separator: ",")
            samples.append(Sample(.programInfo, info, 1))
            if let runTime = program.runTimeNs { samples.append(Sample(.programRunTime, labels, Double(runTime) / 1e9)) }
            if let runs = program.runCount { samples.append(Sample(.programRuns, labels, Double(runs))) }
            if let rates = program.sampled {
                samples.append(Sample(.programSampledRunTime, labels, rates.runTimeRatio))
                samples.append(Sample(.programSampledRuns, labels, rates.runsPerSecond))
            }
            if let misses = program.recursionMisses { samples.append(Sample(.programRecursionMisses, labels, Double(misses))) }
            if let memory = program.memoryBytes { samples.append(Sample(.programMemoryBytes, labels, Double(memory))) }
            if let instructions = program.verifiedInstructions {
                samples.append(Sample(.programVerifiedInstructions, labels, Double(instructions)))
            }
            for holder in program.holders ?? [] {
                samples.append(Sample(.programHolderInfo, LabelSet(["prog_id": "\(program.id)", "pid": "\(holder.pid)", "comm": holder.comm]), 1))
            }
        }
        return samples
    }
}
