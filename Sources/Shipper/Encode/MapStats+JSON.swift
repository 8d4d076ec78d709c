/// `list --format json`: an array of objects with a fixed set of keys in a fixed order;
/// absent counts are null. Written by hand because JSONEncoder does not keep key order on Linux.
extension MapStats {
    public static func json(_ maps: [MapStats]) -> String {
        if maps.isEmpty { return "[]" }
        return "[\n" + maps.map { "  " + $0.jsonObject }.joined(separator: ",\n") + "\n]"
    }

    var jsonObject: String {
        let fields: [(String, String)] = [
            ("id", "\(id)"),
            ("name", Self.quote(name)),
            ("type", Self.quote(type.name)),
            ("key_size", "\(keySize)"),
            ("value_size", "\(valueSize)"),
            ("max_entries", "\(maxEntries)"),
            ("flags", "\(flags)"),
            ("entries", entries.map { "\($0)" } ?? "null"),
            ("count_method", countMethod.map { Self.quote($0.rawValue) } ?? "null"),
            ("memory_bytes", memoryBytes.map { "\($0)" } ?? "null"),
            ("pinned", "[" + pinned.map(Self.quote).joined(separator: ", ") + "]"),
            ("programs", "[" + programs.map(Self.quote).joined(separator: ", ") + "]"),
        ]
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
