internal import CRemoteWrite

/// A decoded 1.0 request: what a receiver sees. Reads the bodies releases before frames buffered
/// (LegacyBodies.swift); the tests' receivers decode with it too.
struct DecodedWriteRequest: Sendable, Equatable {
    struct Series: Sendable, Equatable {
        var labels: [(name: String, value: String)]
        var samples: [(value: Double, timestampMs: Int64)]

        static func == (a: Series, b: Series) -> Bool {
            a.labels.elementsEqual(b.labels) { $0 == $1 }
                && a.samples.elementsEqual(b.samples) { $0.value.bitPattern == $1.value.bitPattern && $0.timestampMs == $1.timestampMs }
        }

        /// The value of one label, nil if absent.
        subscript(label: String) -> String? { labels.first { $0.name == label }?.value }
    }

    struct Metadata: Sendable, Equatable {
        var type: Int32
        var family: String
        var help: String
    }

    var series: [Series]
    var metadata: [Metadata]

    /// Decompresses (snappy block format) and unpacks a request body; nil if it is neither.
    init?(body: [UInt8]) {
        var decoded: OpaquePointer?
        let result = body.withUnsafeBufferPointer { crw_decode($0.baseAddress, $0.count, &decoded) }
        guard result == 0, let decoded else { return nil }
        defer { crw_decoded_free(decoded) }
        series = (0..<crw_decoded_series_count(decoded)).map { index in
            Series(
                labels: (0..<crw_decoded_label_count(decoded, index)).map { label in
                    var name: UnsafePointer<CChar>?
                    var value: UnsafePointer<CChar>?
                    crw_decoded_label(decoded, index, label, &name, &value)
                    return (String(cString: name!), String(cString: value!))
                },
                samples: (0..<crw_decoded_sample_count(decoded, index)).map { sample in
                    var value = 0.0
                    var timestamp: Int64 = 0
                    crw_decoded_sample(decoded, index, sample, &value, &timestamp)
                    return (value, timestamp)
                })
        }
        metadata = (0..<crw_decoded_metadata_count(decoded)).map { index in
            var type: Int32 = 0
            var family: UnsafePointer<CChar>?
            var help: UnsafePointer<CChar>?
            crw_decoded_metadata(decoded, index, &type, &family, &help)
            return Metadata(type: type, family: String(cString: family!), help: String(cString: help!))
        }
    }
}

/// A decoded 2.0 request, refs as sent: what a 2.0 receiver sees. Reads the 2.0 bodies releases
/// before frames buffered (LegacyBodies.swift); the tests' receivers decode with it too.
struct DecodedWriteRequestV2: Sendable {
    struct Series: Sendable {
        /// Label name and value refs, in pairs.
        var refs: [UInt32]
        /// `startTimestampMs` is 0 when not sent.
        var samples: [(value: Double, timestampMs: Int64, startTimestampMs: Int64)]
        var hasMetadata: Bool
        var type: Int32
        var helpRef: UInt32
        var unitRef: UInt32

        /// The start timestamp of the series' first sample (the shipper sends one per series); 0 for none.
        var startTimestampMs: Int64 { samples.first?.startTimestampMs ?? 0 }
    }

    var symbols: [String]
    var series: [Series]

    /// Decompresses (snappy block format) and unpacks a request body; nil if it is neither.
    init?(body: [UInt8]) {
        var decoded: OpaquePointer?
        let result = body.withUnsafeBufferPointer { crw_decode_v2($0.baseAddress, $0.count, &decoded) }
        guard result == 0, let decoded else { return nil }
        defer { crw_decoded_v2_free(decoded) }
        symbols = (0..<crw_decoded_v2_symbol_count(decoded)).map { String(cString: crw_decoded_v2_symbol(decoded, $0)) }
        series = (0..<crw_decoded_v2_series_count(decoded)).map { index in
            var raw = crw_series_v2()
            crw_decoded_v2_series(decoded, index, &raw)
            return Series(
                refs: Array(UnsafeBufferPointer(start: raw.refs, count: raw.ref_count)),
                samples: (0..<raw.sample_count).map { sample in
                    var value = 0.0
                    var timestamp: Int64 = 0
                    var start: Int64 = 0
                    crw_decoded_v2_sample(decoded, index, sample, &value, &timestamp, &start)
                    return (value, timestamp, start)
                },
                hasMetadata: raw.has_metadata != 0, type: raw.type, helpRef: raw.help_ref, unitRef: raw.unit_ref)
        }
    }

    /// A symbol by ref; nil if the ref is out of range.
    func symbol(_ ref: UInt32) -> String? { Int(ref) < symbols.count ? symbols[Int(ref)] : nil }

    /// A series' labels, resolved; nil if a ref is out of range or the refs are not in pairs.
    func labels(of series: Series) -> [(name: String, value: String)]? {
        guard series.refs.count % 2 == 0 else { return nil }
        var labels: [(name: String, value: String)] = []
        for pair in stride(from: 0, to: series.refs.count, by: 2) {
            guard let name = symbol(series.refs[pair]), let value = symbol(series.refs[pair + 1]) else { return nil }
            labels.append((name, value))
        }
        return labels
    }
}
