/// The BPF iterator programs, best first. Each kernel takes the first one it accepts, so the
/// program in use says how the hash family is counted on this host.
public enum IteratorProgram: String, Sendable, CaseIterable {
    /// Linux >= 6.6: the kfunc `bpf_map_sum_elem_count` reads the kernel's own counters, at a cost
    /// that does not grow with the elements.
    case kfunc
    /// Linux 5.17 to 6.5: the program reads each hash map's table in the kernel with `bpf_loop`:
    /// the element array of a preallocated map in order, the buckets' lists of any other. The cost
    /// grows with the capacity but stays in the kernel; no key or value is copied out.
    case htab
    /// Linux 5.8 to 5.16 (no `bpf_loop`): the program only lists the maps, and the hash family is
    /// counted from user space with batch lookups.
    case list

    /// How the program's counts are reported; nil where it counts nothing.
    var countMethod: CountMethod? {
        switch self {
        case .kfunc: .kfunc
        case .htab: .htab
        case .list: nil
        }
    }
}
