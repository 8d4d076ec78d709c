import Testing

@testable import ShipperMetrics

struct StaleTrackerTests {
    @Test func marksExactlyTheOwnSeriesThatDisappeared() {
        var tracker = StaleTracker()
        let sent = Sample(.samplesSent, LabelSet(["endpoint": "a"]), 10)
        let oldest = Sample(.bufferOldest, LabelSet(["endpoint": "a"]), 1_700_000_000)
        #expect(tracker.markers(after: [sent, oldest]).isEmpty)
        // Unchanged series with new values: nothing.
        #expect(tracker.markers(after: [Sample(.samplesSent, LabelSet(["endpoint": "a"]), 20), oldest]).isEmpty)
        // The buffer emptied: its oldest-sample gauge ends.
        let markers = tracker.markers(after: [sent])
        #expect(markers.count == 1)
        #expect(markers.first?.metric == .bufferOldest)
        #expect(markers.first?.labels == LabelSet(["endpoint": "a"]))
        #expect(markers.first?.value.bitPattern == staleMarker.bitPattern)
        #expect(tracker.markers(after: [sent]).isEmpty)
    }
}
