import Foundation
import SystemPackage
import Testing

@testable import ShipperMetrics
@testable import ShipperCollect
@testable import ShipperSend
@testable import ShipperEncode
@testable import ShipperBuffer
@testable import ShipperConfig
@testable import ShipperRun

/// The disk buffer on real files: order, restarts, damage, bounds, locking.
struct DiskQueueTests {
    /// A fresh buffer directory with the endpoint directory `e` in it, and what the queue reports through.
    final class Fixture {
        let base = Scratch.path("diskqueue").path
        var directory: String { base + "/e" }
        let metrics = SelfMetrics(endpoints: ["e"])
        let log = CapturedLog()
        var report: DropReport { DropReport(endpoint: "e", metrics: metrics, logger: log.logger) }

        deinit { try? FileManager.default.removeItem(atPath: base) }

        /// The queue's clock: the time now, unless a test sets it.
        let clock = Mutex2<Date?>(nil)

        func open(maxSize: UInt64 = 1 << 30, maxAge: Duration = .seconds(86400)) throws -> DiskQueue {
            try DiskQueue(
                directory: directory, limits: .init(maxSize: maxSize, maxAge: maxAge, fsync: false),
                report: report, now: { [clock] in clock.get() ?? Date() })
        }

        func dropped(_ reason: String) -> Double? {
            metrics.samples().first { $0.metric == .samplesDropped && $0.labels["reason"] == reason }?.value
        }

        var segmentFiles: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("segment-") }.sorted()
        }
    }

    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    /// A real request body with one sample whose value is `value`.
    static func batch(_ value: Double, at timestampMs: Int64 = now, samples: Int = 1) -> Batch {
        let body = RemoteWriteEncoder().encode(
            (0..<samples).map { Sample(.mapEntries, LabelSet(["map_id": "\($0)"]), value) }, timestampMs: timestampMs,
            externalLabels: LabelSet())
        return Batch(body: body, sampleCount: samples, timestampMs: timestampMs, format: .remoteWriteV1)
    }

    /// Takes everything from the queue, acknowledging each batch; the first sample value of each.
    static func drain(_ queue: DiskQueue) -> [Double] {
        var values: [Double] = []
        while let batch = queue.first(untilEmpty: true) {
            values += DecodedWriteRequest(body: batch.body)?.series.compactMap(\.samples.first?.value) ?? []
            queue.removeFirst()
        }
        return values
    }

    @Test func directoryIsPrivate() throws {
        let fixture = Fixture()
        _ = try fixture.open()
        let mode = try FileManager.default.attributesOfItem(atPath: fixture.directory)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o700)
    }

    @Test func deliversInOrderAndResumesAfterARestartWithoutResending() throws {
        let fixture = Fixture()
        do {
            let queue = try fixture.open()
            for value in 1...5 { queue.append(Self.batch(Double(value))) }
            // Two delivered and acknowledged, a third in flight when the process dies.
            for _ in 0..<2 {
                _ = queue.first(untilEmpty: true)
                queue.removeFirst()
            }
            _ = queue.first(untilEmpty: true)
        }
        let reopened = try fixture.open()
        #expect(reopened.pendingSamples == 3)
        #expect(Self.drain(reopened) == [3, 4, 5])
        #expect(fixture.log.count("replaying the disk buffer left by a previous run") == 1)
    }

    @Test func theCursorIsOneFixedWidthLineAndAnUnreadableOneReplaysEverything() throws {
        let fixture = Fixture()
        do {
            let queue = try fixture.open()
            queue.append((1...4).map { Self.batch(Double($0)) })
            for _ in 0..<3 {
                _ = queue.first(untilEmpty: true)
                queue.removeFirst()
            }
            let cursor = try String(contentsOfFile: fixture.directory + "/cursor", encoding: .utf8)
            let record = Self.batch(1).body.count + Record.headerSize
            #expect(cursor == "00000000000000000001 " + String(format: "%020d", 3 * record) + "\n")
        }
        #expect(Self.drain(try fixture.open()) == [4])

        // A cursor that cannot be read costs duplicates, never samples.
        let again = Fixture()
        do {
            let queue = try again.open()
            queue.append((1...3).map { Self.batch(Double($0)) })
            _ = queue.first(untilEmpty: true)
            queue.removeFirst()
        }
        try Array("garbage".utf8).withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: again.directory + "/cursor")) }
        #expect(Self.drain(try again.open()) == [1, 2, 3])
    }

    /// The queue hands out as many records as fit `maxSamples`, as they were written, and takes
    /// them all back at once.
    @Test func replayHandsOutRecordsUpToMaxSamplesUnread() throws {
        let fixture = Fixture()
        let queue = try fixture.open()
        for index in 0..<10 { queue.append(Self.batch(Double(index), at: Self.now + Int64(index) * 1000, samples: 2)) }
        let first = try #require(queue.first(untilEmpty: true, maxSamples: 6))
        #expect(first == (0..<3).map { Self.batch(Double($0), at: Self.now + Int64($0) * 1000, samples: 2) })
        queue.removeFirst()
        #expect(queue.pendingSamples == 14)
        // A record larger than the bound still goes, alone.
        #expect(queue.first(untilEmpty: true, maxSamples: 1)?.map(\.sampleCount) == [2])
    }

    /// Records keep the format their writer gave them, across a restart: the buffer never reads a body.
    @Test func recordsKeepTheirFormatAcrossARestart() throws {
        let fixture = Fixture()
        let formats = [BodyFormat.remoteWriteV1, .frame, .remoteWriteV2, BodyFormat(rawValue: 3)]
        let batches = formats.enumerated().map { index, format in
            Batch(body: Array("body \(index)".utf8), sampleCount: index + 1, timestampMs: Self.now + Int64(index), format: format)
        }
        do { try fixture.open().append(batches) }
        let queue = try fixture.open()
        #expect(queue.first(untilEmpty: true, maxSamples: 100) == batches)
    }

    @Test func damagedRecordsAreCountedSkippedAndTheRestKept() throws {
        let fixture = Fixture()
        var offsets: [Int64] = []
        do {
            let queue = try fixture.open()
            for value in 1...6 {
                queue.append(Self.batch(Double(value)))
                offsets.append(try FileManager.default.attributesOfItem(atPath: fixture.directory + "/" + fixture.segmentFiles[0])[.size] as! Int64)
            }
        }
        let path = fixture.directory + "/" + fixture.segmentFiles[0]
        let fd = try FileDescriptor.open(path, .readWrite)
        // A flipped bit inside the third record's body, and the sixth record cut in half (a torn write).
        let third = offsets[1] + Int64(Record.headerSize) + 3
        var byte = try fd.readBytes(count: 1, at: third)
        byte[0] ^= 0x40
        _ = try fd.writeAll(toAbsoluteOffset: third, byte)
        try fd.resize(to: offsets[4] + (offsets[5] - offsets[4]) / 2)
        try fd.close()

        let queue = try fixture.open()
        #expect(Self.drain(queue) == [1, 2, 4, 5])
        let corrupt = fixture.metrics.samples().first { $0.metric == .bufferCorrupt }?.value
        #expect(corrupt == 2)
        // Both headers were still readable: one sample each.
        #expect(fixture.dropped("corrupt") == 2)
        // The torn tail was cut off: new records follow the last good one and are delivered.
        queue.append(Self.batch(7))
        #expect(Self.drain(queue) == [7])
    }

    /// Writes `records` batches valued 1, 2, ... and acknowledges `delivered` of them; the record size.
    static func written(_ fixture: Fixture, records: Int, delivered: Int) throws -> Int64 {
        let queue = try fixture.open()
        queue.append((1...records).map { batch(Double($0)) })
        for _ in 0..<delivered {
            _ = queue.first(untilEmpty: true)
            queue.removeFirst()
        }
        return Int64(batch(1).body.count + Record.headerSize)
    }

    func writeCursor(_ fixture: Fixture, segment: UInt64, offset: Int64) throws {
        let line = Segment.twentyDigits(segment) + " " + Segment.twentyDigits(offset) + "\n"
        try line.write(toFile: fixture.directory + "/cursor", atomically: false, encoding: .utf8)
    }

    /// A cursor past the end of its segment once skipped the whole buffer without a word.
    @Test func anImpossibleCursorReplaysItsSegmentFromTheStart() throws {
        let message = "the buffer cursor points past the end of its segment or inside a record; replaying that segment from its start"
        // Past the end of the 24 records, and inside the second one.
        for pastEnd in [true, false] {
            let fixture = Fixture()
            let record = try Self.written(fixture, records: 24, delivered: 2)
            try writeCursor(fixture, segment: 1, offset: pastEnd ? 24 * record + 5 : record + 7)
            #expect(Self.drain(try fixture.open()) == (1...24).map(Double.init))
            #expect(fixture.log.count(message) == 1)
        }
        // At a record boundary it is believed, and at the end too: nothing left.
        let fixture = Fixture()
        let record = try Self.written(fixture, records: 4, delivered: 0)
        try writeCursor(fixture, segment: 1, offset: 3 * record)
        #expect(Self.drain(try fixture.open()) == [4])
        try writeCursor(fixture, segment: 1, offset: 4 * record)
        #expect(Self.drain(try fixture.open()) == [])
        #expect(fixture.log.count(message) == 0)
    }

    @Test func aCursorNamingASegmentNewerThanAnyReplaysEverything() throws {
        let fixture = Fixture()
        _ = try Self.written(fixture, records: 3, delivered: 1)
        try writeCursor(fixture, segment: 99, offset: 0)
        #expect(Self.drain(try fixture.open()) == [1, 2, 3])
        #expect(fixture.log.count("the buffer cursor names a segment newer than any on disk; replaying every segment from the start") == 1)
        #expect(fixture.segmentFiles.count == 1)
    }

    /// A batch in flight through an outage longer than max_age once reached the receiver anyway.
    @Test func maxAgeHoldsForTheBatchInFlight() throws {
        let fixture = Fixture()
        let start = Date()
        fixture.clock.set(start)
        let queue = try fixture.open(maxAge: .seconds(1))
        let old = Int64(start.timeIntervalSince1970 * 1000) - 700
        queue.append(Self.batch(1, at: old, samples: 2))
        _ = try #require(queue.first(untilEmpty: true))
        #expect(!queue.dropFirstIfStale())
        fixture.clock.set(start + 0.5)
        queue.append(Self.batch(2, at: old + 1200))
        #expect(queue.dropFirstIfStale())
        #expect(Self.drain(queue) == [2])
        #expect(fixture.dropped("too_old") == 2)
    }

    /// On a small disk a segment that is written to and fully delivered does not wait to fill.
    @Test func deliveredDataLeavesTheDiskPromptly() throws {
        let fixture = Fixture()
        let queue = try fixture.open()
        for index in 0..<300 {
            let body = (0..<8192).map { _ in UInt8.random(in: 0...255) }
            queue.append(Batch(body: body, sampleCount: 1, timestampMs: Self.now + Int64(index), format: .remoteWriteV1))
            _ = queue.first(untilEmpty: true)
            queue.removeFirst()
        }
        let onDisk = try fixture.segmentFiles.reduce(Int64(0)) {
            $0 + (try FileManager.default.attributesOfItem(atPath: fixture.directory + "/" + $1)[.size] as! Int64)
        }
        // 2.4 MiB went through; at most one megabyte and a record of it is still on disk.
        #expect(onDisk < (1 << 20) + 8192 + 24, "\(onDisk) bytes on disk")
        queue.append(Self.batch(9))
        #expect(Self.drain(queue) == [9])
    }

    @Test func maxSizeDropsTheOldestFirstAndCountsThem() throws {
        let fixture = Fixture()
        let queue = try fixture.open(maxSize: 256 << 10)
        // Incompressible 8 KiB bodies: the bound is reached after about 32 of them.
        for index in 0..<200 {
            let body = (0..<8192).map { _ in UInt8.random(in: 0...255) }
            queue.append(Batch(body: body, sampleCount: 1, timestampMs: Self.now + Int64(index), format: .remoteWriteV1))
        }
        let onDisk = try fixture.segmentFiles.reduce(Int64(0)) {
            $0 + (try FileManager.default.attributesOfItem(atPath: fixture.directory + "/" + $1)[.size] as! Int64)
        }
        #expect(onDisk <= 256 << 10)
        let dropped = try #require(fixture.dropped("buffer_full"))
        #expect(dropped > 150)
        #expect(Double(queue.pendingSamples) + dropped == 200)
        // What is left is the newest, still in order.
        var stamps: [Int64] = []
        while let batch = queue.first(untilEmpty: true) {
            stamps.append(batch.timestampMs)
            queue.removeFirst()
        }
        #expect(stamps == Array(stamps.sorted()))
        #expect(stamps.last == Self.now + 199)
        #expect(fixture.log.count("disk buffer full; dropped the oldest samples") >= 1)
    }

    /// Real request bodies of about 8 KiB that snappy cannot shrink (random label values), each
    /// counted as one sample, at `now + index`.
    static func appendRandom(_ queue: DiskQueue, _ indices: Range<Int>) {
        let encoder = RemoteWriteEncoder()
        for index in indices {
            let samples = (0..<64).map { _ in
                Sample(.mapEntries, LabelSet(["map_name": String((0..<96).map { _ in "0123456789abcdef".randomElement()! })]), 1)
            }
            let body = encoder.encode(samples, timestampMs: Self.now + Int64(index), externalLabels: LabelSet())
            queue.append(Batch(body: body, sampleCount: 1, timestampMs: Self.now + Int64(index), format: .remoteWriteV1))
        }
    }

    /// Timestamps of everything left, acknowledging each batch.
    static func drainStamps(_ queue: DiskQueue) -> [Int64] {
        var stamps: [Int64] = []
        while let batch = queue.first(untilEmpty: true) {
            stamps.append(batch.timestampMs)
            queue.removeFirst()
        }
        return stamps
    }

    /// During an outage the batch being retried always sits in the oldest segment: the bound
    /// holds anyway, and that batch counts as dropped once, when the sender gives it up.
    @Test func maxSizeHoldsWhileTheBatchInFlightIsRetried() throws {
        let fixture = Fixture()
        let queue = try fixture.open(maxSize: 1 << 20)
        Self.appendRandom(queue, 0..<1)
        #expect(queue.first(untilEmpty: true)?.timestampMs == Self.now)
        Self.appendRandom(queue, 1..<400)
        let onDisk = try fixture.segmentFiles.reduce(Int64(0)) {
            $0 + (try FileManager.default.attributesOfItem(atPath: fixture.directory + "/" + $1)[.size] as! Int64)
        }
        #expect(onDisk <= 1 << 20, "\(onDisk) bytes on disk")
        let droppedBefore = try #require(fixture.dropped("buffer_full"))
        #expect(queue.dropFirstIfStale())
        #expect(fixture.dropped("buffer_full") == droppedBefore + 1)
        let stamps = Self.drainStamps(queue)
        #expect(Double(stamps.count) + droppedBefore + 1 == 400)
        #expect(stamps == Array(stamps.sorted()) && stamps.last == Self.now + 399)
        #expect(stamps.count == Int(stamps.last! - stamps.first!) + 1, "a hole among the newest: \(stamps)")
    }

    /// A batch delivered after its segment was dropped is not counted as dropped too.
    @Test func aDroppedBatchInFlightThatIsDeliveredCountsOnce() throws {
        let fixture = Fixture()
        let queue = try fixture.open(maxSize: 1 << 20)
        Self.appendRandom(queue, 0..<1)
        _ = queue.first(untilEmpty: true)
        Self.appendRandom(queue, 1..<400)
        queue.removeFirst()
        let dropped = try #require(fixture.dropped("buffer_full"))
        #expect(Double(Self.drainStamps(queue).count) + dropped + 1 == 400)
    }

    /// What a larger bound, or an older version, left is trimmed to the bound when it opens.
    @Test func aBufferBeyondMaxSizeIsTrimmedAtStart() throws {
        let fixture = Fixture()
        // Segments of 1 MiB: whole segments go, so what is left fits within the bound.
        let big = try fixture.open(maxSize: 8 << 20)
        Self.appendRandom(big, 0..<400)
        big.release()
        let queue = try fixture.open(maxSize: 1 << 20)
        let onDisk = try fixture.segmentFiles.reduce(Int64(0)) {
            $0 + (try FileManager.default.attributesOfItem(atPath: fixture.directory + "/" + $1)[.size] as! Int64)
        }
        #expect(onDisk <= 1 << 20, "\(onDisk) bytes on disk")
        let dropped = try #require(fixture.dropped("buffer_full"))
        let stamps = Self.drainStamps(queue)
        #expect(Double(stamps.count) + dropped == 400)
        #expect(stamps.last == Self.now + 399 && stamps.count == Int(stamps.last! - stamps.first!) + 1)
    }

    /// A reload that lowers max_size applies it at once.
    @Test func aLowerMaxSizeAppliesAtOnce() throws {
        let fixture = Fixture()
        let queue = try fixture.open(maxSize: 8 << 20)
        Self.appendRandom(queue, 0..<400)
        queue.update(limits: .init(maxSize: 1 << 20, maxAge: .seconds(86400), fsync: false))
        #expect(queue.summary.bytes <= 1 << 20)
        let dropped = try #require(fixture.dropped("buffer_full"))
        #expect(Double(Self.drainStamps(queue).count) + dropped == 400)
    }

    /// A moved endpoint: every undelivered record, the one in flight first, reaches the new queue
    /// in order; the old directory is let go of and holds nothing to deliver.
    @Test func handOverMovesEverythingInOrderAndLetsGo() throws {
        let fixture = Fixture()
        let old = try fixture.open()
        for value in 1...5 { old.append(Self.batch(Double(value), at: Self.now + Int64(value))) }
        #expect(old.first(untilEmpty: true)?.timestampMs == Self.now + 1)
        old.removeFirst()
        #expect(old.first(untilEmpty: true)?.timestampMs == Self.now + 2)
        let target = Fixture()
        let new = try target.open()
        new.append(Self.batch(0, at: Self.now))
        old.handOver(to: new)
        old.removeFirst()  // the old sender's request in flight ends after the move: nothing changes
        #expect(old.first(untilEmpty: true) == nil)
        #expect(Self.drain(new) == [0, 2, 3, 4, 5])
        let reopened = try fixture.open()
        #expect(reopened.pendingSamples == 0)
    }

    /// A removed endpoint: its data stays on disk, and an endpoint of that name finds it.
    @Test func releaseLeavesTheDataForTheNextOpen() throws {
        let fixture = Fixture()
        let queue = try fixture.open()
        for value in 1...3 { queue.append(Self.batch(Double(value))) }
        _ = queue.first(untilEmpty: true)
        queue.release()
        queue.removeFirst()
        #expect(queue.first(untilEmpty: true) == nil)
        #expect(Self.drain(try fixture.open()) == [1, 2, 3])
    }

    @Test func maxAgeDropsWhatIsTooOld() throws {
        let fixture = Fixture()
        let queue = try fixture.open(maxAge: .seconds(3600))
        queue.append(Self.batch(1, at: Self.now - 7_200_000, samples: 3))
        queue.append(Self.batch(2, at: Self.now - 60_000))
        #expect(Self.drain(queue) == [2])
        #expect(fixture.dropped("too_old") == 3)
    }

    /// An outage longer than max_age drops every cycle: counted every time, logged once a minute.
    @Test func repeatedDropsAreLoggedOnceAMinute() throws {
        let fixture = Fixture()
        let queue = try fixture.open(maxAge: .seconds(3600))
        for index in 0..<45 {
            queue.append(Self.batch(Double(index), at: Self.now - 7_200_000 + Int64(index)))
            #expect(queue.first(untilEmpty: true) == nil)
        }
        #expect(Self.drain(queue) == [])
        #expect(fixture.dropped("too_old") == 45)
        #expect(fixture.log.count("buffered samples older than max_age; dropped them") == 1)
    }

    /// Off the pool: a lock naming this process is retried for a quarter of a second.
    @Test func aSecondShipperOnTheSameDirectoryIsRefused() async throws {
        let fixture = Fixture()
        let first = try fixture.open()
        let message = try await blocking { () -> String? in
            do {
                _ = try fixture.open()
                return nil
            } catch let error as BufferLock.Taken {
                return "\(error)"
            }
        }
        #expect(message == "buffer directory \(fixture.directory) is in use by another ebpf-map-shipper (pid \(getpid())); "
            + "give each shipper its own buffer.dir")
        _ = first
    }

    @Test func anUnusableDirectoryFallsBackToMemory() throws {
        let fixture = Fixture()
        var endpoint = RemoteWriteConfig.defaults(url: "http://127.0.0.1:9/", name: "e")
        endpoint.queue.maxSamplesPerSend = 10
        var buffer = BufferConfig.defaults
        buffer.dir = "/dev/null/cannot-exist"
        #expect(try Pipeline.queue(for: endpoint, buffer, metrics: fixture.metrics, logger: fixture.log.logger) is MemoryQueue)
        #expect(fixture.log.entries.first?.message == "cannot use the buffer directory; sending without a disk buffer (samples wait in memory while the endpoint is down)")
    }

    @Test func publishesItsSizeForTheSelfMetrics() throws {
        let fixture = Fixture()
        let oldest = { fixture.metrics.samples().first { $0.metric == .bufferOldest }?.value }
        do {
            let queue = try fixture.open()
            queue.append([Self.batch(1, at: Self.now - 1500, samples: 4), Self.batch(2, at: Self.now - 500)])
            let samples = fixture.metrics.samples()
            #expect(samples.first { $0.metric == .bufferSamples }?.value == 5)
            #expect(oldest() == Double(Self.now - 1500) / 1000)
            #expect((samples.first { $0.metric == .bufferBytes }?.value ?? 0) > 48)
            _ = queue.first(untilEmpty: true)
            queue.removeFirst()
            #expect(oldest() == Double(Self.now - 500) / 1000)
        }
        // After a restart the oldest record is read from disk.
        _ = try fixture.open()
        #expect(oldest() == Double(Self.now - 500) / 1000)
    }
}

/// A disk that fills up under the buffer: a small tmpfs, mounted by the test (root only).
@Suite(.requiresBPF)
struct FullDiskTests {
    @Test func aFullDiskKeepsOrderThroughAMemoryTail() throws {
        let fixture = DiskQueueTests.Fixture()
        try FileManager.default.createDirectory(atPath: fixture.directory, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: fixture.base)
        // mount(2) itself: no child process to wait for. mode=700: the buffer refuses a directory others can write.
        try #require(mount("tmpfs", fixture.directory, "tmpfs", 0, "size=64k,mode=700") == 0)
        defer { umount2(fixture.directory, Int32(MNT_DETACH)) }
        let queue = try fixture.open()
        for index in 0..<40 {
            let body = (0..<4096).map { _ in UInt8.random(in: 0...255) }
            queue.append(Batch(body: body, sampleCount: 1, timestampMs: DiskQueueTests.now + Int64(index), format: .remoteWriteV1))
        }
        #expect(fixture.log.count("cannot write to the disk buffer; keeping batches in memory until it recovers") == 1)
        var stamps: [Int64] = []
        while let batch = queue.first(untilEmpty: true) {
            stamps.append(batch.timestampMs)
            queue.removeFirst()
        }
        #expect(stamps == (0..<40).map { DiskQueueTests.now + $0 })
    }
}

/// The memory-only queue, and the memory tail, drop the oldest past their bound every cycle an
/// endpoint is down: counted every time, logged once a minute.
struct MemoryQueueTests {
    @Test func dropsAreCountedEveryTimeAndLoggedOnce() {
        let metrics = SelfMetrics(endpoints: ["e"])
        let log = CapturedLog()
        let queue = MemoryQueue(capacityBytes: 16 << 10, report: DropReport(endpoint: "e", metrics: metrics, logger: log.logger))
        for index in 0..<100 {
            queue.append(Batch(body: [UInt8](repeating: 7, count: 4096), sampleCount: 2, timestampMs: Int64(index), format: .frame))
        }
        let dropped = metrics.samples().first { $0.metric == .samplesDropped && $0.labels["reason"] == "queue_full" }?.value
        #expect(dropped == Double(2 * (100 - 4)))
        #expect(queue.pendingSamples == 8)
        #expect(log.entries.count == 1)
        #expect(log.count("endpoint unreachable for too long; dropping the oldest queued samples") == 1)
    }
}

struct CRC32Tests {
    static let kilobyteAndTail: [UInt8] = Array(repeating: Array(0...255), count: 4).flatMap { $0 } + Array("tail!".utf8)

    /// Python's zlib.crc32 of the same bytes: in one piece, in pieces as a record's header fields
    /// and body are checked, and nothing.
    @Test func matchesZlib() {
        func crc(_ pieces: [UInt8]...) -> UInt32 {
            var checksum = CRC32()
            for piece in pieces { checksum.update(piece) }
            return checksum.value
        }
        #expect(crc(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(crc(Self.kilobyteAndTail) == 0xB35F_0F91)
        #expect(crc(Array(Self.kilobyteAndTail[..<3]), [], Array(Self.kilobyteAndTail[3...])) == 0xB35F_0F91)
        #expect(crc([]) == 0)
    }
}

extension BatchQueue {
    /// The oldest batch alone, as a sender whose requests hold one sample would take it.
    func first(untilEmpty: Bool) -> Batch? { first(untilEmpty: untilEmpty, maxSamples: 1)?.first }
}
