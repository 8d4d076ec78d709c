
/// The remote-write 2.0 messages (io.prometheus.write.v2, proto/remote_v2.proto, spec 2.0-rc.4),
/// written straight to bytes as `RemoteWriteWire` writes 1.0's. A request is its symbols, then
/// its series; a series refers to its label names and values, HELP and unit by their index in
/// the symbols (`SymbolTable`). The tests read every form back with the protoc-c decoder.
enum RemoteWriteV2Wire {
    /// Field tags: field number << 3 | wire type (0 varint, 2 length-delimited).
    private static let symbolTag: UInt8 = 4 << 3 | 2  // Request.symbols
    private static let seriesTag: UInt8 = 5 << 3 | 2  // Request.timeseries
    private static let labelsRefsTag: UInt8 = 1 << 3 | 2  // TimeSeries.labels_refs, packed
    private static let metadataTag: UInt8 = 5 << 3 | 2  // TimeSeries.metadata
    private static let sampleTag: UInt8 = 2 << 3 | 2  // TimeSeries.samples
    private static let sampleValueTag: UInt8 = 1 << 3 | 1  // Sample.value, 64-bit
    private static let sampleTimestampTag: UInt8 = 2 << 3 | 0  // Sample.timestamp
    private static let sampleStartTag: UInt8 = 3 << 3 | 0  // Sample.start_timestamp (rc.4)
    private static let metadataTypeTag: UInt8 = 1 << 3 | 0  // Metadata.type
    private static let metadataHelpTag: UInt8 = 3 << 3 | 0  // Metadata.help_ref
    private static let metadataUnitTag: UInt8 = 4 << 3 | 0  // Metadata.unit_ref

    /// A series' metadata, its strings as symbol refs.
    struct Metadata {
        var type: Int32
        var helpRef: UInt32
        var unitRef: UInt32
    }

    /// Appends one Request.symbols entry.
    static func appendSymbol(_ symbol: String, to sink: inout ByteSink) {
        let count = symbol.utf8.count
        sink.write(1 + varintSize(UInt64(count)) + count) { writer in
            writer.write(symbolTag)
            writer.writeVarint(UInt64(count))
            writer.write(utf8: symbol)
        }
    }

    /// Appends one Request.timeseries entry with one sample. `refs` are the label pairs' refs,
    /// sorted by label name; `startMs` is the sample's start timestamp, 0 for none.
    static func appendSeries(
        refs: some Collection<UInt32>, value: Double, timestamp: RemoteWriteWire.Timestamp, metadata: Metadata,
        startMs: Int64, to sink: inout ByteSink
    ) {
        let labels = labelsAndMetadataSize(refs: refs, metadata: metadata)
        writeSeries(labelBytes: labels, value: value, timestamp: timestamp, startMs: startMs, to: &sink) { writer in
            writeLabelsAndMetadata(refs: refs, metadata: metadata, to: &writer)
        }
    }

    /// Appends a series' labels_refs and metadata fields: what `appendSeries(labels:…)` takes, so
    /// that a series whose refs do not change is encoded once.
    static func appendLabelsAndMetadata(refs: some Collection<UInt32>, metadata: Metadata, to sink: inout ByteSink) {
        sink.write(labelsAndMetadataSize(refs: refs, metadata: metadata)) { writeLabelsAndMetadata(refs: refs, metadata: metadata, to: &$0) }
    }

    /// Appends one Request.timeseries entry with one sample, its labels_refs and metadata fields
    /// as `appendLabelsAndMetadata` wrote them (protobuf takes fields in any order).
    static func appendSeries(
        labels: UnsafeRawBufferPointer, value: Double, timestamp: RemoteWriteWire.Timestamp, startMs: Int64,
        to sink: inout ByteSink
    ) {
        writeSeries(labelBytes: labels.count, value: value, timestamp: timestamp, startMs: startMs, to: &sink) { $0.write(labels) }
    }

    private static func labelsAndMetadataSize(refs: some Collection<UInt32>, metadata: Metadata) -> Int {
        let refBytes = refs.reduce(0) { $0 + varintSize(UInt64($1)) }
        let metadataBytes = metadataSize(metadata)
        return 1 + varintSize(UInt64(refBytes)) + refBytes + 1 + varintSize(UInt64(metadataBytes)) + metadataBytes
    }

    private static func metadataSize(_ metadata: Metadata) -> Int { 2 + fieldSize(metadata.helpRef) + fieldSize(metadata.unitRef) }

    private static func writeLabelsAndMetadata(refs: some Collection<UInt32>, metadata: Metadata, to writer: inout WireWriter) {
        writer.write(labelsRefsTag)
        writer.writeVarint(UInt64(refs.reduce(0) { $0 + varintSize(UInt64($1)) }))
        for ref in refs { writer.writeVarint(UInt64(ref)) }
        writer.write(metadataTag)
        writer.writeVarint(UInt64(metadataSize(metadata)))
        writer.write(metadataTypeTag)
        writer.write(UInt8(metadata.type))
        if metadata.helpRef != 0 { writeField(metadataHelpTag, metadata.helpRef, to: &writer) }
        if metadata.unitRef != 0 { writeField(metadataUnitTag, metadata.unitRef, to: &writer) }
    }

    /// A timeseries entry: `labelBytes` written by `labels`, then its one sample with the start
    /// timestamp in it, where rc.4 puts it (rc.3 had it in TimeSeries field 6, now reserved).
    private static func writeSeries(
        labelBytes: Int, value: Double, timestamp: RemoteWriteWire.Timestamp, startMs: Int64, to sink: inout ByteSink,
        labels: (inout WireWriter) -> Void
    ) {
        let start = UInt64(bitPattern: startMs)
        timestamp.bytes.withUnsafeBytes { stamp in
            // At most 1 + 8 + 1 + 10 + 1 + 10 bytes: the length fits one byte.
            let sample = 1 + 8 + 1 + stamp.count + (start == 0 ? 0 : 1 + varintSize(start))
            let inner = labelBytes + 2 + sample
            sink.write(1 + varintSize(UInt64(inner)) + inner) { writer in
                writer.write(seriesTag)
                writer.writeVarint(UInt64(inner))
                labels(&writer)
                writer.write(sampleTag)
                writer.write(UInt8(sample))
                writer.write(sampleValueTag)
                writer.write(value.bitPattern.littleEndian)
                writer.write(sampleTimestampTag)
                writer.write(stamp)
                if start != 0 {
                    writer.write(sampleStartTag)
                    writer.writeVarint(start)
                }
            }
        }
    }

    /// A varint field of a ref; a zero ref is the field's default, and left out.
    private static func fieldSize(_ ref: UInt32) -> Int { ref == 0 ? 0 : 1 + varintSize(UInt64(ref)) }

    private static func writeField(_ tag: UInt8, _ ref: UInt32, to writer: inout WireWriter) {
        writer.write(tag)
        writer.writeVarint(UInt64(ref))
    }

    private static func varintSize(_ value: UInt64) -> Int { RemoteWriteWire.varintSize(value) }
}
