import SystemPackage

/// What a previous run left in a buffer directory, read at start: which segments still hold
/// undelivered records, where delivery resumes, and a torn tail cut off so that appends continue
/// on a clean end.
///
/// The cursor is checked against the files, never trusted blindly: a cursor past the end of its
/// segment, inside a record, or naming a segment newer than any on disk would skip data, so
/// delivery then restarts at the start of that segment (duplicates are harmless) and says so.
struct SegmentRecovery {
    /// Segments from the one delivery resumes in, with their summaries; never empty (the last is
    /// the one appends go to).
    var segments: [Segment]
    /// Where in `segments[0]` delivery resumes.
    var readOffset: Int64 = 0

    init(_ found: [Segment], cursor: BufferCursor, directory: BufferDirectory, report: DropReport) throws {
        segments = found
        let start = Self.start(found, cursor: cursor, directory: directory, report: report)
        // What lies before the resume point was delivered before the restart.
        for segment in found where segment.number < start.segment { directory.remove(segment.name) }
        segments = found.filter { $0.number >= start.segment }
        var damaged = 0
        for index in segments.indices {
            let fd = try directory.open(segments[index].name, .readWrite)
            defer { try? fd.close() }
            var offset = index == 0 && segments[index].number == start.segment ? start.offset : 0
            if index == 0 { readOffset = offset }
            var lastGoodEnd = offset
            scan: while true {
                switch Segment.read(fd, at: offset, size: segments[index].size) {
                case .record(let record, let end):
                    segments[index].records += 1
                    segments[index].samples += record.sampleCount
                    segments[index].newestMs = max(segments[index].newestMs ?? record.timestampMs, record.timestampMs)
                    offset = end
                    lastGoodEnd = end
                case .damaged(let resume):
                    damaged += 1
                    offset = resume
                case .end:
                    break scan
                }
            }
            // A torn tail (a crash mid-write) is cut off and counted here; damage in the middle is
            // counted when the reader skips it.
            if index == segments.count - 1 && lastGoodEnd < segments[index].size {
                report.corrupt(samples: Segment.samplesPromised(fd, from: lastGoodEnd, to: segments[index].size))
                try fd.resize(to: lastGoodEnd)
                segments[index].size = lastGoodEnd
            }
        }
        // Nothing left on disk: appends start a segment where the cursor says delivery resumes.
        if segments.isEmpty { segments = [Segment(number: max(start.segment, 1))] }
        if damaged > 0 {
            report.logger.warning(
                "disk buffer had damaged records; they will be skipped, the rest delivered",
                metadata: ["buffer.damaged_records": "\(damaged)"])
        }
        let pending = segments.reduce(0) { $0 + $1.samples }
        if pending > 0 {
            report.logger.info(
                "replaying the disk buffer left by a previous run",
                metadata: ["buffer.samples": "\(pending)", "buffer.records": "\(segments.reduce(0) { $0 + $1.records })"])
        }
    }

    /// Where delivery resumes: the cursor if it points at a record boundary of a segment on disk
    /// (or names a segment already deleted as delivered), else the start of the oldest possible
    /// segment, logged.
    private static func start(
        _ found: [Segment], cursor: BufferCursor, directory: BufferDirectory, report: DropReport
    ) -> BufferCursor.Position {
        guard let first = found.first, let last = found.last else {
            return BufferCursor.Position(segment: cursor.saved?.segment ?? 1, offset: 0)
        }
        let fromStart = BufferCursor.Position(segment: first.number, offset: 0)
        guard let saved = cursor.saved else {
            if cursor.existed {
                report.logger.warning(
                    "the buffer cursor is unreadable; replaying every segment from the start (the receiver ignores duplicates)",
                    metadata: ["buffer.dir": "\(directory.path)"])
            }
            return fromStart
        }
        if saved.segment > last.number {
            report.logger.warning(
                "the buffer cursor names a segment newer than any on disk; replaying every segment from the start",
                metadata: ["buffer.dir": "\(directory.path)", "buffer.cursor_segment": "\(saved.segment)"])
            return fromStart
        }
        guard let segment = found.first(where: { $0.number == saved.segment }) else {
            // Its segment was deleted once delivered: delivery resumes at the next one.
            return BufferCursor.Position(segment: found.first { $0.number > saved.segment }?.number ?? first.number, offset: 0)
        }
        if saved.offset == 0 || isBoundary(saved.offset, of: segment, in: directory) { return saved }
        report.logger.warning(
            "the buffer cursor points past the end of its segment or inside a record; replaying that segment from its start",
            metadata: ["buffer.segment": "\(segment.name)", "buffer.offset": "\(saved.offset)", "buffer.segment_size": "\(segment.size)"])
        return BufferCursor.Position(segment: segment.number, offset: 0)
    }

    /// Whether a record starts at `offset`, or the segment's records end there.
    private static func isBoundary(_ target: Int64, of segment: Segment, in directory: BufferDirectory) -> Bool {
        guard target <= segment.size, let fd = try? directory.open(segment.name, .readOnly) else { return false }
        defer { try? fd.close() }
        var offset: Int64 = 0
        while offset < target {
            switch Segment.read(fd, at: offset, size: segment.size) {
            case .record(_, let end): offset = end
            case .damaged(let resume): offset = resume
            case .end: return false
            }
        }
        return offset == target
    }
}
