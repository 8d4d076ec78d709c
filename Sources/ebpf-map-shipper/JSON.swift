
/// The little JSON the shipper writes by hand (list output, log lines), where key order matters.
enum JSON {
    /// An object whose keys keep the order given.
    static func object(_ fields: [(key: String, value: String)]) -> String {
        "{" + fields.map { "\(quote($0.key)): \($0.value)" }.joined(separator: ", ") + "}"
    }

    /// An array of objects, one a line, as `list --format json` prints them.
    static func array(_ objects: [String]) -> String {
        objects.isEmpty ? "[]" : "[\n" + objects.map { "  " + $0 }.joined(separator: ",\n") + "\n]"
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
