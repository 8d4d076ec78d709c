import Foundation
import SystemPackage

/// One shipper per buffer directory: an exclusive `flock` on its `lock` file, held for the
/// queue's lifetime, with the holder's pid written in it for the message a second one prints.
package enum BufferLock {
    /// A second shipper on the same directory: fatal, the operator must fix the config.
    package struct Taken: Error, CustomStringConvertible {
        var directory: String
        var owner: String
        package var description: String {
            "buffer directory \(directory) is in use by another ebpf-map-shipper (\(owner)); give each shipper its own buffer.dir"
        }
    }

    static let fileName = "lock"
    /// 5 ms apart: a quarter of a second in all.
    private static let ownRetries = 50

    /// Takes the lock, or throws `Taken`, or the error opening the file.
    ///
    /// A lock that names this process is retried for a moment: no other queue of this process
    /// holds the directory (each endpoint has its own), so a child forked from it holds a copy
    /// of the descriptor until it closes what it inherited (the iterator's loader child does so
    /// first thing) or execs (a spawned process), and the lock a closed queue left is free again then.
    static func take(in directory: BufferDirectory) throws -> FileDescriptor {
        let fd = try directory.open(fileName, .readWrite, create: true)
        var pid = ""
        for attempt in 0..<ownRetries {
            if flock(fd.rawValue, LOCK_EX | LOCK_NB) == 0 { break }
            let text = directory.read(fileName).map { String(decoding: $0, as: UTF8.self) } ?? ""
            pid = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard pid == "\(getpid())", attempt < ownRetries - 1 else {
                try? fd.close()
                throw Taken(directory: directory.path, owner: pid.isEmpty ? "unknown pid" : "pid \(pid)")
            }
            usleep(5_000)
        }
        _ = try? fd.resize(to: 0)
        _ = try? fd.writeAll(toAbsoluteOffset: 0, Array("\(getpid())\n".utf8))
        return fd
    }
}
