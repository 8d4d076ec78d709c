import Foundation
import Logging

/// Finds where maps are pinned by walking bpffs mount points.
///
/// A pin is a file on a bpffs; the kernel keeps no reverse index from a map to its pins, so
/// this is the same walk bpftool does. An unmounted bpffs is normal and yields no pins.
public struct PinScanner {
    /// Explicit mount points, or nil for every `bpf` mount in /proc/self/mounts.
    var mountPoints: [String]?
    var logger: Logger

    /// Map id to the sorted paths pinning it.
    func scan() -> [UInt32: [String]] {
        var pins: [UInt32: [String]] = [:]
        for root in mountPoints ?? Self.bpffsMounts() {
            var files: [String] = []
            Self.regularFiles(under: root, depth: 0, into: &files)
            for path in files {
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

    /// Bind mounts can make a tree loop; real bpffs layouts are a few levels deep.
    private static let maxDepth = 32

    /// The regular files under `directory`, by readdir's entry types: this runs every cycle, and a
    /// stat (let alone FileManager's attribute dictionary) per entry would cost more than the walk.
    /// Symbolic links are not followed.
    private static func regularFiles(under directory: String, depth: Int, into files: inout [String]) {
        guard depth < maxDepth, let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = String(fixedCString: entry.pointee.d_name)
            guard name != "." && name != ".." else { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            switch Int(entry.pointee.d_type) {
            case Int(DT_DIR): regularFiles(under: path, depth: depth + 1, into: &files)
            case Int(DT_REG): files.append(path)
            default: continue
            }
        }
    }

    /// The mount points of every bpffs this process sees (/proc/self/mounts, which a unit's
    /// ProcSubset=pid leaves visible, unlike /proc/mounts), octal escapes (`\040`) decoded.
    /// Why `path` cannot be searched for pins (it does not exist, or is not on a bpffs), or nil.
    public static func problem(searching path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "no such directory"
        }
        let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        let onBPFFS = bpffsMounts().contains { mount in resolved == mount || resolved.hasPrefix(mount == "/" ? "/" : mount + "/") }
        return onBPFFS ? nil : "not on a bpffs (mount one with: mount -t bpf bpf \(path))"
    }

    static func bpffsMounts(mountsTable: String = "/proc/self/mounts") -> [String] {
        guard let text = try? String(contentsOfFile: mountsTable, encoding: .utf8) else { return [] }
        // Split as bytes: read every cycle, and Character-wise splitting costs ten times more.
        return text.utf8.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let fields = line.split(separator: UInt8(ascii: " "))
            guard fields.count >= 3, fields[2].elementsEqual("bpf".utf8) else { return nil }
            return decodeOctalEscapes(String(decoding: fields[1], as: UTF8.self))
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
