import Glibc
import ShipperCollect
import SystemPackage

/// One endpoint's buffer directory, used only through its descriptor. The shipper runs as root,
/// and `buffer.dir` may sit where another user can write: every file in it is opened relative to
/// the directory's descriptor with `O_NOFOLLOW`, so a planted symlink cannot make it chmod a
/// directory or overwrite a file elsewhere. Directories that another user owns or can write to
/// are refused, since such a user could plant files at will.
package final class BufferDirectory {
    /// Why a buffer directory cannot be used, as one line that says what and where.
    package struct Failure: Error, CustomStringConvertible {
        var path: String
        var problem: String
        /// Ownership, permissions or a link: the operator must fix it, so the shipper does not start.
        package var unsafe = false

        package var description: String { "buffer directory \(path): \(problem)" }
    }

    /// The endpoint directory's path, for messages.
    let path: String
    private let fd: FileDescriptor

    /// Opens `path` (the buffer directory joined with the endpoint's name). The buffer directory
    /// is created 0700 if missing (its parent must exist), then the endpoint directory inside it.
    /// Neither may be a symlink, be owned by another user, or be writable by group or others.
    init(path: String) throws(Failure) {
        self.path = path
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw Failure(path: path, problem: "expected an absolute path below a buffer directory")
        }
        let base = String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        let baseFD = try Self.openOrCreate(base, at: AT_FDCWD)
        defer { close(baseFD) }
        let fd = try Self.openOrCreate(name, at: baseFD, shownAs: path)
        // Directories an older version made 0755 become private; ownership was checked above.
        fchmod(fd, 0o700)
        self.fd = FileDescriptor(rawValue: fd)
    }

    deinit { try? fd.close() }

    /// Opens the directory `name` (relative to `directory`), creating it 0700 if it is missing,
    /// without following a symlink, and checks who owns it and who may write to it.
    private static func openOrCreate(_ name: String, at directory: Int32, shownAs shown: String? = nil) throws(Failure) -> Int32 {
        let shown = shown ?? name
        if mkdirat(directory, name, 0o700) != 0 && errno != EEXIST {
            throw Failure(path: shown, problem: "cannot create it: \(Errno(rawValue: errno)); create it, or set buffer.dir to a directory that exists")
        }
        let fd = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ELOOP || code == ENOTDIR {
                throw Failure(
                    path: shown, problem: "is a symbolic link or not a directory; the shipper never follows links in its buffer (remove it, or point buffer.dir elsewhere)",
                    unsafe: true)
            }
            throw Failure(path: shown, problem: "cannot open it: \(Errno(rawValue: code))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            throw Failure(path: shown, problem: "cannot read its owner and mode: \(Errno(rawValue: errno))")
        }
        let owner = geteuid()
        if info.st_uid != owner || info.st_mode & 0o022 != 0 {
            close(fd)
            let mode = String(info.st_mode & 0o7777, radix: 8)
            let problem = info.st_uid != owner
                ? "is owned by uid \(info.st_uid), not by the shipper's uid \(owner); another user could plant files in it (chown \(owner) \(shown), or use another buffer.dir)"
                : "is writable by other users (mode \(mode)); another user could plant files in it (chmod 700 \(shown))"
            throw Failure(path: shown, problem: problem, unsafe: true)
        }
        return fd
    }

    /// A regular file of this directory, never through a symlink; created 0600 with `create`.
    func open(_ name: String, _ mode: FileDescriptor.AccessMode, create: Bool = false) throws(Errno) -> FileDescriptor {
        let flags = mode.rawValue | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0)
        let raw = openat(fd.rawValue, name, flags, 0o600)
        guard raw >= 0 else { throw Errno(rawValue: errno) }
        var info = stat()
        guard fstat(raw, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(raw)
            throw Errno.invalidArgument
        }
        return FileDescriptor(rawValue: raw)
    }

    /// Removes a file of this directory; a file already gone is fine.
    func remove(_ name: String) {
        _ = unlinkat(fd.rawValue, name, 0)
    }

    /// The regular files whose names start with `prefix`, with their sizes. Links and anything
    /// else are left out.
    func files(prefix: String) throws(Failure) -> [(name: String, size: Int64)] {
        let copy = dup(fd.rawValue)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw Failure(path: path, problem: "cannot list it: \(Errno(rawValue: errno))")
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var found: [(name: String, size: Int64)] = []
        while let entry = readdir(stream) {
            let name = String(fixedCString: entry.pointee.d_name)
            guard name.hasPrefix(prefix) else { continue }
            var info = stat()
            guard fstatat(fd.rawValue, name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            found.append((name, Int64(info.st_size)))
        }
        return found
    }

    /// The whole (small) file, or nil if it cannot be read.
    func read(_ name: String) -> [UInt8]? {
        guard let file = try? open(name, .readOnly) else { return nil }
        defer { try? file.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            guard let got = try? chunk.withUnsafeMutableBytes({ try file.read(into: $0) }), got > 0 else { break }
            bytes += chunk[..<got]
        }
        return bytes
    }
}
