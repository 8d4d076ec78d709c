import ShipperCollect
import ShipperMetrics

extension SelfMetrics {
    /// What the collector says of itself after a collection: its failures and its loss tracking.
    public func record(_ collector: Collector) {
        self.collector(
            errors: collector.errors, lossTrackingActive: collector.lossTrackingActive,
            lossTrackingTypes: collector.lossTrackingTypes, lossTrackingArmed: collector.lossTrackingArmed)
    }
}
