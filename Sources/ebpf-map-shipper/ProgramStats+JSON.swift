import ShipperCollect

/// `list --programs --format json`: an array of objects with a fixed set of keys in a fixed
/// order; what the kernel does not report (run time and runs while statistics are off) is null.
extension ProgramStats {
    static func json(_ programs: [ProgramStats]) -> String {
        JSON.array(programs.map(\.jsonObject))
    }

    var jsonObject: String {
        JSON.object([
            ("id", "\(id)"),
            ("name", JSON.quote(name)),
            ("type", JSON.quote(type)),
            ("tag", JSON.quote(tag)),
            ("run_time_ns", runTimeNs.map { "\($0)" } ?? "null"),
            ("run_count", runCount.map { "\($0)" } ?? "null"),
            ("sampled_run_time_ratio", sampled.map { String($0.runTimeRatio) } ?? "null"),
            ("sampled_runs_per_second", sampled.map { String($0.runsPerSecond) } ?? "null"),
            ("recursion_misses", recursionMisses.map { "\($0)" } ?? "null"),
            ("memory_bytes", memoryBytes.map { "\($0)" } ?? "null"),
            ("verified_instructions", verifiedInstructions.map { "\($0)" } ?? "null"),
            ("map_ids", "[" + mapIDs.map { "\($0)" }.joined(separator: ", ") + "]"),
            ("links", "[" + links.map(\.jsonObject).joined(separator: ", ") + "]"),
            ("holders", Holder.json(holders)),
        ])
    }
}

extension ProgramLink {
    var jsonObject: String {
        JSON.object([
            ("id", "\(id)"),
            ("type", JSON.quote(type)),
            ("attach_type", attachType.map(JSON.quote) ?? "null"),
            ("target", target.map(JSON.quote) ?? "null"),
        ])
    }

    /// The table's ATTACHED column: `attach_type:target`, as far as the kernel says.
    var column: String { attachment + (target.map { ":" + $0 } ?? "") }
}
