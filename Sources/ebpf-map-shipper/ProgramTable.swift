import Foundation
import ShipperCollect

/// `list --programs --format table`: one row per program, the most run time first (by id where
/// statistics are off), sized to its content. With `--program-stats sampled`, RUN TIME and RUNS
/// are the rates over the sample window, per second.
enum ProgramTable {
    static func render(_ programs: [ProgramStats]) -> String {
        let sorted = programs.sorted { a, b in
            let (x, y) = (a.sampled?.runTimeRatio ?? Double(a.runTimeNs ?? 0), b.sampled?.runTimeRatio ?? Double(b.runTimeNs ?? 0))
            return x != y ? x > y : a.id < b.id
        }
        let header = ["ID", "TYPE", "NAME", "TAG", "RUN TIME", "RUNS", "AVG", "MEMORY", "VERIFIED", "MAPS", "ATTACHED", "HOLDERS"]
        return TextTable.render(header, sorted.map(row), rightAligned: [0, 4, 5, 6, 7, 8])
    }

    private static func row(_ program: ProgramStats) -> [String] {
        let (time, runs, average): (String, String, String)
        if let rates = program.sampled {
            time = duration(UInt64(rates.runTimeRatio * 1e9)) + "/s"
            runs = String(format: "%.1f/s", rates.runsPerSecond)
            average = rates.runsPerSecond > 0 ? "\(UInt64(rates.runTimeRatio * 1e9 / rates.runsPerSecond))ns" : "-"
        } else {
            time = program.runTimeNs.map(duration) ?? "-"
            runs = program.runCount.map { String($0) } ?? "-"
            average = program.runTimeNs.flatMap { time in program.runCount.flatMap { $0 == 0 ? nil : "\(time / $0)ns" } } ?? "-"
        }
        return [
            String(program.id), program.type, program.name, program.tag, time, runs, average,
            program.memoryBytes.map(MapTable.bytes) ?? "-", program.verifiedInstructions.map { String($0) } ?? "-",
            program.mapIDs.isEmpty ? "-" : program.mapIDs.map(String.init).joined(separator: ","),
            program.links.isEmpty ? "-" : program.links.map(\.column).joined(separator: ","),
            Holder.column(program.holders),
        ]
    }

    /// Nanoseconds in the largest unit that keeps a whole number before the point, one decimal.
    private static func duration(_ nanoseconds: UInt64) -> String {
        let units: [(String, UInt64)] = [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)]
        guard let (unit, scale) = units.first(where: { nanoseconds >= $0.1 }) else { return "\(nanoseconds)ns" }
        let tenths = (nanoseconds * 10 + scale / 2) / scale
        return "\(tenths / 10).\(tenths % 10)\(unit)"
    }
}
