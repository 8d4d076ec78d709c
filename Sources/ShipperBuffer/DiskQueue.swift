import Foundation
import Logging
import SystemPackage
import ShipperCollect

/// One endpoint's crash-safe buffer: every batch is appended to a segment file before it is
/// sent, and a cursor file records how far delivery got. After a restart, or kill -9, delivery
/// resumes at the cursor: what was written is replayed, what was acknowledged is not resent
/// (only the batch in flight at the kill may be).
///
/// Bounded by `maxSize` and `maxAge`: past either, the oldest records go first, counted as
/// `buffer_full` or `too_old`; the age bound holds at send time too, for a batch retried through
/// an outage. Damaged records (torn tail, flipped bits) are detected, counted with their samples
/// where their header is readable, logged and skipped; everything else is kept. Bodies are never
/// read here: a body the sender cannot read is counted as corrupt there. Memory stays flat however
/// long the endpoint is down: the queue keeps one summary per segment, never one per record. Files are opened only through `BufferDirectory`, never through
/// a symlink.
///
/// If the disk fails mid-run (full, read-only, I/O errors), batches wait in a bounded memory tail
/// behind the records already on disk, so order is kept and live sends go on.
package final class DiskQueue: BatchQueue, @unchecked Sendable {
    package struct Limits: Sendable, Equatable {
        package var maxSize: UInt64
        package var maxAge: Duration
        /// fsync once after each cycle's appends (true), or leave it to the kernel: both survive
        /// kill -9, only fsync survives power loss.
        package var fsync: Bool

        package init(maxSize: UInt64, maxAge: Duration, fsync: Bool) {
            self.maxSize = maxSize
            self.maxAge = maxAge
            self.fsync = fsync
        }
    }

    /// The endpoint directory's path, for messages.
    package let path: String
    private let directory: BufferDirectory
    // `limits` and `segmentSize` are guarded by `monitor` (a reload changes them).
    private var limits: Limits
    /// An eighth of `maxSize`, from 64 KiB to 16 MiB: only whole segments are deleted.
    private var segmentSize: Int64
    private let report: DropReport
    /// The wall clock `maxAge` is measured against; tests set it.
    private let now: @Sendable () -> Date
    private let monitor = QueueMonitor()
    private let lock: FileDescriptor
    private let cursor: BufferCursor

    // Everything below is guarded by `monitor`.
    /// Segments with undelivered records or still being written, oldest first. The last one is written to.
    private var segments: [Segment]
    private var writer: FileDescriptor?
    private var reader: (number: UInt64, fd: FileDescriptor)?
    /// Where the next undelivered record of `segments[0]` starts.
    private var readOffset: Int64
    /// What `first` handed out: where delivery will have got to once it is acknowledged.
    private var inFlight: (segment: UInt64, end: Int64, records: Int, samples: Int, oldestMs: Int64)?
    /// The size bound dropped the segment holding the batch in flight: its samples are counted as
    /// dropped unless it is delivered after all.
    private var inFlightDropped = false
    /// Closed for good by `release` or `handOver`: the directory and its lock are let go.
    private var released = false
    private var memoryTail: BoundedBatches
    /// The batches appended last, as they were written: while the endpoint keeps up, `first`
    /// hands these out instead of reading the records back from disk and checking their CRCs.
    /// Bounded by `recentCapacityBytes`; older records are read from disk.
    private var recent: [(segment: UInt64, offset: Int64, batch: Batch)] = []
    private var recentBytes = 0
    private static let recentCapacityBytes = 4 << 20
    private var inFlightFromMemory = false
    private var diskErrorLog = LogLimit()
    private var backlogLogged = false

    /// Opens the endpoint's directory (see `BufferDirectory`), takes its lock, and scans what a
    /// previous run left. Throws `BufferDirectory.Failure` or `BufferLock.Taken`.
    package init(directory path: String, limits: Limits, report: DropReport, now: @escaping @Sendable () -> Date = Date.init) throws {
        self.path = path
        self.limits = limits
        self.report = report
        self.now = now
        segmentSize = Self.segmentSize(for: limits)
        memoryTail = BoundedBatches(capacityBytes: 64 << 20)
        directory = try BufferDirectory(path: path)
        do {
            lock = try BufferLock.take(in: directory)
        } catch let taken as BufferLock.Taken {
            throw taken
        } catch {
            throw BufferDirectory.Failure(path: path, problem: "cannot open its lock file: \(error)")
        }
        do {
            cursor = try BufferCursor(in: directory)
            let recovered = try SegmentRecovery(try Segment.list(in: directory), cursor: cursor, directory: directory, report: report)
            segments = recovered.segments
            readOffset = recovered.readOffset
        } catch {
            // A plain descriptor: nothing else would release the lock of a queue that never opened.
            try? lock.close()
            if let failure = error as? BufferDirectory.Failure { throw failure }
            throw BufferDirectory.Failure(path: path, problem: "cannot open what a previous run left: \(error)")
        }
        expire(now: now())
        trimToMaxSize()
        persistCursor()
        publish()
    }

    private static func segmentSize(for limits: Limits) -> Int64 {
        Int64(min(max(limits.maxSize / 8, 64 << 10), 16 << 20))
    }

    deinit {
        if !released {
            try? writer?.close()
            try? reader?.fd.close()
            try? lock.close()
        }
    }

    // MARK: BatchQueue

    package func append(_ batches: [Batch]) {
        monitor.withLock {
            defer { monitor.wake() }
            guard !released else { return }
            expire(now: now())
            var written = false
            for batch in batches {
                if memoryTail.isEmpty && appendToDisk(batch) {
                    written = true
                    continue
                }
                // Behind the disk's records, in order, until the disk takes writes again.
                let dropped = memoryTail.append(batch)
                report.drop(dropped, reason: "buffer_full", "disk buffer unusable and memory tail full; dropping the oldest samples")
            }
            // One fsync per cycle, not per request.
            if written && limits.fsync, let writer {
                do { try writer.sync() } catch { diskFailed(error) }
            }
            publish()
        }
    }

    package func first(untilEmpty: Bool, maxSamples: Int) -> [Batch]? {
        monitor.withLock {
            while !released {
                expire(now: now())
                if let batches = nextFromDisk(maxSamples: maxSamples) { return batches }
                if let batch = memoryTail.first {
                    inFlightFromMemory = true
                    return [batch]
                }
                if backlogLogged {
                    backlogLogged = false
                    report.logger.info("buffer backlog drained")
                }
                if untilEmpty { return nil }
                guard monitor.wait(while: { pendingRecordsOnDisk == 0 && memoryTail.isEmpty }) else { return nil }
            }
            return nil
        }
    }

    package func removeFirst() {
        monitor.withLock {
            if released {
                return
            } else if inFlightFromMemory {
                memoryTail.removeFirst()
                inFlightFromMemory = false
            } else if inFlightDropped {
                inFlightDropped = false
            } else if let done = inFlight, let head = segments.first, head.number == done.segment {
                segments[0].records -= done.records
                segments[0].samples -= done.samples
                readOffset = done.end
                retireDrainedWriter()
                retireDeliveredSegments()
                persistCursor()
            }
            inFlight = nil
            publish()
        }
    }

    package func dropFirstIfStale() -> Bool {
        monitor.withLock {
            if released { return true }
            if inFlightDropped, let dropped = inFlight {
                report.drop(dropped.samples, reason: "buffer_full", "disk buffer full; dropped the oldest samples")
                inFlight = nil
                inFlightDropped = false
                return true
            }
            let oldest = inFlightFromMemory ? memoryTail.first?.timestampMs : inFlight?.oldestMs
            guard let oldest, oldest < cutoffMs(now: now()) else { return false }
            // Given back: the next `first` drops what is too old and hands out the rest.
            inFlight = nil
            inFlightFromMemory = false
            return true
        }
    }

    package func sleep(for duration: Duration) -> Bool {
        monitor.withLock {
            // A retry while records wait means the endpoint is down: say once that buffering started.
            if !backlogLogged && pendingRecordsOnDisk > 1 {
                backlogLogged = true
                report.logger.warning(
                    "endpoint not accepting samples; buffering to disk",
                    metadata: ["buffer.dir": "\(path)", "buffer.samples": "\(pendingSamplesLocked)"])
            }
        }
        return monitor.sleep(for: duration)
    }

    package func close() { monitor.close() }

    package var isClosed: Bool { monitor.isClosed }

    package func release() {
        monitor.withLock { releaseLocked() }
        monitor.close()
    }

    /// Copies every record not yet delivered, the batch in flight included, to `target` in
    /// order, then releases this queue. Records go as they were written (no decoding), a few
    /// megabytes per append.
    package func handOver(to target: any BatchQueue) {
        monitor.withLock {
            var chunk: [Batch] = []
            var chunkBytes = 0
            func flush() {
                target.append(chunk)
                chunk.removeAll()
                chunkBytes = 0
            }
            for index in segments.indices where segments[index].records > 0 {
                guard let fd = readerFor(segments[index]) else {
                    report.drop(segments[index].samples, reason: "corrupt", "cannot read a buffer segment; skipped it")
                    continue
                }
                var offset = index == 0 ? readOffset : 0
                scan: while true {
                    switch Segment.read(fd, at: offset, size: segments[index].size) {
                    case .record(let record, let end):
                        chunk.append(record.batch)
                        chunkBytes += record.body.count
                        if chunkBytes >= 4 << 20 { flush() }
                        offset = end
                    case .damaged(let resume):
                        report.corrupt(samples: Segment.samplesPromised(fd, from: offset, to: resume))
                        offset = resume
                    case .end:
                        break scan
                    }
                }
            }
            chunk += memoryTail.all
            flush()
            for segment in segments.dropLast() { directory.remove(segment.name) }
            if let last = segments.last {
                segments = [Segment(number: last.number, size: last.size)]
                readOffset = last.size
            }
            memoryTail = BoundedBatches(capacityBytes: memoryTail.capacityBytes)
            persistCursor()
            releaseLocked()
        }
        monitor.close()
    }

    /// Lets go of the files and the lock; what is undelivered stays on disk for whoever opens the
    /// directory next.
    private func releaseLocked() {
        guard !released else { return }
        released = true
        try? writer?.close()
        writer = nil
        try? reader?.fd.close()
        reader = nil
        try? lock.close()
        recent.removeAll()
        recentBytes = 0
        inFlight = nil
    }

    /// A reload's new bounds: a lower `max_size` applies at once.
    package func update(limits: Limits) {
        monitor.withLock {
            guard !released, limits != self.limits else { return }
            self.limits = limits
            segmentSize = Self.segmentSize(for: limits)
            expire(now: now())
            trimToMaxSize()
            persistCursor()
            publish()
        }
    }

    /// Where the undelivered data is, for the line a removed endpoint gets.
    package var summary: (samples: Int, bytes: Int64) {
        monitor.withLock { (pendingSamplesLocked, bytesOnDisk) }
    }

    package var pendingSamples: Int { monitor.withLock { pendingSamplesLocked } }

    // MARK: Writing

    private var pendingRecordsOnDisk: Int { segments.reduce(0) { $0 + $1.records } }
    private var bytesOnDisk: Int64 { segments.reduce(0) { $0 + $1.size } }
    private var pendingSamplesLocked: Int { segments.reduce(0) { $0 + $1.samples } + memoryTail.samples }

    /// False when the disk refused the write (logged at most once a minute).
    private func appendToDisk(_ batch: Batch) -> Bool {
        let record = Record(batch)
        do {
            if let last = segments.last, last.size > 0, last.size + Int64(record.size) > segmentSize {
                try rollOver()
            }
            makeRoom(for: Int64(record.size))
            let fd = try openWriter()
            let before = segments[segments.count - 1].size
            do {
                // Header and body apart: a frame of megabytes is not copied to be written.
                try fd.writeAll(toAbsoluteOffset: before, record.header)
                try fd.writeAll(toAbsoluteOffset: before + Int64(Record.headerSize), record.body)
            } catch {
                // Leave no partial record behind for the next append to bury.
                _ = try? fd.resize(to: before)
                throw error
            }
            segments[segments.count - 1].size += Int64(record.size)
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
        if diskErrorLog.allows() {
            report.logger.error(
                "cannot write to the disk buffer; keeping batches in memory until it recovers",
                metadata: ["buffer.dir": "\(path)", "error": "\(error)"])
        }
        try? writer?.close()
        writer = nil
    }

    private func openWriter() throws -> FileDescriptor {
        if let writer { return writer }
        let fd = try directory.open(segments[segments.count - 1].name, .writeOnly, create: true)
        writer = fd
        return fd
    }

    /// Starts the next segment; `sync` makes what was written to the last one durable first.
    private func rollOver(sync: Bool = true) throws {
        if let writer {
            if sync && limits.fsync { try writer.sync() }
            try writer.close()
        }
        writer = nil
        segments.append(Segment(number: (segments.last?.number ?? 0) + 1))
    }

    /// A segment that is both written to and fully delivered is replaced by a new one once it
    /// holds a megabyte (or a quarter segment), so delivered data never sits on a small disk
    /// waiting for its segment to fill.
    private func retireDrainedWriter() {
        guard segments.count == 1, segments[0].records <= 0, segments[0].size >= min(segmentSize / 4, 1 << 20) else { return }
        // Everything in it was delivered: no fsync is owed.
        do { try rollOver(sync: false) } catch { diskFailed(error) }
    }

    /// Drops whole oldest segments until `incoming` more bytes fit within `maxSize`; only the
    /// segment being written is kept, so the bound holds to within a segment (an eighth of
    /// `maxSize`). The segment holding the batch in flight goes too: during an outage it always
    /// holds one, and the bound matters most then. That batch's samples count as dropped when the
    /// sender gives it up (`dropFirstIfStale`), not if it is delivered after all.
    private func makeRoom(for incoming: Int64) {
        var total = bytesOnDisk + incoming
        while total > Int64(limits.maxSize), segments.count > 1 {
            total -= segments[0].size
            var samples = segments[0].samples
            if !inFlightFromMemory, let inFlight, inFlight.segment == segments[0].number, !inFlightDropped {
                samples -= inFlight.samples
                inFlightDropped = true
            }
            report.drop(samples, reason: "buffer_full", "disk buffer full; dropped the oldest samples")
            dropHeadSegment()
        }
    }

    /// At start and after a reload lowered `max_size`: what a previous run or config left beyond
    /// the bound goes, oldest first. The segment last written to is closed first, so it can go too.
    private func trimToMaxSize() {
        guard bytesOnDisk > Int64(limits.maxSize) else { return }
        do { try rollOver(sync: false) } catch { diskFailed(error) }
        makeRoom(for: 0)
        retireDeliveredSegments()
    }

    // MARK: Reading

    /// The next records of the head segment, as many as hold at most `maxSamples` samples (at
    /// least one), as they were written: their bodies are the sender's to read. Damaged records
    /// on the way are skipped and counted.
    private func nextFromDisk(maxSamples: Int) -> [Batch]? {
        while let head = segments.first, head.records > 0 {
            guard let fd = readerFor(head) else {
                // Unreadable segment: nothing in it can be delivered.
                report.drop(head.samples, reason: "corrupt", "cannot read a buffer segment; skipped it")
                dropHeadSegment()
                continue
            }
            var offset = readOffset
            var batches: [Batch] = []
            var samples = 0
            read: while batches.count < head.records {
                switch recentRecord(segment: head.number, at: offset) ?? Segment.read(fd, at: offset, size: head.size) {
                case .record(let record, let end):
                    if !batches.isEmpty && samples + record.sampleCount > maxSamples { break read }
                    batches.append(record.batch)
                    samples += record.sampleCount
                    offset = end
                case .damaged(let resume):
                    guard batches.isEmpty else { break read }
                    skip(from: offset, to: resume, samples: Segment.samplesPromised(fd, from: offset, to: resume))
                    offset = resume
                case .end:
                    break read
                }
            }
            if batches.isEmpty {
                // The summary promised records the file no longer has: trust the file.
                segments[0].records = 0
                segments[0].samples = 0
                readOffset = offset
                retireDeliveredSegments()
                continue
            }
            inFlight = (head.number, offset, batches.count, samples, batches[0].timestampMs)
            return batches
        }
        return nil
    }

    private func remember(_ batch: Batch, segment: UInt64, offset: Int64) {
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
        let record = Record(found.batch)
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

    /// Skips damaged bytes of the head segment: counted as a corrupt record with the samples its
    /// header promised, logged, and the cursor moved past them.
    private func skip(from offset: Int64, to resume: Int64, samples: Int) {
        report.corrupt(samples: samples)
        report.logger.warning(
            "damaged record in the disk buffer; skipped it and kept the rest",
            metadata: ["buffer.segment": "\(path)/\(segments[0].name)", "buffer.offset": "\(offset)",
                       "buffer.skipped_bytes": "\(resume - offset)", "buffer.skipped_samples": "\(samples)"])
        readOffset = resume
        persistCursor()
    }

    private func readerFor(_ segment: Segment) -> FileDescriptor? {
        if let reader, reader.number == segment.number { return reader.fd }
        try? reader?.fd.close()
        reader = nil
        guard let fd = try? directory.open(segment.name, .readOnly) else { return nil }
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
        directory.remove(head.name)
        readOffset = 0
    }

    // MARK: Age

    private func cutoffMs(now: Date) -> Int64 {
        now.milliseconds - limits.maxAge.milliseconds
    }

    /// Drops what is older than `maxAge` and not in flight: whole segments whose newest record is
    /// too old, records at the head of the first remaining one, and batches of the memory tail.
    private func expire(now: Date) {
        let cutoff = cutoffMs(now: now)
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
        if !inFlightFromMemory {
            report.drop(memoryTail.removeOlder(than: cutoff), reason: "too_old", "buffered samples older than max_age; dropped them")
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

    // MARK: Cursor and metrics

    private func persistCursor() {
        guard !released else { return }
        do {
            try cursor.write(BufferCursor.Position(segment: segments.first?.number ?? 0, offset: readOffset))
        } catch {
            report.logger.debug("cannot write the buffer cursor", metadata: ["error": "\(error)"])
        }
    }

    /// Buffer size, pending samples and the oldest pending timestamp, for the self-metrics.
    private func publish() {
        let bytes = bytesOnDisk + Int64(memoryTail.bytes)
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
