/// Whether the collector turns on the kernel's per-program run-time statistics
/// (`programs.stats`), which `ebpf_prog_run_time_seconds_total` and `ebpf_prog_run_count_total`
/// need. While they are on, every run of every BPF program on the host costs two clock reads.
/// Where `kernel.bpf_stats_enabled` is already 1, they are on whatever this says, and the counters
/// are reported.
public enum ProgramStatistics: String, Sendable, CaseIterable {
    /// Report run time and runs only where `kernel.bpf_stats_enabled` is on; never turn it on.
    case off
    /// Hold a `BPF_ENABLE_STATS` descriptor for the collector's lifetime: statistics stay on
    /// while the shipper runs, and go off when it stops.
    case on
    /// Turn them on for a window before each collection (`ProgramSampler`) and report the rates
    /// measured over it, which stand for the whole interval.
    case sampled
}
