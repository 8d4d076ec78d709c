import ShipperMetrics

/// The request bodies releases before frames buffered (remote-write 1.0 or 2.0, snappy-compressed),
/// sent as they are to an endpoint of their message, or turned into the message it takes: after
/// an upgrade the buffer may hold them until they are delivered. DecodedWriteRequest reads them.
extension RemoteWriteEncoder {
    /// The body of a request whose refs are `symbols`' ids: the symbols first, as the spec's field
    /// order has them, though every ref is known only once the series are written.
    func endV2Body(symbols: StringIds, series: ByteSink) -> [UInt8] {
        symbolSink.removeAll()
        symbols.write(to: &symbolSink)
        compress(symbolSink.written)
        compress(series.written)
        return endBody()
    }
}

extension RemoteWriteEncoder {
    /// A request body a release before frames buffered, `holding` one message, as `message`: as
    /// it was if that is its message, else turned into it. nil if it is not a readable request of
    /// the message it claims.
    package func body(_ body: [UInt8], holding held: RemoteWriteMessage, as message: RemoteWriteMessage) -> [UInt8]? {
        switch (held, message) {
        case (.v1, .v1), (.v2, .v2): isValidBody(body) ? body : nil
        case (.v2, .v1): v1Body(fromV2: body)
        case (.v1, .v2): v2Body(fromV1: body)
        }
    }

    /// The 1.0 request that carries what a 2.0 body does, for an endpoint found to take only 1.0:
    /// the same series and samples (stale markers included), and each metric's type and HELP once,
    /// after them, as `encode` writes metadata. 1.0 has no place for units or start timestamps.
    /// nil if the body is not a 2.0 request (one whose symbols start with "", as the spec
    /// requires: a 1.0 body reads as an empty 2.0 request), or a ref points past its symbols.
    func v1Body(fromV2 body: [UInt8]) -> [UInt8]? {
        guard let request = DecodedWriteRequestV2(body: body), request.symbols.first == "" else { return nil }
        var series = ByteSink()
        var families: [Metric] = []
        var seen: Set<String> = []
        for entry in request.series {
            guard let pairs = request.labels(of: entry) else { return nil }
            var labels = LabelSet()
            for (name, value) in pairs { labels[name] = value }
            for sample in entry.samples {
                RemoteWriteWire.appendSeries(
                    labels, value: sample.value, timestamp: RemoteWriteWire.Timestamp(milliseconds: sample.timestampMs),
                    to: &series)
            }
            guard entry.hasMetadata, let kind = Metric.Kind(metadataType: entry.type), let name = labels["__name__"],
                seen.insert(name).inserted
            else { continue }
            families.append(Metric(name: name, help: request.symbol(entry.helpRef) ?? "", kind: kind))
        }
        for metric in families { RemoteWriteWire.appendMetadata(metric, to: &series) }
        compress(series.written)
        return endBody()
    }
}

extension Metric.Kind {
    /// The kind of a MetricType number; nil for types the shipper never sends.
    init?(metadataType: Int32) {
        switch metadataType {
        case Metric.Kind.counter.metadataType: self = .counter
        case Metric.Kind.gauge.metadataType: self = .gauge
        default: return nil
        }
    }
}

extension RemoteWriteEncoder {
    /// The 2.0 request that carries what a 1.0 body does, for a 2.0 endpoint given batches
    /// encoded as 1.0 (buffered before its config said 2.0): the same series and samples, each
    /// with the type, HELP and unit of the shipper's metric of its name. nil if the body is not a
    /// 1.0 request.
    func v2Body(fromV1 body: [UInt8]) -> [UInt8]? {
        guard let request = DecodedWriteRequest(body: body) else { return nil }
        var symbols = StringIds()
        var series = ByteSink()
        var refs: [UInt32] = []
        for entry in request.series {
            refs.removeAll(keepingCapacity: true)
            for (name, value) in entry.labels {
                refs.append(symbols.id(name))
                refs.append(symbols.id(value))
            }
            let metric = entry["__name__"].flatMap { Metric.named[$0] }
            let metadata = RemoteWriteV2Wire.Metadata(
                type: metric?.kind.metadataType ?? 0, helpRef: symbols.id(metric?.help ?? ""),
                unitRef: symbols.id(metric?.unit ?? ""))
            for sample in entry.samples {
                RemoteWriteV2Wire.appendSeries(
                    refs: refs, value: sample.value, timestamp: RemoteWriteWire.Timestamp(milliseconds: sample.timestampMs),
                    metadata: metadata, startMs: 0, to: &series)
            }
        }
        return endV2Body(symbols: symbols, series: series)
    }
}
