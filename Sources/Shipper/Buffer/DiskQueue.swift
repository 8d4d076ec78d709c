import Foundation
import Logging
import SystemPackage

/// One endpoint's crash-safe buffer: every batch is appended to a segment file before it is
/// sent, and a cursor file records how far delivery got. After a restart, or kill -9, delivery
/// resumes at the cursor: what was written is replayed, what was acknowledged is not resent
/// (only the batch in flight at the kill may be).
///
/// Bounded by `maxSize` and `maxAge`: past either, the oldest records go first, counted as
/// `buffer_full` or `too_old`. Damaged records (torn tail, flipped bits) are detected by their
/// CRC, counted, logged and skipped; everything else is kept. Memory stays flat however long the
/// endpoint is down: the queue keeps one summary per segment, never one per record.
///
/// If the disk fails mid-run (full, read-only, I/O errors), batches wait in a bounded memory tail
/// behind the records already on disk, so order is kept and live sends go on.
final class DiskQueue: BatchQueue, @unchecked Sendable {
    struct Limits: Sendable, Equatable {
        var maxSize: UInt64
        var maxAge: Duration
        /// fsync once after each cycle's appends (true), or leave it to the kernel: both survive
        /// kill -9, only fsync survives power loss.
        var fsync: Bool
        /// Replayed records are merged into requests of up to this many samples.
        var maxSamplesPerSend: Int
    }

    /// A second shipper on the same directory: fatal, the operator must fix the config.
    struct LockedError: Error, CustomStringConvertible {
        var directory: String
        var owner: String
        var description: String {
            "buffer directory \(directory) is in use by another ebpf-map-shipper (\(owner)); give each shipper its own buffer.dir"
        }
    }

    let directory: String
    private let limits: Limits
    private let segmentSize: Int64
    private let report: DropReport
    private let monitor = QueueMonitor()
    private let lock: FileDescriptor
    private let cursor: FileDescriptor
    /// Joins replayed records into one request; used by the sending thread under the lock.
    private let merger = RemoteWriteEncoder()

    // Everything below is guarded by `monitor`.
    /// Segments with undelivered records or still being written, oldest first. The last one is written to.
    private var segments: [Segment]
    private var writer: FileDescriptor?
    private var reader: (number: UInt64, fd: FileDescriptor)?
    /// Where the next undelivered record of `segments[0]` starts.
    private var readOffset: Int64
    /// What `first` handed out: where delivery will have got to once it is acknowledged.
    private var inFlight: (segment: UInt64, end: Int64, records: Int, samples: Int)?
    private var memoryTail: BoundedBatches
    /// The batches appended last, as they were written: while the endpoint keeps up, `first`
    /// hands these out instead of reading the records back from disk and checking their CRCs.
    /// Bounded by `recentCapacityBytes`; older records are read from disk.
    private var recent: [(segment: UInt64, offset: Int64, batch: EncodedBatch)] = []
    private var recentBytes = 0
    private static let recentCapacityBytes = 4 << 20
    private var inFlightFromMemory = false
    private var lastDiskError: ContinuousClock.Instant?
    private var backlogLogged = false

    /// Opens (creating it 0700) the directory, takes its lock, and scans what a previous run left.
    init(directory: String, limits: Limits, report: DropReport) throws {
        self.directory = directory
        self.limits = limits
        self.report = report
        segmentSize = Int64(min(max(limits.maxSize / 8, 64 << 10), 64 << 20))
        memoryTail = BoundedBatches(capacityBytes: 64 << 20)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory)
        lock = try Self.takeLock(directory)
        segments = try Segment.list(in: directory)
        (readOffset, segments) = try Self.recover(segments, cursor: Self.readCursor(directory), report: report)
        cursor = try FileDescriptor.open(
            directory + "/" + Self.cursorName, .writeOnly, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
        if segments.isEmpty { segments = [Segment(number: 1, directory: directory)] }
        expire(now: Date())
        persistCursor()
        publish()
    }

    deinit {
        try? writer?.close()
        try? reader?.fd.close()
        try? lock.close()
        try? cursor.close()
    }

    // MARK: BatchQueue

    func append(_ batches: [EncodedBatch]) {
        monitor.withLock {
            defer { monitor.wake() }
            expire(now: Date())
            var written = false
            for batch in batches {
                if memoryTail.isEmpty && appendToDisk(batch) {
                    written = true
                    continue
                }
                // Behind the disk's records, in order, until the disk takes writes again.
                let dropped = memoryTail.append(batch)
                report.drop(dropped, reason: "buffer_full", "disk buffer unusable and memory tail full; dropped the oldest samples")
            }
            // One fsync per cycle, not per request.
            if written && limits.fsync, let writer {
                do { try writer.sync() } catch { diskFailed(error) }
            }
            publish()
        }
    }

    func first(untilEmpty: Bool) -> EncodedBatch? {
        monitor.withLock {
            while true {
                expire(now: Date())
                if let batch = nextFromDisk() { return batch }
                if let batch = memoryTail.first {
                    inFlightFromMemory = true
                    return batch
                }
                if backlogLogged {
                    backlogLogged = false
                    report.logger.info("buffer backlog drained")
                }
                if untilEmpty { return nil }
                guard monitor.wait(while: { pendingRecordsOnDisk == 0 && memoryTail.isEmpty }) else { return nil }
            }
        }
    }

    func removeFirst() {
        monitor.withLock {
            if inFlightFromMemory {
                memoryTail.removeFirst()
                inFlightFromMemory = false
            } else if let done = inFlight, let head = segments.first, head.number == done.segment {
                segments[0].records -= done.records
                segments[0].samples -= done.samples
                readOffset = done.end
                retireDeliveredSegments()
                persistCursor()
            }
            inFlight = nil
            publish()
        }
    }

    func sleep(for duration: Duration) -> Bool {
        monitor.withLock {
            // A retry while records wait means the endpoint is down: say once that buffering started.
            if !backlogLogged && pendingRecordsOnDisk > 1 {
                backlogLogged = true
                report.logger.warning(
                    "endpoint not accepting samples; buffering to disk",
                    metadata: ["buffer.dir": "\(directory)", "buffer.samples": "\(pendingSamplesLocked)"])
            }
        }
        return monitor.sleep(for: duration)
    }

    func close() { monitor.close() }

    var pendingSamples: Int { monitor.withLock { pendingSamplesLocked } }

    // MARK: Writing

    private var pendingRecordsOnDisk: Int { segments.reduce(0) { $0 + $1.records } }
    private var pendingSamplesLocked: Int { segments.reduce(0) { $0 + $1.samples } + memoryTail.samples }

    /// False when the disk refused the write (logged at most once a minute).
    private func appendToDisk(_ batch: EncodedBatch) -> Bool {
        let bytes = Record(timestampMs: batch.timestampMs, sampleCount: batch.sampleCount, body: batch.body).encoded
        do {
            if let last = segments.last, last.size > 0, last.size + Int64(bytes.count) > segmentSize {
                try rollOver()
            }
            makeRoom(for: Int64(bytes.count))
            let fd = try openWriter()
            let before = segments[segments.count - 1].size
            do {
                try fd.writeAll(toAbsoluteOffset: before, bytes)
            } catch {
                // Leave no partial record behind for the next append to bury.
                _ = try? fd.resize(to: before)
                throw error
            }
            segments[segments.count - 1].size += Int64(bytes.count)
            segments[segments.count - 1].records += 1
            segments[segments.count - 1].samples += batch.sampleCount
            segments[segments.count - 1].newestMs = batch.timestampMs
            remember(batch, segment: segments[segments.count - 1].number, offset: before)
            return true
        } catch {
            diskFailed(error)
            return false
        }
    }

    /// Logs a write or sync error at most once a minute; the next append reopens the segment.
    private func diskFailed(_ error: any Error) {
        let now = ContinuousClock.now
        if lastDiskError.map({ now - $0 > .seconds(60) }) ?? true {
            lastDiskError = now
            report.logger.error(
                "cannot write to the disk buffer; keeping batches in memory until it recovers",
                metadata: ["buffer.dir": "\(directory)", "error": "\(error)"])
        }
        try? writer?.close()
        writer = nil
    }

    private func openWriter() throws -> FileDescriptor {
        if let writer { return writer }
        let fd = try FileDescriptor.open(
            segments[segments.count - 1].path, .writeOnly, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
        writer = fd
        return fd
    }

    private func rollOver() throws {
        if let writer {
            if limits.fsync { try writer.sync() }
            try writer.close()
        }
        writer = nil
        segments.append(Segment(number: (segments.last?.number ?? 0) + 1, directory: directory))
    }

    /// Drops whole oldest segments until `incoming` more bytes fit within `maxSize`. The segment
    /// being written and the one holding the batch in flight are never dropped, so the bound is
    /// kept to within a segment (an eighth of `maxSize`).
    private func makeRoom(for incoming: Int64) {
        var total = segments.reduce(Int64(0)) { $0 + $1.size } + incoming
        while total > Int64(limits.maxSize), segments.count > 1, inFlight?.segment != segments[0].number {
            total -= segments[0].size
            report.drop(segments[0].samples, reason: "buffer_full", "disk buffer full; dropped the oldest samples")
            dropHeadSegment()
        }
    }

    // MARK: Reading

    /// The next request's worth of records from disk: consecutive records of the head segment,
    /// merged up to `maxSamplesPerSend` samples. Damaged records on the way are skipped and counted.
    private func nextFromDisk() -> EncodedBatch? {
        while let head = segments.first, head.records > 0 {
            guard let fd = readerFor(head) else {
                // Unreadable segment: nothing in it can be delivered.
                report.drop(head.samples, reason: "corrupt", "cannot read a buffer segment; skipped it")
                dropHeadSegment()
                continue
            }
            var offset = readOffset
            var bodies: [[UInt8]] = []
            var records = 0
            var samples = 0
            var timestamp: Int64 = 0
            read: while records < head.records {
                switch recentRecord(segment: head.number, at: offset) ?? Segment.read(fd, at: offset, size: head.size) {
                case .record(let record, let end):
                    if !bodies.isEmpty && samples + record.sampleCount > limits.maxSamplesPerSend { break read }
                    if bodies.isEmpty { timestamp = record.timestampMs }
                    bodies.append(record.body)
                    records += 1
                    samples += record.sampleCount
                    offset = end
                case .damaged(let resume):
                    guard bodies.isEmpty else { break read }
                    skipDamage(from: offset, to: resume)
                    offset = resume
                case .end:
                    break read
                }
            }
            if bodies.isEmpty {
                // The summary promised records the file no longer has: trust the file.
                segments[0].records = 0
                segments[0].samples = 0
                readOffset = offset
                retireDeliveredSegments()
                continue
            }
            inFlight = (head.number, offset, records, samples)
            let body = bodies.count == 1 ? bodies[0] : merger.merge(bodies)
            return EncodedBatch(body: body, sampleCount: samples, timestampMs: timestamp)
        }
        return nil
    }

    private func remember(_ batch: EncodedBatch, segment: UInt64, offset: Int64) {
        recent.append((segment, offset, batch))
        recentBytes += batch.body.count
        while recentBytes > Self.recentCapacityBytes, !recent.isEmpty { forgetOldestRecent() }
    }

    private func forgetOldestRecent() {
        recentBytes -= recent.removeFirst().batch.body.count
    }

    /// The record at `offset` of a segment if it is among the recent ones. Forgets those before
    /// it, which were delivered or dropped.
    private func recentRecord(segment: UInt64, at offset: Int64) -> Segment.Read? {
        while let oldest = recent.first, (oldest.segment, oldest.offset) < (segment, offset) { forgetOldestRecent() }
        guard let found = recent.first, found.segment == segment, found.offset == offset else { return nil }
        let record = Record(timestampMs: found.batch.timestampMs, sampleCount: found.batch.sampleCount, body: found.batch.body)
        return .record(record, end: offset + Int64(Record.headerSize + record.body.count))
    }

    /// What the header of the record at `offset` of `segment` says: from the recent batches when
    /// it is one, so that no read is needed while the endpoint keeps up, else from disk.
    private func header(of segment: Segment, at offset: Int64) -> (timestampMs: Int64, sampleCount: Int, length: Int)? {
        if let cached = recent.first(where: { $0.segment == segment.number && $0.offset == offset }) {
            return (cached.batch.timestampMs, cached.batch.sampleCount, cached.batch.body.count)
        }
        guard let fd = readerFor(segment), let header = Segment.header(fd, at: offset, size: segment.size) else { return nil }
        return (header.timestampMs, header.sampleCount, header.length)
    }

    private func skipDamage(from offset: Int64, to resume: Int64) {
        report.metrics.corruptRecord(endpoint: report.endpoint)
        report.logger.warning(
            "damaged record in the disk buffer; skipped it and kept the rest",
            metadata: ["buffer.segment": "\(segments[0].path)", "buffer.offset": "\(offset)", "buffer.skipped_bytes": "\(resume - offset)"])
        readOffset = resume
        persistCursor()
    }

    private func readerFor(_ segment: Segment) -> FileDescriptor? {
        if let reader, reader.number == segment.number { return reader.fd }
        try? reader?.fd.close()
        reader = nil
        guard let fd = try? FileDescriptor.open(segment.path, .readOnly, options: [.closeOnExec]) else { return nil }
        reader = (segment.number, fd)
        return fd
    }

    /// Removes head segments that hold nothing more to deliver and are no longer written to.
    private func retireDeliveredSegments() {
        while segments.count > 1, segments[0].records <= 0 { dropHeadSegment() }
    }

    private func dropHeadSegment() {
        let head = segments.removeFirst()
        if reader?.number == head.number {
            try? reader?.fd.close()
            reader = nil
        }
        try? FileManager.default.removeItem(atPath: head.path)
        readOffset = 0
    }

    /// Drops what is older than `maxAge`: whole segments whose newest record is too old, and
    /// records at the head of the first remaining one.
    private func expire(now: Date) {
        let cutoff = Int64((now.timeIntervalSince1970 * 1000).rounded(.down)) - limits.maxAge.milliseconds
        retireDeliveredSegments()
        while let head = segments.first, head.records > 0, let newest = head.newestMs, newest < cutoff,
            inFlight?.segment != head.number
        {
            report.drop(head.samples, reason: "too_old", "buffered samples older than max_age; dropped them")
            if segments.count > 1 {
                dropHeadSegment()
                retireDeliveredSegments()
            } else {
                segments[0].records = 0
                segments[0].samples = 0
                readOffset = head.size
                persistCursor()
            }
        }
        guard inFlight == nil, let head = segments.first, head.records > 0 else { return }
        var tooOld = 0
        while segments[0].records > 0, let header = header(of: head, at: readOffset), header.timestampMs < cutoff {
            tooOld += header.sampleCount
            segments[0].records -= 1
            segments[0].samples -= header.sampleCount
            readOffset += Int64(Record.headerSize + header.length)
        }
        if tooOld > 0 {
            report.drop(tooOld, reason: "too_old", "buffered samples older than max_age; dropped them")
            persistCursor()
        }
    }

    // MARK: Cursor, lock, recovery

    private static let cursorName = "cursor"

    /// "<segment number> <offset>", both fixed-width, so that each update is one write of the same
    /// 42 bytes in place: kill -9 cannot tear it, and it costs no rename or fsync per request. It
    /// needs no fsync: a cursor that is behind, or unreadable after a power loss, only replays
    /// what was delivered (duplicates the receiver ignores), never loses a sample.
    private func persistCursor() {
        let text = Segment.twentyDigits(segments.first?.number ?? 0) + " " + Segment.twentyDigits(readOffset) + "\n"
        do {
            try cursor.writeAll(toAbsoluteOffset: 0, Array(text.utf8))
        } catch {
            report.logger.debug("cannot write the buffer cursor", metadata: ["error": "\(error)"])
        }
    }

    private static func readCursor(_ directory: String) -> (segment: UInt64, offset: Int64)? {
        guard let text = try? String(contentsOfFile: directory + "/" + cursorName, encoding: .utf8) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, let segment = UInt64(fields[0]), let offset = Int64(fields[1]) else { return nil }
        return (segment, offset)
    }

    /// Scans the segments from the cursor: builds their summaries, counts damaged records, and
    /// cuts a torn tail off the last segment so that appends continue on a clean end.
    private static func recover(
        _ found: [Segment], cursor: (segment: UInt64, offset: Int64)?, report: DropReport
    ) throws -> (Int64, [Segment]) {
        var segments = found.filter { cursor == nil || $0.number >= cursor!.segment }
        for segment in found where !segments.contains(where: { $0.number == segment.number }) {
            try? FileManager.default.removeItem(atPath: segment.path)  // delivered before the restart
        }
        var readOffset: Int64 = 0
        var damaged = 0
        var tornTail = false
        for index in segments.indices {
            let fd = try FileDescriptor.open(segments[index].path, .readWrite, options: [.closeOnExec])
            defer { try? fd.close() }
            var offset = index == 0 && cursor?.segment == segments[index].number ? min(cursor!.offset, segments[index].size) : 0
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
            if index == segments.count - 1 && lastGoodEnd < segments[index].size {
                try fd.resize(to: lastGoodEnd)
                segments[index].size = lastGoodEnd
                tornTail = true
            }
        }
        // Damage in the middle is counted when the reader skips it; a torn tail is cut off here.
        if tornTail { report.metrics.corruptRecord(endpoint: report.endpoint) }
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
        return (readOffset, segments)
    }

    private static func takeLock(_ directory: String) throws -> FileDescriptor {
        let path = directory + "/lock"
        let fd = try FileDescriptor.open(path, .readWrite, options: [.create, .closeOnExec], permissions: [.ownerReadWrite])
        guard flock(fd.rawValue, LOCK_EX | LOCK_NB) == 0 else {
            let owner = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            try? fd.close()
            throw LockedError(directory: directory, owner: owner.map { "pid \($0)" } ?? "unknown pid")
        }
        _ = try? fd.resize(to: 0)
        _ = try? fd.writeAll(toAbsoluteOffset: 0, Array("\(getpid())\n".utf8))
        return fd
    }

    /// Buffer size, pending samples and the oldest pending timestamp, for the self-metrics.
    private func publish() {
        let bytes = segments.reduce(Int64(0)) { $0 + $1.size } + Int64(memoryTail.bytes)
        var oldest: Int64? = memoryTail.oldestTimestampMs
        if let head = segments.first(where: { $0.records > 0 }),
            let header = header(of: head, at: head.number == segments[0].number ? readOffset : 0)
        {
            oldest = header.timestampMs
        }
        report.metrics.buffer(
            endpoint: report.endpoint, bytes: bytes, samples: pendingSamplesLocked, oldestMs: pendingSamplesLocked > 0 ? oldest : nil)
    }
}
