import Foundation
import SystemPackage

@testable import ShipperBuffer

/// What an endpoint's disk buffer holds, read the way the daemon reads it back: how a test sees
/// an outage's progress and what a run wrote, instead of timing them.
enum BufferedRecords {
    /// The header of every whole record in `directory`'s segments, oldest first. A record still
    /// being written, or torn by a kill, is left out, as the daemon leaves it out.
    static func headers(in directory: String) -> [Record.Header] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("segment-") }
        var headers: [Record.Header] = []
        for name in names.sorted() {
            guard let fd = try? FileDescriptor.open(directory + "/" + name, .readOnly) else { continue }
            defer { try? fd.close() }
            guard let size = try? fd.seek(offset: 0, from: .end) else { continue }
            var offset: Int64 = 0
            while let header = Segment.header(fd, at: offset, size: size) {
                headers.append(header)
                offset += Int64(Record.headerSize + header.length)
            }
        }
        return headers
    }

    /// The timestamps of the records `headers` finds.
    static func timestamps(in directory: String) -> [Int64] { headers(in: directory).map(\.timestampMs) }
}
