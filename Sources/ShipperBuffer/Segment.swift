import Glibc
import SystemPackage

/// One append-only file of records, named by a sequence number so that names sort in age order,
/// with a summary of the records not yet delivered. Summaries keep the queue's memory flat: it
/// holds one per segment, never one per record.
struct Segment {
    let number: UInt64
    /// The file's name in its buffer directory.
    let name: String
    /// Bytes on disk.
    var size: Int64
    /// Not yet delivered: records, samples, and the newest timestamp among them.
    var records = 0
    var samples = 0
    var newestMs: Int64?

    static let prefix = "segment-"

    init(number: UInt64, size: Int64 = 0) {
        self.number = number
        self.name = Self.prefix + Self.twentyDigits(number)
        self.size = size
    }

    /// A non-negative number zero-padded to the 20 digits of the largest UInt64: names and the
    /// cursor sort, and are rewritten in place, at one fixed width.
    static func twentyDigits(_ number: some BinaryInteger) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// The segment files of a directory, oldest first.
    static func list(in directory: BufferDirectory) throws(BufferDirectory.Failure) -> [Segment] {
        try directory.files(prefix: prefix).compactMap { file in
            UInt64(file.name.dropFirst(prefix.count)).map { Segment(number: $0, size: file.size) }
        }.sorted { $0.number < $1.number }
    }

    /// What the next read at an offset found.
    enum Read {
        case record(Record, end: Int64)
        /// Damaged bytes from the offset up to `resume`, where a good record starts or the file ends.
        case damaged(resume: Int64)
        case end
    }

    /// Reads the record at `offset` from an open descriptor, or finds how far the damage there reaches.
    static func read(_ fd: FileDescriptor, at offset: Int64, size: Int64) -> Read {
        if offset >= size { return .end }
        if let record = validRecord(fd, at: offset, size: size) { return .record(record, end: offset + Int64(Record.headerSize + record.body.count)) }
        return .damaged(resume: nextValidOffset(fd, after: offset, size: size))
    }

    /// The samples that the headers of a damaged stretch still promise, where they can be read:
    /// what a skipped record held. A count no record could hold is damage too, and not counted:
    /// every body spends at least 8 bytes (a float64 value) on each of its samples.
    static func samplesPromised(_ fd: FileDescriptor, from start: Int64, to end: Int64) -> Int {
        var offset = start
        var samples = 0
        while offset + Int64(Record.headerSize) <= end, let bytes = try? fd.readBytes(count: Record.headerSize, at: offset),
            let header = Record.Header(bytes)
        {
            if header.sampleCount <= header.length / 8 { samples += header.sampleCount }
            offset += Int64(Record.headerSize + header.length)
        }
        return samples
    }

    /// Only the header at `offset`: the timestamp and size, without reading or checking the body.
    static func header(_ fd: FileDescriptor, at offset: Int64, size: Int64) -> Record.Header? {
        guard offset + Int64(Record.headerSize) <= size, let head = try? fd.readBytes(count: Record.headerSize, at: offset),
            let header = Record.Header(head), offset + Int64(Record.headerSize + header.length) <= size
        else { return nil }
        return header
    }

    private static func validRecord(_ fd: FileDescriptor, at offset: Int64, size: Int64) -> Record? {
        guard offset + Int64(Record.headerSize) <= size,
            let head = try? fd.readBytes(count: Record.headerSize, at: offset), let header = Record.Header(head),
            offset + Int64(Record.headerSize + header.length) <= size,
            let body = try? fd.readBytes(count: header.length, at: offset + Int64(Record.headerSize))
        else { return nil }
        let record = Record(timestampMs: header.timestampMs, sampleCount: header.sampleCount, body: body, format: header.format)
        return record.checksum == header.checksum ? record : nil
    }

    /// Scans forward for the magic of a record that checks out.
    private static func nextValidOffset(_ fd: FileDescriptor, after offset: Int64, size: Int64) -> Int64 {
        let magic = withUnsafeBytes(of: Record.magic.littleEndian) { Array($0) }
        var position = offset + 1
        let chunk = 64 * 1024
        while position < size {
            guard let bytes = try? fd.readBytes(count: Int(min(Int64(chunk + 3), size - position)), at: position) else { break }
            var index = 0
            while let found = bytes[index...].firstRange(of: magic) {
                let candidate = position + Int64(found.lowerBound)
                if validRecord(fd, at: candidate, size: size) != nil { return candidate }
                index = found.lowerBound + 1
            }
            position += Int64(chunk)
        }
        return size
    }
}

extension FileDescriptor {
    /// Exactly `count` bytes at `offset`, or throws.
    func readBytes(count: Int, at offset: Int64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try bytes.withUnsafeMutableBytes { try read(fromAbsoluteOffset: offset, into: $0) }
        guard got == count else { throw Errno.ioError }
        return bytes
    }

    /// Durable on disk, not only in the page cache.
    func sync() throws {
        guard fsync(rawValue) == 0 else { throw Errno(rawValue: errno) }
    }
}
