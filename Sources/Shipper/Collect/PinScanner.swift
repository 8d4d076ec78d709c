import Foundation
import Logging

/// Finds where maps are pinned by walking bpffs mount points.
///
/// A pin is a file on a bpffs; the kernel keeps no reverse index from a map to its pins, so
/// this is the same walk bpftool does. An unmounted bpffs is normal and yields no pins.
struct PinScanner {
    /// Explicit mount points, or nil for every `bpf` mount in /proc/mounts.
    var mountPoints: [String]?
    var logger: Logger

    /// Map id to the sorted paths pinning it.
    func scan() -> [UInt32: [String]] {
        var pins: [UInt32: [String]] = [:]
        for root in mountPoints ?? Self.bpffsMounts() {
            guard let walker = FileManager.default.enumerator(atPath: root) else { continue }
            while let relative = walker.nextObject() as? String {
                guard walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular else { continue }
                let path = root.hasSuffix("/") ? root + relative : root + "/" + relative
                do {
                    if let id = try KernelObjects.pinnedMapID(path: path) { pins[id, default: []].append(path) }
                } catch {
                    // Removed meanwhile, or not a BPF object: neither makes the cycle fail.
                    logger.debug("skipping bpffs file", metadata: ["pin.path": "\(path)", "error": "\(error)"])
                }
            }
        }
        return pins.mapValues { $0.sorted() }
    }

    /// The mount points of every bpffs in /proc/mounts, octal escapes (`\040`) decoded.
    static func bpffsMounts(mountsTable: String = "/proc/mounts") -> [String] {
        guard let text = try? String(contentsOfFile: mountsTable, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[2] == "bpf" else { return nil }
            return decodeOctalEscapes(String(fields[1]))
        }
    }

    private static func decodeOctalEscapes(_ field: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3, let code = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(code)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
