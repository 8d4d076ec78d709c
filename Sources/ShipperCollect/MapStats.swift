/// What one collection knows about one map.
public struct MapStats: Sendable, Equatable {
    public var id: UInt32
    public var name: String
    public var type: MapType
    public var flags: UInt32
    public var keySize: UInt32
    public var valueSize: UInt32
    public var maxEntries: UInt32
    /// nil where the type keeps no meaningful count, or the count could not be taken this cycle.
    public var entries: UInt64?
    /// nil exactly when `entries` is nil.
    public var countMethod: CountMethod?
    /// The kernel's own accounting (fdinfo `memlock`); nil if the map could not be opened.
    public var memoryBytes: UInt64?
    /// Every bpffs path the map is pinned at, sorted.
    public var pinned: [String]
    /// Names of the loaded programs that use the map, sorted.
    public var programs: [String]
    /// Writes the map refused because it was full, since loss tracking started; nil where it is
    /// not tracked (off, refused by the kernel, or a type that evicts or cannot refuse).
    public var insertFailures: UInt64? = nil
    /// Entries the LRU map evicted for new ones, since loss tracking started; nil where not tracked.
    public var evictions: UInt64? = nil
    /// The processes holding a descriptor of it (for a program, or of a link to it), by pid; nil
    /// where the kernel would not say (the holders iterator did not load).
    public var holders: [Holder]? = nil

    /// entries / max_entries, where both are meaningful. Inlinable, as the stages' per-map
    /// loops read it once a cycle for every map.
    @inlinable public var pressure: Double? {
        guard let entries, maxEntries > 0 else { return nil }
        return Double(entries) / Double(maxEntries)
    }
}
