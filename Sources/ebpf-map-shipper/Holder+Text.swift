import ShipperCollect

/// How `list` shows the processes holding a map or a program: `comm(pid)`, as bpftool's `pids`
/// prints them, in the table; objects with `pid` and `comm` in JSON (null where not known).
extension Holder {
    /// A process may name itself anything: control characters are shown as `?`, so that one
    /// cannot break a table's line.
    static func column(_ holders: [Holder]?) -> String {
        guard let holders, !holders.isEmpty else { return "-" }
        return holders.map { holder in
            let comm = String(String.UnicodeScalarView(holder.comm.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : $0 }))
            return "\(comm)(\(holder.pid))"
        }.joined(separator: ",")
    }

    static func json(_ holders: [Holder]?) -> String {
        guard let holders else { return "null" }
        return "[" + holders.map { JSON.object([("pid", "\($0.pid)"), ("comm", JSON.quote($0.comm))]) }.joined(separator: ", ") + "]"
    }
}
