import Foundation
import Testing

/// What a killed run leaves is removed by the next one; a run still alive keeps its files.
@Suite(.requiresBPF)
struct ScratchTests {
    /// A run's files, pins and lock as `Scratch` lays them out, under a name of this test's.
    struct FakeRun {
        let name = "run-test-\(UUID())"
        var files: String { Scratch.parent.appendingPathComponent(name).path }
        var pins: String { Scratch.pinParent + "/" + name }
        var lock: String { files + ".lock" }

        func make(holder: MapHolder) async throws {
            try FileManager.default.createDirectory(atPath: files + "/receiver", withIntermediateDirectories: true)
            try "data".write(toFile: files + "/receiver/file", atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: pins, withIntermediateDirectories: true)
            let id = try await holder.create("hash", name: uniquePrefix() + "left", maxEntries: 4)
            try await holder.pin(id: id, at: pins + "/map")
            _ = FileManager.default.createFile(atPath: lock, contents: nil)
        }

        var exists: (files: Bool, pins: Bool, lock: Bool) {
            (FileManager.default.fileExists(atPath: files), FileManager.default.fileExists(atPath: pins),
             FileManager.default.fileExists(atPath: lock))
        }
    }

    /// A process started on a file of `run`'s, as a receiver of a killed run would be.
    func process(using run: FakeRun) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import time; time.sleep(600)", run.files + "/receiver/file"]
        try process.run()
        return process
    }

    /// Whether `pid` runs its own program yet: until it has exec'd, its command line is ours.
    func started(_ pid: Int32, on run: FakeRun) -> Bool {
        FileManager.default.contents(atPath: "/proc/\(pid)/cmdline").map { String(decoding: $0, as: UTF8.self) }?
            .contains(run.files + "/") == true
    }

    /// Gone, or a zombie nobody has reaped yet: either way it runs no more.
    func ended(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
    }

    @Test func aKilledRunsFilesPinsAndProcessesGoAndALiveRunsStay() async throws {
        _ = Scratch.root  // this run's own, made (and others cleaned) first
        let holder = try MapHolder()
        let killed = FakeRun()
        let alive = FakeRun()
        try await killed.make(holder: holder)
        try await alive.make(holder: holder)
        // The live run's lock, held as a run holds its own: flock locks belong to the open file,
        // so the cleaner's own open of it cannot take it either.
        let lock = open(alive.lock, O_RDWR)
        #expect(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)
        let orphan = try process(using: killed)
        let worker = try process(using: alive)
        defer { kill(worker.processIdentifier, SIGKILL) }
        #expect(await eventually(within: 30) {
            started(orphan.processIdentifier, on: killed) && started(worker.processIdentifier, on: alive)
        })

        Scratch.removeAbandonedRuns()

        #expect(await eventually(within: 30) { ended(orphan.processIdentifier) })
        #expect(killed.exists == (false, false, false))
        #expect(alive.exists == (true, true, true))
        #expect(!ended(worker.processIdentifier))
        #expect(FileManager.default.fileExists(atPath: Scratch.root.path))

        // Its process ended without a word: the next cleaner takes all of it.
        close(lock)
        Scratch.removeAbandonedRuns()
        #expect(alive.exists == (false, false, false))
        #expect(await eventually(within: 30) { ended(worker.processIdentifier) })

        // Pins whose run left no lock (removed by hand, say) go too.
        let stray = FakeRun()
        try await stray.make(holder: holder)
        unlink(stray.lock)
        Scratch.removeAbandonedRuns()
        #expect(stray.exists == (false, false, false))
    }
}
