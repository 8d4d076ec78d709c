import ShipperMetrics

/// The Prometheus text exposition format 0.0.4: HELP and TYPE once per metric, no timestamps.
public enum TextExposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Renders samples grouped by metric, metrics in order of first appearance.
    public static func render(_ samples: [Sample]) -> String {
        var order: [Metric] = []
        var byMetric: [Metric: [Sample]] = [:]
        for sample in samples {
            if byMetric[sample.metric] == nil { order.append(sample.metric) }
            byMetric[sample.metric, default: []].append(sample)
        }
        var text = ""
        for metric in order {
            text += "# HELP \(metric.name) \(escape(metric.help, quotes: false))\n"
            text += "# TYPE \(metric.name) \(metric.kind.rawValue)\n"
            for sample in byMetric[metric] ?? [] {
                text += metric.name
                if sample.labels.pairs.count > 0 {
                    text += "{"
                    text += sample.labels.map { "\($0.name)=\"\(escape($0.value, quotes: true))\"" }.joined(separator: ",")
                    text += "}"
                }
                text += " \(format(sample.value))\n"
            }
        }
        return text
    }

    /// Integers print without a fraction; the rest in Swift's shortest round-tripping form.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    private static func escape(_ text: String, quotes: Bool) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\"" where quotes: escaped += "\\\""
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
