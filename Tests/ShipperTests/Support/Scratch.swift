import Foundation

/// Every file and pin a test run makes lives under one scratch root per test process:
/// `$TMPDIR/ebpf-map-shipper-tests/run-<pid>-<random>` for files, and a directory of the same name
/// under `/sys/fs/bpf/ebpf-map-shipper-tests` for pins.
///
/// A run holds an exclusive `flock` on `<root>.lock` for as long as its process lives. The first
/// use in a run removes every other run's root whose lock is free: whatever a killed run left,
/// files, pins, and the receivers it had started on them. A normal exit removes its own.
enum Scratch {
    static let parent = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("ebpf-map-shipper-tests")
    static let pinParent = "/sys/fs/bpf/ebpf-map-shipper-tests"

    /// This run's directory for files, made on first use (after the litter of killed runs is gone).
    static let root: URL = {
        try? FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let name = "run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        lockForLife(parent.appendingPathComponent(name + ".lock").path)
        removeAbandonedRuns()
        let root = parent.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: root, withIntermediateDirectories: false)
        atexit {
            try? FileManager.default.removeItem(at: Scratch.root)
            try? FileManager.default.removeItem(atPath: Scratch.pinParent + "/" + Scratch.root.lastPathComponent)
            try? FileManager.default.removeItem(atPath: Scratch.root.path + ".lock")
        }
        return root
    }()

    /// A new, empty directory of this run's, named after `label`.
    static func directory(_ label: String) -> URL {
        let directory = path(label)
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        return directory
    }

    /// A path of this run's that nothing uses yet, named after `label`; nothing is created.
    static func path(_ label: String) -> URL {
        root.appendingPathComponent("\(label)-\(UUID())")
    }

    /// A new file under the run's root holding `text`, e.g. a secret for a config to name.
    static func file(_ label: String, _ text: String) throws -> URL {
        let file = path(label)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Creates `file` empty and opens it for writing: where a child's output goes.
    static func emptyFile(_ file: URL) throws -> FileHandle {
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        return try FileHandle(forWritingTo: file)
    }

    /// A new directory for pins on the bpffs, named after `label` (BPFGate mounts the bpffs).
    static func pinDirectory(_ label: String) throws -> String {
        let directory = pinParent + "/" + root.lastPathComponent + "/\(label)-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// The environment for programs the tests run: their temporary files go under this run's root too.
    static var environment: [String: String] {
        ProcessInfo.processInfo.environment.merging(["TMPDIR": root.path]) { $1 }
    }

    /// Takes the lock at `path` and keeps it until the process ends. A cleaner may hold it for a
    /// moment, or have removed the file between our open and our lock: then it is taken again.
    /// Never a blocking flock: this runs on the cooperative pool.
    private static func lockForLife(_ path: String) {
        while true {
            let fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            var held = stat()
            var named = stat()
            if flock(fd, LOCK_EX | LOCK_NB) == 0, fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino {
                return  // never closed: the kernel drops the lock when the process ends
            }
            close(fd)
        }
    }

    /// Removes every run whose lock nobody holds, and the processes still working on its files.
    static func removeAbandonedRuns() {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? []
        for lock in entries where lock.hasSuffix(".lock") {
            let lockPath = parent.appendingPathComponent(lock).path
            let fd = open(lockPath, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            let run = String(lock.dropLast(".lock".count))
            let files = parent.appendingPathComponent(run).path
            killProcesses(using: [files, pinParent + "/" + run])
            try? FileManager.default.removeItem(atPath: files)
            try? FileManager.default.removeItem(atPath: pinParent + "/" + run)
            unlink(lockPath)
        }
        // A run makes its lock before anything else: files or pins without one belong to no live run.
        let pinEntries = (try? FileManager.default.contentsOfDirectory(atPath: pinParent)) ?? []
        for (directory, names) in [(parent.path, entries), (pinParent, pinEntries)] {
            for run in names where !run.hasSuffix(".lock") && !FileManager.default.fileExists(atPath: parent.path + "/" + run + ".lock") {
                try? FileManager.default.removeItem(atPath: directory + "/" + run)
            }
        }
    }

    /// SIGKILLs every process whose command line names a path under one of `roots`: the
    /// receivers, daemons and guests a killed run had started there.
    private static func killProcesses(using roots: [String]) {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        for pid in pids where pid != getpid() {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let arguments = String(decoding: data, as: UTF8.self)
            if roots.contains(where: { arguments.contains($0 + "/") }) { kill(pid, SIGKILL) }
        }
    }
}
