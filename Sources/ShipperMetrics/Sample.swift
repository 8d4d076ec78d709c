
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
