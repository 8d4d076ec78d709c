
/// The units config values are written in: Prometheus-style durations and binary sizes.
package enum Units {
    /// `500ms`, `15s`, `2m`, `1h30m`, `1d`; units ms, s, m, h, d, w. Nil if malformed or zero.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Int64)] = [
            ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
        ]
        var rest = Substring(text)
        var total: Int64 = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let number = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            // "ms" before "m", so longest match first.
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { return nil }
            rest = rest.dropFirst(unit.0.count)
            let (scaled, overflow) = number.multipliedReportingOverflow(by: unit.1)
            let (sum, sumOverflow) = total.addingReportingOverflow(scaled)
            guard !overflow, !sumOverflow else { return nil }
            total = sum
        }
        return total > 0 ? .milliseconds(total) : nil
    }

    /// `512MiB`, `1GiB`, `64KB`, `1000` (bytes). Binary (KiB) and decimal (KB) units both read.
    static func size(_ text: String) -> UInt64? {
        let units: [(String, UInt64)] = [
            ("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40),
            ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("TB", 1_000_000_000_000), ("B", 1),
        ]
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = UInt64(digits) else { return nil }
        let suffix = text.dropFirst(digits.count)
        if suffix.isEmpty { return number }
        guard let unit = units.first(where: { $0.0 == suffix }) else { return nil }
        let (scaled, overflow) = number.multipliedReportingOverflow(by: unit.1)
        return overflow ? nil : scaled
    }

    /// The largest binary unit that divides a size exactly, for messages.
    static func formatSize(_ bytes: UInt64) -> String {
        for (unit, size) in [("TiB", UInt64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= size && bytes % size == 0 {
            return "\(bytes / size)\(unit)"
        }
        return "\(bytes)B"
    }

    /// The shortest exact spelling of a duration, for messages and `check-config`.
    package static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        for (unit, size) in [("h", Int64(3_600_000)), ("m", 60_000), ("s", 1000)] where milliseconds % size == 0 {
            return "\(milliseconds / size)\(unit)"
        }
        return "\(milliseconds)ms"
    }
}
