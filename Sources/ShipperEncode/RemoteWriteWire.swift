import ShipperMetrics

/// The remote-write 1.0 protobuf messages (proto/remote.proto), written straight to bytes.
///
/// Written by hand rather than packed by protobuf-c so that a map's label entries can be built
/// once and written into every cycle's series as they are (`MapSeriesCache`). protobuf
/// concatenates repeated fields, so a request body is simply series after series, then metadata.
/// The tests read every form back with the protoc-c decoder.
enum RemoteWriteWire {
    /// Field tags: field number << 3 | wire type (0 varint, 1 64-bit, 2 length-delimited).
    private static let seriesTag: UInt8 = 1 << 3 | 2  // WriteRequest.timeseries
    private static let metadataTag: UInt8 = 3 << 3 | 2  // WriteRequest.metadata
    private static let labelTag: UInt8 = 1 << 3 | 2  // TimeSeries.labels
    private static let sampleTag: UInt8 = 2 << 3 | 2  // TimeSeries.samples
    private static let labelNameTag: UInt8 = 1 << 3 | 2  // Label.name
    private static let labelValueTag: UInt8 = 2 << 3 | 2  // Label.value
    private static let sampleValueTag: UInt8 = 1 << 3 | 1  // Sample.value
    private static let sampleTimestampTag: UInt8 = 2 << 3 | 0  // Sample.timestamp
    private static let metadataTypeTag: UInt8 = 1 << 3 | 0  // MetricMetadata.type
    private static let metadataNameTag: UInt8 = 2 << 3 | 2  // MetricMetadata.metric_family_name
    private static let metadataHelpTag: UInt8 = 4 << 3 | 2  // MetricMetadata.help

    /// A timestamp in milliseconds as the varint that ends every encoded series.
    struct Timestamp: Equatable {
        let milliseconds: Int64
        let bytes: [UInt8]

        init(milliseconds: Int64) {
            self.milliseconds = milliseconds
            let value = UInt64(bitPattern: milliseconds)
            var sink = ByteSink()
            sink.write(varintSize(value)) { $0.writeVarint(value) }
            bytes = Array(sink.written)
        }
    }

    /// Appends one WriteRequest.timeseries entry: `labels` (sorted, `__name__` included) and one sample.
    static func appendSeries(_ labels: LabelSet, value: Double, timestamp: Timestamp, to sink: inout ByteSink) {
        let labelBytes = labels.pairs.reduce(0) { $0 + labelSize($1.name, $1.value) }
        timestamp.bytes.withUnsafeBytes { stamp in
            sink.write(seriesSize(labelBytes: labelBytes, timestamp: stamp.count)) { writer in
                writeSeriesStart(labelBytes: labelBytes, timestamp: stamp.count, to: &writer)
                for (name, value) in labels.pairs { writeLabel(name, value, to: &writer) }
                writeSample(value, stamp, to: &writer)
            }
        }
    }

    /// Appends one TimeSeries.labels entry.
    static func appendLabel(_ name: String, _ value: String, to sink: inout ByteSink) {
        sink.write(labelSize(name, value)) { writeLabel(name, value, to: &$0) }
    }

    /// The bytes of a timeseries entry with `labelBytes` of label entries and one sample whose
    /// timestamp varint is `timestamp` bytes long.
    static func seriesSize(labelBytes: Int, timestamp: Int) -> Int {
        let inner = labelBytes + sampleFieldSize(timestamp: timestamp)
        return 1 + varintSize(UInt64(inner)) + inner
    }

    /// The tag and length of a timeseries entry; its label entries and `writeSample` follow.
    static func writeSeriesStart(labelBytes: Int, timestamp: Int, to writer: inout WireWriter) {
        writer.write(seriesTag)
        writer.writeVarint(UInt64(labelBytes + sampleFieldSize(timestamp: timestamp)))
    }

    /// TimeSeries.samples with one sample; `timestamp` is `Timestamp.bytes`.
    static func writeSample(_ value: Double, _ timestamp: UnsafeRawBufferPointer, to writer: inout WireWriter) {
        writer.write(sampleTag)
        writer.write(UInt8(1 + 8 + 1 + timestamp.count))
        writer.write(sampleValueTag)
        writer.write(value.bitPattern.littleEndian)
        writer.write(sampleTimestampTag)
        writer.write(timestamp)
    }

    /// Tag, length (one byte: at most 1 + 8 + 1 + 10) and Sample.
    static func sampleFieldSize(timestamp: Int) -> Int { 2 + 1 + 8 + 1 + timestamp }

    /// Appends one WriteRequest.metadata entry: the metric's type and HELP.
    static func appendMetadata(_ metric: Metric, to sink: inout ByteSink) {
        let size = 2 + stringFieldSize(metric.name) + stringFieldSize(metric.help)
        sink.write(1 + varintSize(UInt64(size)) + size) { writer in
            writer.write(metadataTag)
            writer.writeVarint(UInt64(size))
            writer.write(metadataTypeTag)
            writer.write(UInt8(metric.kind.metadataType))
            writeString(metadataNameTag, metric.name, to: &writer)
            writeString(metadataHelpTag, metric.help, to: &writer)
        }
    }

    private static func labelSize(_ name: String, _ value: String) -> Int {
        let size = stringFieldSize(name) + stringFieldSize(value)
        return 1 + varintSize(UInt64(size)) + size
    }

    private static func writeLabel(_ name: String, _ value: String, to writer: inout WireWriter) {
        writer.write(labelTag)
        writer.writeVarint(UInt64(stringFieldSize(name) + stringFieldSize(value)))
        writeString(labelNameTag, name, to: &writer)
        writeString(labelValueTag, value, to: &writer)
    }

    private static func stringFieldSize(_ text: String) -> Int {
        let count = text.utf8.count
        return 1 + varintSize(UInt64(count)) + count
    }

    private static func writeString(_ tag: UInt8, _ text: String, to writer: inout WireWriter) {
        writer.write(tag)
        writer.writeVarint(UInt64(text.utf8.count))
        writer.write(utf8: text)
    }

    static func varintSize(_ value: UInt64) -> Int {
        max(1, (64 - value.leadingZeroBitCount + 6) / 7)
    }
}

extension Metric.Kind {
    /// The MetricMetadata.MetricType number.
    var metadataType: Int32 {
        switch self {
        case .counter: 1
        case .gauge: 2
        }
    }
}
