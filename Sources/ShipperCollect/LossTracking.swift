/// Whether the collector counts what maps lose (`maps.loss_tracking`): writes refused because a
/// map was full, and entries LRU maps evicted. The counting programs are fexit programs on kernel
/// functions; some kernels refuse every tracing program, and some refuse those of a few map types.
public enum LossTracking: String, Sendable, CaseIterable {
    /// The default. Load the programs where the kernel allows (otherwise say why once, at info, and
    /// go on), and attach a map type's refusal hooks only while one of its maps is near capacity
    /// (`LossArming`): nothing is refused before, and attached hooks slow every write of the type.
    case auto
    /// Attach every hook the kernel allows from the start, for exact counts from the first write;
    /// refuse to start if it allows none.
    case on
    /// Never load them.
    case off
}

/// One map's loss counters since the programs were loaded.
struct LossCounts: Sendable, Equatable {
    var insertFailures: UInt64
    var evictions: UInt64
}
