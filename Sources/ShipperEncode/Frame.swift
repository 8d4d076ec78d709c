import ShipperCollect

/// The buffer's record of one collection (`RecordFormat.frame`): every series of the cycle and its
/// value, in a format of the shipper's own that names no wire protocol. Each endpoint's sender
/// turns frames into remote-write 1.0 or 2.0 requests when it sends them, so the buffer holds one
/// copy of the data whatever the endpoints are sent, and a fallback from 2.0 to 1.0 only swaps the
/// encoder.
///
///     version u8 (1) | timestamp_ms i64 | table_id u64 | series u32
///     | starts u8 | start_ms i64 × starts | table_length u32 | table | value f64 × series
///
/// little-endian. The table is one snappy block; uncompressed, it describes the series, in the
/// order of the values:
///
///     strings u32 | (length varint, UTF-8 bytes) × strings
///     then per series: refs varint | string index varint × refs | kind u8 | help varint | unit varint | start u8
///
/// `refs` are a series' labels as name and value string indexes, in pairs sorted by name,
/// `__name__` and the external labels among them; `kind` is 0 (unknown), 1 (counter) or 2 (gauge);
/// `help` and `unit` are string indexes (0, the empty string, for none); `start` is 0 or the
/// 1-based index in `start_ms` of the counter's start timestamp.
///
/// Every frame is whole on its own: the buffer may drop, skip or hand over any record and the rest
/// stay readable. While the series stay the same, the table is byte for byte the last one and
/// keeps its `table_id`, so a sender that has read it once reads only the values: the steady state
/// costs a copy of the compressed table, never a look at it, and compressing it is paid only when
/// the series change.
package struct Frame {
    static let version: UInt8 = 1
    static let headerSize = 1 + 8 + 8 + 4

    let timestampMs: Int64
    let tableId: UInt64
    let seriesCount: Int
    /// Start timestamps, by the 1-based `start` of a series.
    let starts: [Int64]
    private let body: [UInt8]
    /// Where the table and the values lie in `body`.
    private let tableRange: Range<Int>
    private let valuesStart: Int

    /// Reads the header; nil if the body is not a whole frame of this version.
    package init?(_ body: [UInt8]) {
        var reader = ByteReader(body)
        guard reader.byte() == Self.version, let timestamp = reader.integer(Int64.self),
            let tableId = reader.integer(UInt64.self), let series = reader.integer(UInt32.self),
            let startCount = reader.byte()
        else { return nil }
        var starts: [Int64] = []
        for _ in 0..<startCount {
            guard let start = reader.integer(Int64.self) else { return nil }
            starts.append(start)
        }
        guard let tableLength = reader.integer(UInt32.self), let table = reader.skip(Int(tableLength)),
            reader.remaining == Int(series) * 8
        else { return nil }
        self.body = body
        self.timestampMs = timestamp
        self.tableId = tableId
        self.seriesCount = Int(series)
        self.starts = starts
        self.tableRange = table
        self.valuesStart = reader.offset
    }

    /// Lends the values, series by series: an encoder reads them all in one go.
    func withValues<Result>(_ body: (Values) -> Result) -> Result {
        self.body.withUnsafeBytes { body(Values(bytes: UnsafeRawBufferPointer(rebasing: $0[valuesStart...]))) }
    }

    /// A frame's values, as `withValues` lends them.
    struct Values {
        let bytes: UnsafeRawBufferPointer

        subscript(index: Int) -> Double {
            Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
        }
    }

    /// The start timestamp of a series whose table entry says `start`; 0 for none.
    func startMs(_ start: UInt8) -> Int64 { start == 0 || Int(start) > starts.count ? 0 : starts[Int(start) - 1] }

    /// Larger tables are damage: a million series take about 50 MiB.
    static let maxTableBytes = 1 << 30

    /// The table, decoded; nil if it is not snappy, or does not describe `seriesCount` series
    /// with refs in range.
    func decodeTable() -> FrameTable? { rawTable().flatMap { FrameTable($0[...], seriesCount: seriesCount) } }

    /// The table, uncompressed; nil if it is not snappy.
    func rawTable() -> [UInt8]? { RemoteWriteEncoder.uncompress(body[tableRange], maxLength: Self.maxTableBytes) }
}

/// What a buffered record holds, as the two bits the buffer keeps for it (its `BodyFormat`).
package enum RecordFormat: UInt8 {
    /// A snappy-compressed remote-write 1.0 request: what releases before frames buffered.
    case remoteWriteV1 = 0
    /// A `Frame`.
    case frame = 1
    /// A snappy-compressed remote-write 2.0 request, rc.3's layout: likewise.
    case remoteWriteV2 = 2
}

/// A frame's table, decoded: what a sender's encoder keeps while the table id stays the same.
struct FrameTable {
    enum Kind: UInt8 { case unknown = 0, counter = 1, gauge = 2 }

    let strings: [String]
    /// Every series' label refs, one after another; series `i`'s end at `refEnds[i]`.
    let refs: [UInt32]
    let refEnds: [Int]
    let kinds: [Kind]
    let helps: [UInt32]
    let units: [UInt32]
    let starts: [UInt8]

    var count: Int { refEnds.count }

    /// Series `index`'s label refs.
    func refs(of index: Int) -> ArraySlice<UInt32> { refs[(index == 0 ? 0 : refEnds[index - 1])..<refEnds[index]] }

    /// One series of a table as `read` hands it over, with the table's strings its refs index.
    struct Series {
        var refs: ArraySlice<UInt32>
        var kind: Kind
        var help: UInt32
        var unit: UInt32
        var start: UInt8
    }

    init?(_ bytes: ArraySlice<UInt8>, seriesCount: Int) {
        var refs: [UInt32] = []
        var refEnds: [Int] = []
        var kinds: [Kind] = []
        var helps: [UInt32] = []
        var units: [UInt32] = []
        var starts: [UInt8] = []
        refEnds.reserveCapacity(seriesCount)
        guard let strings = Self.read(bytes, seriesCount: seriesCount, visit: { series, _ in
            refs += series.refs
            refEnds.append(refs.count)
            kinds.append(series.kind)
            helps.append(series.help)
            units.append(series.unit)
            starts.append(series.start)
        }) else { return nil }
        (self.strings, self.refs, self.refEnds, self.kinds, self.helps, self.units, self.starts) =
            (strings, refs, refEnds, kinds, helps, units, starts)
    }

    /// Reads a table series by series, keeping none: an encoder that needs only what it builds
    /// from them never holds the whole table decoded. Returns the strings; nil, after visiting
    /// some series perhaps, if the table does not describe `seriesCount` series with refs in range.
    static func read(_ bytes: ArraySlice<UInt8>, seriesCount: Int, visit: (Series, [String]) -> Void) -> [String]? {
        var reader = ByteReader(bytes)
        // Each string takes at least its length byte: a larger count is damage.
        guard let stringCount = reader.integer(UInt32.self), stringCount >= 1, Int(stringCount) <= bytes.count else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(Int(stringCount))
        for _ in 0..<stringCount {
            guard let length = reader.varint(), let range = reader.skip(Int(clamping: length)) else { return nil }
            strings.append(String(decoding: bytes[bytes.startIndex + range.lowerBound..<bytes.startIndex + range.upperBound], as: UTF8.self))
        }
        var refs: [UInt32] = []
        func ref() -> UInt32? { reader.varint().flatMap { $0 < stringCount ? UInt32($0) : nil } }
        for _ in 0..<seriesCount {
            guard let count = reader.varint(), count % 2 == 0, count <= 512 else { return nil }
            refs.removeAll(keepingCapacity: true)
            for _ in 0..<count {
                guard let ref = ref() else { return nil }
                refs.append(ref)
            }
            guard let kind = reader.byte().flatMap(Kind.init(rawValue:)), let help = ref(), let unit = ref(),
                let start = reader.byte()
            else { return nil }
            visit(Series(refs: refs[...], kind: kind, help: help, unit: unit, start: start), strings)
        }
        guard reader.remaining == 0 else { return nil }
        return strings
    }
}

/// Reads little-endian integers and varints from bytes, checking every bound: frames are read
/// back from disk, where anything the CRC missed must fail a read, not the process.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    /// From the start of `bytes`.
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func byte() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return bytes[bytes.startIndex + offset]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        defer { offset += size }
        return bytes.littleEndian(T.self, at: offset)
    }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let byte = byte() else { return nil }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
        }
        return nil
    }

    /// Skips `count` bytes; returns where they lie, from the start of `bytes`.
    mutating func skip(_ count: Int) -> Range<Int>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return offset..<offset + count
    }
}
