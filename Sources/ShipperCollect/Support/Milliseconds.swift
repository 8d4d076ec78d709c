import Foundation

// The one conversion of each kind to the milliseconds that timestamps, intervals and bounds are
// counted in, here in the first stage that needs them.

extension Date {
    /// Milliseconds since the Unix epoch, rounded down: a sample's timestamp.
    package var milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    package var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    /// Seconds, with their fraction: a rate's denominator, a sleep.
    package var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
