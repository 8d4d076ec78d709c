import Foundation
import SystemPackage
import Testing

@testable import ShipperEncode
@testable import ShipperBuffer

/// Outages, crashes and damage between the real binary and a real Prometheus that starts late.
@Suite(.requiresBPF, .timeLimit(.minutes(5)))
struct OutageTests {
    /// A shipper config pushing `message` every second to a port where nothing listens yet.
    func config(port: UInt16, prefix: String, message: RemoteWriteMessage = .v1) -> String {
        """
        interval: 1s
        maps:
          include: ['^\(prefix)']
        remote_write:
          - name: central
            url: http://127.0.0.1:\(port)/api/v1/write
            protobuf_message: \(message.rawValue)
            queue: {max_backoff: 1s}
        """
    }

    /// The timestamps the receiver holds for one map's entries series, oldest first.
    func stamps(_ prometheus: ReceiverProcess, _ id: UInt32) async throws -> [Int64] {
        try await prometheus.samples("ebpf_map_entries{map_id=\"\(id)\"}[10m]").first?.timestampsMs ?? []
    }

    /// The timestamps of the records the daemon started on `file` holds for `central`, oldest
    /// first: an outage's length is what the buffer holds, never how long the test slept.
    func buffered(_ file: URL) -> [Int64] { BufferedRecords.timestamps(in: file.path + ".buffer/central") }

    /// Waits until the receiver has an interval newer than `time`: the backlog before it is delivered.
    func waitForDrain(_ prometheus: ReceiverProcess, _ id: UInt32, past time: Date) async -> Bool {
        await eventually(within: 30) {
            ((try? await stamps(prometheus, id).last) ?? 0) > Int64(time.timeIntervalSince1970 * 1000)
        }
    }

    @Test func everyIntervalOfAnOutageArrivesInOrder() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let a = try await holder.create("hash", name: prefix + "a", maxEntries: 16, fill: 3)
        let b = try await holder.create("lru_hash", name: prefix + "b", maxEntries: 16, fill: 7)
        let port = Network.freePort()
        let daemon = try ShipperDaemon(config: config(port: port, prefix: prefix))
        let file = try #require(daemon.configFile)
        // The outage lasts until the buffer holds 20 intervals.
        #expect(await eventually(within: 120) { buffered(file).count >= 20 }, "\(daemon.log)")
        let held = buffered(file)

        let prometheus = try await ReceiverProcess.prometheus(port: port)
        #expect(await waitForDrain(prometheus, a, past: Date()), "\(daemon.log)")
        for id in [a, b] {
            // Every interval the buffer held arrived, in order, before anything newer.
            let times = try await stamps(prometheus, id)
            #expect(Array(times.prefix(held.count)) == held, "held \(held), received \(times)")
            #expect(times.count > held.count)
        }
        #expect(try await prometheus.samples("ebpf_map_entries{map_id=\"\(b)\"}[10m]").first?.values.allSatisfy { $0 == "7" } == true)
        #expect(!prometheus.log.contains("out of order"))
        #expect(await daemon.terminate() == 0)
        #expect(daemon.log.contains("msg=\"endpoint not accepting samples; buffering to disk\""))
        #expect(daemon.log.contains("msg=\"buffer backlog drained\""))
    }

    /// A map, a config pushing it to a port where nothing listens, and a first run that has
    /// buffered 8 intervals.
    func firstRun(fill: Int) async throws -> (holder: MapHolder, id: UInt32, port: UInt16, file: URL, daemon: ShipperDaemon) {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let id = try await holder.create("hash", name: prefix + "m", maxEntries: 16, fill: fill)
        let port = Network.freePort()
        let file = try writeConfig(config(port: port, prefix: prefix))
        let daemon = try ShipperDaemon(file: file)
        #expect(await eventually(within: 60) { buffered(file).count >= 8 }, "\(daemon.log)")
        return (holder, id, port, file, daemon)
    }

    @Test func nothingWrittenBeforeAKillIsLost() async throws {
        let (holder, id, port, file, first) = try await firstRun(fill: 2)
        defer {
            removeConfig(file)
            withExtendedLifetime(holder) {}
        }
        await first.kill()
        // What the first run wrote before the kill; the second run buffers 3 intervals behind it.
        let written = buffered(file)
        #expect(written.count >= 8)
        let second = try ShipperDaemon(file: file)
        let newest = written.last ?? 0
        #expect(await eventually(within: 60) { buffered(file).filter { $0 > newest }.count >= 3 }, "\(second.log)")
        let held = buffered(file)
        let prometheus = try await ReceiverProcess.prometheus(port: port)
        #expect(await waitForDrain(prometheus, id, past: Date()), "\(second.log)")

        // Every interval of the first run up to the kill, then the second run's, in order.
        let times = try await stamps(prometheus, id)
        #expect(Array(held.prefix(written.count)) == written, "written \(written), held \(held)")
        #expect(Array(times.prefix(held.count)) == held, "held \(held), received \(times)")
        #expect(second.log.contains("msg=\"replaying the disk buffer left by a previous run\""))
        #expect(!prometheus.log.contains("out of order"))
        #expect(await second.terminate() == 0)
    }

    @Test func damagedRecordsAreSkippedAndTheRestDelivered() async throws {
        let (holder, id, port, file, first) = try await firstRun(fill: 5)
        defer {
            removeConfig(file)
            withExtendedLifetime(holder) {}
        }
        #expect(await first.terminate() == 0)

        // Damage the fourth record's body and tear the last record in half, as a crash mid-write would.
        let directory = file.path + ".buffer/central"
        let segment = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("segment-") }.sorted().last)
        let fd = try FileDescriptor.open(directory + "/" + segment, .readWrite)
        var records: [(offset: Int64, header: Record.Header)] = []
        let size = try fd.seek(offset: 0, from: .end)
        var offset: Int64 = 0
        while let header = Segment.header(fd, at: offset, size: size) {
            records.append((offset, header))
            offset += Int64(Record.headerSize + header.length)
        }
        try #require(records.count >= 7)
        var byte = try fd.readBytes(count: 1, at: records[3].offset + Int64(Record.headerSize) + 2)
        byte[0] ^= 0xFF
        _ = try fd.writeAll(toAbsoluteOffset: records[3].offset + Int64(Record.headerSize) + 2, byte)
        let last = records[records.count - 1]
        try fd.resize(to: last.offset + Int64(Record.headerSize + last.header.length) / 2)
        try fd.close()

        let prometheus = try await ReceiverProcess.prometheus(port: port)
        let second = try ShipperDaemon(file: file)
        #expect(await waitForDrain(prometheus, id, past: Date()), "\(second.log)")
        let times = Set(try await stamps(prometheus, id))
        let damaged = [records[3].header.timestampMs, last.header.timestampMs]
        let intact = records.map(\.header.timestampMs).filter { !damaged.contains($0) }
        #expect(intact.allSatisfy { times.contains($0) }, "missing \(intact.filter { !times.contains($0) })")
        #expect(damaged.allSatisfy { !times.contains($0) })
        #expect(second.log.contains("msg=\"damaged record in the disk buffer; skipped it and kept the rest\""))
        // A frame collected while the sender was still replaying counts only what it had found by
        // then: a later one counts both.
        #expect(await eventually(within: 30) {
            (try? await prometheus.query("ebpf_map_shipper_buffer_corrupt_records_total").first?.value) == "2"
        }, "\(second.log)")
        #expect(await second.terminate() == 0)
    }

    @Test func memoryStaysFlatThroughHundredsOfBufferedFrames() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        try await holder.create("hash", name: prefix + "m", maxEntries: 16, fill: 2)
        let buffer = Scratch.path("memory").path
        defer { try? FileManager.default.removeItem(atPath: buffer) }
        // A frame per 100ms cycle, the shortest interval allowed.
        let file = try writeConfig("""
            interval: 100ms
            maps:
              include: ['^\(prefix)']
            remote_write:
              - name: down
                url: http://127.0.0.1:\(Network.freePort())/api/v1/write
            buffer: {fsync: never, dir: '\(buffer)'}
            """)
        defer { removeConfig(file) }
        let daemon = try ShipperDaemon(file: file, arguments: ["--log-level", "error"])
        func buffered() -> Int { BufferedRecords.headers(in: buffer + "/down").count }
        // From 100 frames buffered (about 10 s) to 600 (about 50 s more).
        #expect(await eventually(within: 60) { buffered() >= 100 })
        let start = try #require(daemon.residentKiB)
        #expect(await eventually(within: 120) { buffered() >= 600 })
        let end = try #require(daemon.residentKiB)
        #expect(await daemon.terminate() == 0)
        print("memory: RSS \(start) KiB at 100 frames buffered, \(end) KiB at \(buffered())")
        #expect(end - start < 4096, "RSS grew from \(start) KiB to \(end) KiB")
    }
    /// buffer.max_size holds through an outage, on a real small disk (a 4 MiB tmpfs), while the
    /// batch being retried sits in the oldest segment: the oldest records go, counted as
    /// buffer_full, and the receiver later gets the newer ones, in order.
    @Test func maxSizeHoldsThroughAnOutageOnASmallDisk() async throws {
        let holder = try MapHolder()
        let prefix = uniquePrefix()
        let ids = try await holder.createMany(60, type: "hash", name: prefix + "m", maxEntries: 16, fill: 1)
        let buffer = Scratch.path("small-disk").path
        try FileManager.default.createDirectory(atPath: buffer, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        try #require(mount("tmpfs", buffer, "tmpfs", 0, "size=4m,mode=700") == 0)
        defer {
            umount2(buffer, Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: buffer)
        }
        let port = Network.freePort()
        // A frame of 60 maps (about 300 series, 7.6 KiB) per 100ms cycle, replayed a sample per
        // request: 1 MiB fills in about 14 s, and turns over twice in about 30 s more.
        let file = try writeConfig("""
            interval: 100ms
            maps:
              include: ['^\(prefix)']
            remote_write:
              - name: down
                url: http://127.0.0.1:\(port)/api/v1/write
                queue: {max_samples_per_send: 1, max_backoff: 100ms}
            buffer: {fsync: never, dir: '\(buffer)', max_size: 1MiB}
            """)
        defer { removeConfig(file) }
        let daemon = try ShipperDaemon(file: file)
        let directory = buffer + "/down"
        func segmentBytes() -> Int64 {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("segment-") }
            return names.reduce(0) { $0 + (((try? FileManager.default.attributesOfItem(atPath: directory + "/" + $1))?[.size] as? Int64) ?? 0) }
        }
        // The bound is reached, then the buffer turns over at least twice its size.
        #expect(await eventually(within: 120) { daemon.log.contains("msg=\"disk buffer full; dropped the oldest samples\"") }, "\(daemon.log)")
        var largest: Int64 = 0
        var newest = BufferedRecords.timestamps(in: directory).last ?? 0
        let firstKept = BufferedRecords.timestamps(in: directory).first ?? 0
        var turnovers = 0
        #expect(await eventually(within: 120) {
            largest = max(largest, segmentBytes())
            let stamps = BufferedRecords.timestamps(in: directory)
            if let oldest = stamps.first, oldest > newest {
                turnovers += 1
                newest = stamps.last ?? newest
            }
            return turnovers >= 2
        }, "\(daemon.log)")
        #expect(largest <= 1 << 20, "\(largest) bytes of segments for a 1 MiB bound")
        let held = BufferedRecords.timestamps(in: directory)
        #expect(held.first ?? 0 > firstKept)

        let prometheus = try await ReceiverProcess.prometheus(port: port)
        #expect(await waitForDrain(prometheus, ids[0], past: Date()), "\(daemon.log)")
        // What arrived is in order, and the oldest went: nothing from before what the buffer held
        // once it had turned over (drops go on while the backlog drains, so later holes are the
        // bound at work, not a loss of order).
        let times = try await stamps(prometheus, ids[0])
        #expect(!times.isEmpty && times == times.sorted() && Set(times).count == times.count, "\(times)")
        #expect(times.first ?? 0 > firstKept, "\(times.first ?? 0) \(firstKept)")
        let dropped = try await prometheus.samples("ebpf_map_shipper_samples_dropped_total{reason=\"buffer_full\"}[10m]").first?.values.last
        #expect(Double(dropped ?? "0") ?? 0 > 0)
        #expect(await daemon.terminate() == 0)
        await prometheus.stop()
    }
}
