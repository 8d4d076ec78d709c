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

    /// Takes the lock, or throws `Taken`, or the error opening the file.
    static func take(in directory: BufferDirectory) throws -> FileDescriptor {
        let fd = try directory.open(fileName, .readWrite, create: true)
        guard flock(fd.rawValue, LOCK_EX | LOCK_NB) == 0 else {
            let text = directory.read(fileName).map { String(decoding: $0, as: UTF8.self) } ?? ""
            let pid = text.trimmingCharacters(in: .whitespacesAndNewlines)
            try? fd.close()
            throw Taken(directory: directory.path, owner: pid.isEmpty ? "unknown pid" : "pid \(pid)")
        }
        _ = try? fd.resize(to: 0)
        _ = try? fd.writeAll(toAbsoluteOffset: 0, Array("\(getpid())\n".utf8))
        return fd
    }
}
