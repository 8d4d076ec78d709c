import SystemPackage

/// How far delivery got in a buffer directory: "<segment number> <offset>\n", both fixed-width,
/// so that each update is one write of the same 42 bytes in place: kill -9 cannot tear it, and it
/// costs no rename or fsync per request. It needs no fsync: a cursor that is behind, or unreadable
/// after a power loss, only replays what was delivered (duplicates the receiver ignores), never
/// loses a sample. A cursor that is ahead of what exists is caught by `SegmentRecovery`.
final class BufferCursor {
    struct Position: Equatable {
        var segment: UInt64
        var offset: Int64
    }

    static let fileName = "cursor"

    /// What the file said when the queue opened; nil if it was missing or unreadable.
    let saved: Position?
    /// Whether a file was there (and so, with `saved` nil, unreadable).
    let existed: Bool
    private let fd: FileDescriptor

    init(in directory: BufferDirectory) throws {
        let text = directory.read(Self.fileName)
        existed = text != nil
        saved = text.flatMap(Self.parse)
        fd = try directory.open(Self.fileName, .writeOnly, create: true)
    }

    deinit { try? fd.close() }

    static func parse(_ bytes: [UInt8]) -> Position? {
        let fields = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let segment = UInt64(fields[0]), let offset = Int64(fields[1]), offset >= 0 else { return nil }
        return Position(segment: segment, offset: offset)
    }

    /// Rewrites the line in place; throws what the write threw.
    func write(_ position: Position) throws {
        let text = Segment.twentyDigits(position.segment) + " " + Segment.twentyDigits(position.offset) + "\n"
        try fd.writeAll(toAbsoluteOffset: 0, Array(text.utf8))
    }
}
