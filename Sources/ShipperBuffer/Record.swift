
/// The on-disk frame of one buffered batch:
///
///     magic u32 | length u32 | crc32 u32 | timestamp_ms i64 | samples u32 | body (length bytes)
///
/// little-endian, 24-byte header. The CRC-32 covers timestamp, samples and body, so a torn write
/// or a flipped bit anywhere is detected; the magic lets a reader find the next good record
/// after damage instead of giving up on the rest of the file. The top two bits of `samples` are
/// the body's `BodyFormat` (records written before formats existed have 0 or the top bit there,
/// which is what those releases meant by them).
struct Record: Equatable {
    static let magic: UInt32 = 0x534D_4245  // "EBMS" on disk
    static let headerSize = 24
    /// Larger lengths are damage, not data: a batch is at most a few MiB.
    static let maxBodySize = 64 << 20
    private static let countMask: UInt32 = (1 << 30) - 1

    var timestampMs: Int64
    var sampleCount: Int
    var body: [UInt8]
    var format: BodyFormat

    init(timestampMs: Int64, sampleCount: Int, body: [UInt8], format: BodyFormat) {
        self.timestampMs = timestampMs
        self.sampleCount = sampleCount
        self.body = body
        self.format = format
    }

    init(_ batch: Batch) {
        self.init(timestampMs: batch.timestampMs, sampleCount: batch.sampleCount, body: batch.body, format: batch.format)
    }

    var batch: Batch { Batch(body: body, sampleCount: sampleCount, timestampMs: timestampMs, format: format) }

    /// The `samples` field: the count, and the format in the top two bits.
    private var samplesField: UInt32 { UInt32(sampleCount) & Self.countMask | UInt32(format.rawValue) << 30 }

    /// The header, ready to append; the body follows it as it is.
    var header: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.headerSize)
        bytes.appendLittleEndian(Self.magic)
        bytes.appendLittleEndian(UInt32(body.count))
        bytes.appendLittleEndian(checksum)
        bytes.appendLittleEndian(UInt64(bitPattern: timestampMs))
        bytes.appendLittleEndian(samplesField)
        return bytes
    }

    /// What a record takes on disk.
    var size: Int { Self.headerSize + body.count }

    var checksum: UInt32 {
        var crc = CRC32()
        crc.update(littleEndian: UInt64(bitPattern: timestampMs))
        crc.update(littleEndian: samplesField)
        crc.update(body)
        return crc.value
    }

    /// What a header promises before the body is read.
    struct Header {
        var length: Int
        var checksum: UInt32
        var timestampMs: Int64
        var sampleCount: Int
        var format: BodyFormat

        /// nil unless the bytes start with the magic and a plausible length.
        init?(_ bytes: some Collection<UInt8>) {
            guard bytes.count >= Record.headerSize else { return nil }
            let b = Array(bytes.prefix(Record.headerSize))
            guard b.littleEndian(UInt32.self, at: 0) == Record.magic else { return nil }
            length = Int(b.littleEndian(UInt32.self, at: 4))
            guard length <= Record.maxBodySize else { return nil }
            checksum = b.littleEndian(UInt32.self, at: 8)
            timestampMs = Int64(bitPattern: b.littleEndian(UInt64.self, at: 12))
            let samples = b.littleEndian(UInt32.self, at: 20)
            sampleCount = Int(samples & Record.countMask)
            format = BodyFormat(rawValue: UInt8(samples >> 30))
        }
    }
}
