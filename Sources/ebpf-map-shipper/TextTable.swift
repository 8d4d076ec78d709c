/// The tables `list` prints: columns sized to their content, two spaces apart, the numeric ones
/// right-aligned, no trailing spaces.
enum TextTable {
    static func render(_ header: [String], _ rows: [[String]], rightAligned: Set<Int>) -> String {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        return ([header] + rows).map { row in
            row.indices.map { column in
                let padding = String(repeating: " ", count: widths[column] - row[column].count)
                return rightAligned.contains(column) ? padding + row[column] : row[column] + padding
            }
            .joined(separator: "  ")
            .replacing(/\s+$/, with: "")
        }
        .joined(separator: "\n") + "\n"
    }
}
