
/// One value of one series at collection time.
public struct Sample: Sendable, Equatable {
    public var metric: Metric
    /// Without `__name__`; the metric supplies the name.
    public var labels: LabelSet
    public var value: Double

    public init(_ metric: Metric, _ labels: LabelSet, _ value: Double) {
        self.metric = metric
        self.labels = labels
        self.value = value
    }
}

extension Sample {
    /// The labels of the series it is a value of: its own, with `__name__` and the external
    /// labels merged in (its own label wins over an external one of the same name), sorted.
    package func seriesLabels(merging externalLabels: LabelSet) -> LabelSet {
        var merged = externalLabels
        for (name, value) in labels { merged[name] = value }
        merged["__name__"] = metric.name
        return merged
    }
}
