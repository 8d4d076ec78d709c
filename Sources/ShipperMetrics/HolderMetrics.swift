import ShipperCollect

extension Metric {
    public static let mapHolderInfo = Metric(
        name: "ebpf_map_holder_info",
        help: "Constant 1 for each process holding a file descriptor of the map: its pid and comm.", kind: .gauge)
    public static let programHolderInfo = Metric(
        name: "ebpf_prog_holder_info",
        help: "Constant 1 for each process holding a file descriptor of the BPF program, or of a link to it: its pid and comm.",
        kind: .gauge)
}

extension MetricSet {
    /// One info series per process holding each map: `map_id`, `pid`, `comm`. None where the
    /// holders are not known.
    public static func holderSamples(for maps: [MapStats]) -> [Sample] {
        var samples: [Sample] = []
        for map in maps {
            for holder in map.holders ?? [] {
                samples.append(Sample(.mapHolderInfo, LabelSet(["map_id": "\(map.id)", "pid": "\(holder.pid)", "comm": holder.comm]), 1))
            }
        }
        return samples
    }
}
