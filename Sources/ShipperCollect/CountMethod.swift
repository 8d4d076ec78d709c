/// How one map's element count was obtained; shown in `list` as `count_method`.
public enum CountMethod: String, Sendable, Codable {
    /// `bpf_map_sum_elem_count` inside the BPF iterator: constant cost, whatever the size.
    case kfunc
    /// The iterator program reading the map's hash table in the kernel (Linux 5.17 to 6.5): no
    /// element leaves the kernel, but the cost grows with the capacity.
    case htab
    /// A ring buffer's producer and consumer positions, read by the iterator: bytes waiting to be
    /// consumed, against its size.
    case ringbuf
    /// `BPF_MAP_LOOKUP_BATCH`: thousands of elements per system call.
    case batch
    /// `BPF_MAP_GET_NEXT_KEY`, one system call per key, bounded by `maxWalkKeys`.
    case walk
}

/// Which enumeration path the collector uses.
public enum CollectionMethod: String, Sendable, CaseIterable {
    /// The iterator where it loads, else the system-call fallback. Logged once when it falls back.
    case auto
    /// The iterator only; fail if it cannot load.
    case iterator
    /// The system-call path only, as on kernels older than 6.6.
    case fallback
}
