import ShipperCollect

/// `list --format json`: an array of objects with a fixed set of keys in a fixed order;
/// absent counts are null. Written by hand because JSONEncoder does not keep key order on Linux.
extension MapStats {
    public static func json(_ maps: [MapStats]) -> String {
        JSON.array(maps.map(\.jsonObject))
    }

    var jsonObject: String {
        JSON.object([
            ("id", "\(id)"),
            ("name", JSON.quote(name)),
            ("type", JSON.quote(type.name)),
            ("key_size", "\(keySize)"),
            ("value_size", "\(valueSize)"),
            ("max_entries", "\(maxEntries)"),
            ("flags", "\(flags)"),
            ("entries", entries.map { "\($0)" } ?? "null"),
            ("count_method", countMethod.map { JSON.quote($0.rawValue) } ?? "null"),
            ("memory_bytes", memoryBytes.map { "\($0)" } ?? "null"),
            ("insert_failures", insertFailures.map { "\($0)" } ?? "null"),
            ("evictions", evictions.map { "\($0)" } ?? "null"),
            ("pinned", "[" + pinned.map(JSON.quote).joined(separator: ", ") + "]"),
            ("programs", "[" + programs.map(JSON.quote).joined(separator: ", ") + "]"),
            ("holders", Holder.json(holders)),
        ])
    }
}
