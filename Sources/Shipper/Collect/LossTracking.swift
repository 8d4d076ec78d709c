/// Whether the collector counts what maps lose (`maps.loss_tracking`): writes refused because a
/// map was full, and entries LRU maps evicted. The counting programs are fexit programs on kernel
/// functions; some kernels refuse every tracing program.
public enum LossTracking: String, Sendable, CaseIterable {
    /// Load the programs where the kernel allows; otherwise say why once, at info, and go on.
    case auto
    /// Load them or refuse to start.
    case on
    /// Never load them.
    case off
}

/// One map's loss counters since the programs were loaded.
struct LossCounts: Sendable, Equatable {
    var insertFailures: UInt64
    var evictions: UInt64
}
