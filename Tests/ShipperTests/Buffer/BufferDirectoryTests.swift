import Foundation
import SystemPackage
import Testing

@testable import ShipperMetrics
@testable import ShipperBuffer
@testable import ShipperConfig
@testable import ShipperRun

/// The buffer as root under a directory another user can write to: nothing in it is followed
/// through a symlink, and directories another user owns or can write to are refused.
struct BufferDirectoryTests {
    /// A private scratch directory with a buffer directory `buffer` and a victim directory `victim`
    /// holding one file, which no test may change.
    final class Fixture {
        let root = Scratch.path("bufferdir").path
        var buffer: String { root + "/buffer" }
        var victim: String { root + "/victim" }
        let metrics = SelfMetrics(endpoints: ["x"])
        let log = CapturedLog()

        init() throws {
            for path in [root, buffer, victim] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: buffer)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: victim)
            try "precious\n".write(toFile: victim + "/file", atomically: false, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func open(_ endpoint: String = "x") throws -> DiskQueue {
            try DiskQueue(
                directory: buffer + "/" + endpoint,
                limits: .init(maxSize: 1 << 30, maxAge: .seconds(86400), fsync: false),
                report: DropReport(endpoint: "x", metrics: metrics, logger: log.logger))
        }

        /// The victim as it was made: mode 0755, one file, its content unchanged.
        var victimIsUntouched: Bool {
            let mode = (try? FileManager.default.attributesOfItem(atPath: victim)[.posixPermissions] as? NSNumber)?.intValue
            let files = (try? FileManager.default.contentsOfDirectory(atPath: victim)) ?? []
            let content = try? String(contentsOfFile: victim + "/file", encoding: .utf8)
            return mode == 0o755 && files == ["file"] && content == "precious\n"
        }

        func failure(_ body: () throws -> Void) -> BufferDirectory.Failure? {
            do {
                try body()
                return nil
            } catch {
                return error as? BufferDirectory.Failure
            }
        }
    }

    /// The reproduction from the field: `ln -s /etc <buffer.dir>/<endpoint>`.
    @Test func aSymlinkedEndpointDirectoryIsRefusedAndItsTargetUntouched() throws {
        let scratch = try Fixture()
        try FileManager.default.createSymbolicLink(atPath: scratch.buffer + "/x", withDestinationPath: scratch.victim)
        let failure = try #require(scratch.failure { _ = try scratch.open() })
        #expect(failure.unsafe)
        #expect(failure.description == "buffer directory \(scratch.buffer)/x: is a symbolic link or not a directory; "
            + "the shipper never follows links in its buffer (remove it, or point buffer.dir elsewhere)")
        #expect(scratch.victimIsUntouched)
    }

    @Test func aBufferDirectoryOthersCanWriteIsRefused() throws {
        let scratch = try Fixture()
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: scratch.buffer)
        let failure = try #require(scratch.failure { _ = try scratch.open() })
        #expect(failure.unsafe)
        #expect(failure.description == "buffer directory \(scratch.buffer): is writable by other users (mode 777); "
            + "another user could plant files in it (chmod 700 \(scratch.buffer))")
        #expect(!FileManager.default.fileExists(atPath: scratch.buffer + "/x"))
    }

    @Test func anEndpointDirectoryOwnedByAnotherUserIsRefused() throws {
        let scratch = try Fixture()
        try FileManager.default.createDirectory(atPath: scratch.buffer + "/x", withIntermediateDirectories: false)
        guard chown(scratch.buffer + "/x", 65534, 65534) == 0 else { return }  // needs root, as the daemon has
        let failure = try #require(scratch.failure { _ = try scratch.open() })
        #expect(failure.unsafe)
        #expect(failure.description.hasPrefix("buffer directory \(scratch.buffer)/x: is owned by uid 65534, not by the shipper's uid \(geteuid())"))
    }

    /// Inside a private endpoint directory, planted `lock`, `cursor` and segment links are never
    /// opened through: the queue refuses, or buffers in memory, and the targets stay as they were.
    @Test func linksInsideTheDirectoryAreNeverFollowed() throws {
        let scratch = try Fixture()
        let endpoint = scratch.buffer + "/x"
        try FileManager.default.createDirectory(atPath: endpoint, withIntermediateDirectories: false)
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: endpoint)
        for name in ["lock", "cursor", "segment-00000000000000000001"] {
            try FileManager.default.createSymbolicLink(atPath: endpoint + "/" + name, withDestinationPath: scratch.victim + "/file")
        }
        #expect(scratch.failure { _ = try scratch.open() } != nil)
        try FileManager.default.removeItem(atPath: endpoint + "/lock")
        #expect(scratch.failure { _ = try scratch.open() } != nil)
        try FileManager.default.removeItem(atPath: endpoint + "/cursor")

        // Only the segment link is left: it is not listed, not written through, and the batches
        // wait in memory instead, in order.
        let queue = try scratch.open()
        queue.append([DiskQueueTests.batch(1), DiskQueueTests.batch(2)])
        #expect(scratch.log.count("cannot write to the disk buffer; keeping batches in memory until it recovers") == 1)
        #expect(DiskQueueTests.drain(queue) == [1, 2])
        #expect(scratch.victimIsUntouched)
    }

    /// Unsafe is fatal, with one line; a directory that merely cannot be made falls back to memory.
    @Test func anUnsafeDirectoryStopsThePipelineInOneLine() throws {
        let scratch = try Fixture()
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: scratch.buffer)
        let endpoint = RemoteWriteConfig.defaults(url: "http://127.0.0.1:9/", name: "x")
        var buffer = BufferConfig.defaults
        buffer.dir = scratch.buffer
        #expect {
            _ = try Pipeline.queue(for: endpoint, buffer, metrics: scratch.metrics, logger: scratch.log.logger)
        } throws: { error in
            "\(error)" == "buffer directory \(scratch.buffer): is writable by other users (mode 777); another user could plant files in it (chmod 700 \(scratch.buffer))"
        }
    }
}
