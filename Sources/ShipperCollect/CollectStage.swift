/// A part of a collection that can fail on its own. A failure is counted under its stage
/// (`ebpf_map_shipper_collect_errors_total{stage}`), logged at most once a minute per stage, and
/// leaves out only what it concerns for that cycle, as node_exporter does with one failing collector.
public enum CollectStage: String, Sendable, CaseIterable {
    /// Listing the maps: the iterator's read, or BPF_MAP_GET_NEXT_ID. Nothing is collected that cycle.
    case enumerate
    /// Opening or describing one map on the fallback path: that map is left out.
    case describe
    /// Counting one map's elements: that map is reported without a count.
    case count
    /// Reading one map's memory (fdinfo): that map is reported without its memory.
    case memory
    /// Listing the programs that use the maps: last cycle's program names are kept.
    case programs
    /// Reading which processes hold the maps and programs: last cycle's holders are kept.
    case holders
    /// Reading the loss counters: the maps are reported without them that cycle.
    case losses
}
