import ShipperCollect

/// `list --format table`: one row per map, most-pressured first, sized to its content.
public enum MapTable {
    public static func render(_ maps: [MapStats]) -> String {
        let sorted = maps.sorted { a, b in
            switch (a.pressure, b.pressure) {
            case let (x?, y?) where x != y: x > y
            case (.some, nil): true
            case (nil, .some): false
            default: a.id < b.id
            }
        }
        let header = ["ID", "TYPE", "NAME", "ENTRIES", "MAX", "PRESSURE", "MEMORY", "METHOD", "PINNED", "PROGRAMS", "HOLDERS"]
        return TextTable.render(header, sorted.map(row), rightAligned: [0, 3, 4, 5, 6])
    }

    private static func row(_ map: MapStats) -> [String] {
        let entries: String = map.entries.map { String($0) } ?? "-"
        let pressure: String = map.pressure.map(percent) ?? "-"
        let memory: String = map.memoryBytes.map(bytes) ?? "-"
        let method: String = map.countMethod?.rawValue ?? "-"
        let pinned: String = map.pinned.isEmpty ? "-" : map.pinned.joined(separator: ",")
        let programs: String = map.programs.isEmpty ? "-" : map.programs.joined(separator: ",")
        return [String(map.id), map.type.name, map.name, entries, String(map.maxEntries), pressure, memory, method,
                pinned, programs, Holder.column(map.holders)]
    }

    private static func percent(_ value: Double) -> String {
        let tenths = Int((value * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// Binary units as `free -h` prints them.
    static func bytes(_ value: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var scaled = Double(value)
        var unit = 0
        while scaled >= 1024, unit < units.count - 1 {
            scaled /= 1024
            unit += 1
        }
        if unit == 0 { return "\(value)B" }
        let tenths = Int((scaled * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)\(units[unit])"
    }
}
